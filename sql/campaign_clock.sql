-- The job clock: 05:30 refresh (daily) and 06:00 feeder (Monday to Friday)
-- in America/Los_Angeles, across the March and November daylight-saving
-- changes and a weekend; a settable "now" (ec.test_now) drives it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

SELECT * FROM ec.job_settings('refresh');
SELECT * FROM ec.job_settings('feeder');

-- Spring forward (Sunday 2026-03-08): 13:30 UTC before, 12:30 UTC after.
SELECT t AS utc, t AT TIME ZONE 'America/Los_Angeles' AS pacific,
	   to_char(t AT TIME ZONE 'America/Los_Angeles', 'Dy') AS day
FROM ec.job_schedule('refresh', '2026-03-06 00:00+00', 5) t;
-- Fall back (Sunday 2026-11-01) over a weekend: no feeder on Saturday or Sunday.
SELECT t AS utc, t AT TIME ZONE 'America/Los_Angeles' AS pacific,
	   to_char(t AT TIME ZONE 'America/Los_Angeles', 'Dy') AS day
FROM ec.job_schedule('feeder', '2026-10-29 00:00+00', 5) t;
-- "after" is exclusive: asking at the very instant gives the next one
SELECT ec.job_schedule('feeder', '2026-11-02 14:00+00', 1);

-- Drive the clock minute by minute from Friday 2026-03-06 to Tuesday
-- 2026-03-10 (spring forward on Sunday): a job runs at the first minute it is
-- due for a local date. Every run lands at 05:30 / 06:00 Pacific.
WITH ticks AS (
	SELECT t FROM generate_series(timestamptz '2026-03-06 00:00 America/Los_Angeles',
								  timestamptz '2026-03-10 23:59 America/Los_Angeles', interval '1 minute') t),
runs AS (
	SELECT j.job, ec.job_due_date(j.job, t) AS local_date, min(t) AS ran_at
	FROM ticks, (VALUES ('refresh'), ('feeder')) j(job)
	GROUP BY 1, 2)
SELECT job, local_date, to_char(local_date, 'Dy') AS day, ran_at AS utc,
	   (ran_at AT TIME ZONE 'America/Los_Angeles')::time AS pacific
FROM runs WHERE local_date IS NOT NULL ORDER BY ran_at, job;

-- The same across fall back (Sunday 2026-11-01), Friday to Tuesday.
WITH ticks AS (
	SELECT t FROM generate_series(timestamptz '2026-10-30 00:00 America/Los_Angeles',
								  timestamptz '2026-11-03 23:59 America/Los_Angeles', interval '1 minute') t),
runs AS (
	SELECT j.job, ec.job_due_date(j.job, t) AS local_date, min(t) AS ran_at
	FROM ticks, (VALUES ('refresh'), ('feeder')) j(job)
	GROUP BY 1, 2)
SELECT job, local_date, to_char(local_date, 'Dy') AS day, ran_at AS utc,
	   (ran_at AT TIME ZONE 'America/Los_Angeles')::time AS pacific
FROM runs WHERE local_date IS NOT NULL ORDER BY ran_at, job;

-- The settable now: ec.now(), ec.local_date() and the due date follow it.
SET ec.test_now = '2026-03-09 12:29:59+00';		-- Monday 05:29:59 PDT
SELECT ec.now(), ec.local_date(), ec.job_due_date('refresh') AS refresh_due, ec.job_due_date('feeder') AS feeder_due;
SET ec.test_now = '2026-03-09 12:30:00+00';		-- 05:30 PDT: the refresh is due
SELECT ec.job_due_date('refresh') AS refresh_due, ec.job_due_date('feeder') AS feeder_due;
-- Catch-up: the server comes back at 09:00 the same day: both are still due.
SET ec.test_now = '2026-03-09 09:00 America/Los_Angeles';
SELECT ec.job_due_date('refresh') AS refresh_due, ec.job_due_date('feeder') AS feeder_due;
-- ... but never the next day: Tuesday 04:00 nothing is due (Monday's is not caught up).
SET ec.test_now = '2026-03-10 04:00 America/Los_Angeles';
SELECT ec.job_due_date('refresh') AS refresh_due, ec.job_due_date('feeder') AS feeder_due;
-- late on a Saturday: the refresh runs on weekends, the feeder does not
SET ec.test_now = '2026-03-07 23:59 America/Los_Angeles';
SELECT ec.local_date(), ec.job_due_date('refresh') AS refresh_due, ec.job_due_date('feeder') AS feeder_due;
RESET ec.test_now;
SELECT ec.now() = now() AS real_clock;

-- The times, days and zone are settings.
SET ec.feeder_time = '07:15';
SET ec.feeder_days = 'fri-mon';
SET ec.timezone = 'America/New_York';
SELECT * FROM ec.job_settings('feeder');
SELECT t AS utc, t AT TIME ZONE 'America/New_York' AS eastern, to_char(t AT TIME ZONE 'America/New_York', 'Dy') AS day
FROM ec.job_schedule('feeder', '2026-03-05 00:00+00', 4) t;
-- a local time that does not exist that day (02:30 on spring-forward Sunday) runs an hour later
SET ec.refresh_time = '02:30';
SELECT t AS utc, t AT TIME ZONE 'America/New_York' AS eastern
FROM ec.job_schedule('refresh', '2026-03-07 12:00+00', 2) t;
RESET ec.feeder_time;
RESET ec.feeder_days;
RESET ec.timezone;
RESET ec.refresh_time;

-- Misuse is refused.
\set VERBOSITY terse
SELECT ec.job_schedule('vacuum', now(), 1);
SELECT ec.job_schedule('feeder', now(), -1);
SELECT ec.job_schedule('feeder', now(), 10001);
SELECT count(*) FROM ec.job_schedule('feeder', now(), 0);
SELECT count(*) FROM ec.job_schedule('feeder', NULL, 3);
SET ec.feeder_time = '6am';
SET ec.feeder_time = '24:00';
SET ec.feeder_days = 'someday';
SET ec.feeder_days = 'mon-';
SET ec.feeder_days = '';
SET ec.test_now = 'not a time';
SELECT ec.now();
