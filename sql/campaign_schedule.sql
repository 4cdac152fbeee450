-- The schedule: pg_cron lines that land the 05:30 refresh and the 06:00
-- feeder (Pacific) across both DST changes whether pg_cron runs in UTC
-- (1.4, Debian) or in cron.timezone (1.5+); ec.run_scheduled() launches the
-- job worker only when a job is due and not done; the worker runs the jobs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET ec.test_now = '2026-01-01 00:00 America/Los_Angeles';

-- the lines for a scheduler in UTC (pg_cron 1.4) and in Pacific time (cron.timezone)
SELECT j AS job, z AS scheduler_zone, ec.cron_schedules(j, z) AS cron
FROM (VALUES ('refresh'), ('feeder')) a(j), (VALUES ('UTC'), ('America/Los_Angeles'), ('Europe/Berlin')) b(z)
ORDER BY 1 DESC, 2;

-- Simulate a year of firings of those lines, each interpreted in its
-- scheduler's zone: the firing that finds a job due (and not yet run that
-- local date) is exactly the schedule ec.job_schedule() lists, every day of
-- 2026, for every scheduler zone.
CREATE FUNCTION pg_temp.cron_firings(job text, zone text) RETURNS TABLE (at timestamptz) LANGUAGE sql AS $$
	SELECT (d::date + make_time(h::integer, split_part(line, ' ', 1)::integer, 0)) AT TIME ZONE zone
	FROM ec.cron_schedules(job, zone) line,
		 unnest(string_to_array(split_part(line, ' ', 2), ',')) h,
		 generate_series(date '2026-01-01', date '2026-12-31', interval '1 day') d
$$;
WITH runs AS (
	SELECT j.job, z.zone, ec.job_due_date(j.job, f.at) AS local_date, min(f.at) AS ran_at
	FROM (VALUES ('refresh'), ('feeder')) j(job), (VALUES ('UTC'), ('America/Los_Angeles'), ('Europe/Berlin')) z(zone),
		 LATERAL pg_temp.cron_firings(j.job, z.zone) f
	GROUP BY 1, 2, 3 HAVING ec.job_due_date(j.job, min(f.at)) IS NOT NULL),
expected AS (
	SELECT j.job, t AS due FROM (VALUES ('refresh'), ('feeder')) j(job),
		 LATERAL ec.job_schedule(j.job, '2026-01-01 00:00 America/Los_Angeles', 400) t
	WHERE t < '2027-01-01 00:00 America/Los_Angeles')
SELECT e.job, z.zone, count(*) AS scheduled_runs, count(r.ran_at) AS cron_runs,
	   count(*) FILTER (WHERE r.ran_at = e.due) AS on_time,
	   count(*) FILTER (WHERE (e.due AT TIME ZONE 'America/Los_Angeles')::time NOT IN ('05:30', '06:00')) AS off_local_time
FROM expected e CROSS JOIN (VALUES ('UTC'), ('America/Los_Angeles'), ('Europe/Berlin')) z(zone)
LEFT JOIN runs r ON r.job = e.job AND r.zone = z.zone AND r.local_date = (e.due AT TIME ZONE 'America/Los_Angeles')::date
GROUP BY 1, 2 ORDER BY 1 DESC, 2;
-- the two days the UTC line changes: both DST Sundays (refresh) and the Mondays after (feeder)
SELECT job, t AS utc, (t AT TIME ZONE 'America/Los_Angeles') AS pacific
FROM (VALUES ('refresh'), ('feeder')) j(job),
	 LATERAL ec.job_schedule(j.job, '2026-03-07 00:00+00', 2) t
UNION ALL
SELECT job, t, (t AT TIME ZONE 'America/Los_Angeles')
FROM (VALUES ('refresh'), ('feeder')) j(job),
	 LATERAL ec.job_schedule(j.job, '2026-10-31 00:00+00', 2) t
ORDER BY 2;

-- install and remove the pg_cron schedule (this database is cron.database_name).
-- pg_cron may run the @reboot catch-up line as soon as it is installed, in a
-- session of its own: a clock before Monday's slots there makes it find
-- nothing due, whatever the real time
ALTER DATABASE contrib_regression SET ec.test_now = '2026-03-09 05:00 America/Los_Angeles';
SELECT ec.schedule_jobs();
SELECT ec.schedule_jobs();		-- again: replaced, not doubled
SELECT jobname, schedule, command, database = current_database() AS here, active FROM cron.job
WHERE jobname LIKE 'equity_connect:%' ORDER BY jobname;
-- the hourly purge's command runs as written
DO $$ BEGIN EXECUTE (SELECT command FROM cron.job WHERE jobname = 'equity_connect:purge'); END $$;
SELECT ec.unschedule_jobs();
SELECT count(*) FROM cron.job WHERE jobname LIKE 'equity_connect:%';

-- the trigger: nothing is launched before a slot, a due job is launched once
ALTER DATABASE contrib_regression SET ec.instantly_base_url = 'http://127.0.0.1:9/instantly';
SELECT ec.add_key('consent', 'schedule-test', decode(repeat('7c', 32), 'hex'));
INSERT INTO ec.brokers (id, name, daily_lead_cap, instantly_campaign_id) VALUES (871, 'Schedule Broker', 2, 'camp-871');
INSERT INTO ec.leads (id, email, email_verified, campaign_status, assigned_broker_id, owner_age)
SELECT 87000 + i, 's' || i || '@example.com', true, 'queued', 871, 62 + i FROM generate_series(1, 5) i;
SET ec.test_now = '2026-03-09 05:29 America/Los_Angeles';		-- Monday before the refresh
SELECT ec.run_scheduled() - 'at' AS run;
SET ec.test_now = '2026-03-09 09:00 America/Los_Angeles';		-- the server came back at 09:00: both are caught up
SELECT r ->> 'status' AS status, r ->> 'reason' AS reason, r ->> 'jobs' AS jobs, r ->> 'local_date' AS local_date,
	   (r ->> 'pid')::integer > 0 AS has_pid
FROM ec.run_scheduled() r;
-- wait for the worker (at most 60 s)
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN EXISTS (SELECT FROM ec.job_runs WHERE job = 'feeder' AND local_date = '2026-03-09' AND broker_id IS NULL);
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT job, local_date, broker_id, ok, detail - 'runs' AS detail FROM ec.job_runs ORDER BY job DESC, broker_id NULLS LAST;
SELECT id, campaign_status FROM ec.leads WHERE id BETWEEN 87001 AND 87005 ORDER BY id;
SELECT count(*) AS requests FROM ec.http_requests WHERE idempotency_key = 'feeder-871-2026-03-09-0';
-- done today: nothing more to launch
SELECT ec.run_scheduled() - 'at' AS run;
SELECT ec.run_scheduled('feeder') - 'at' AS run;
-- Tuesday 04:00: Monday's runs are not repeated, Tuesday's are not due yet
SET ec.test_now = '2026-03-10 04:00 America/Los_Angeles';
SELECT ec.run_scheduled() - 'at' AS run;
-- Saturday 07:00: only the refresh runs on weekends
SET ec.test_now = '2026-03-14 07:00 America/Los_Angeles';
SELECT r ->> 'jobs' AS jobs, r ->> 'local_date' AS local_date FROM ec.run_scheduled() r;
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN EXISTS (SELECT FROM ec.job_runs WHERE job = 'refresh' AND local_date = '2026-03-14');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT job, local_date, ok FROM ec.job_runs WHERE local_date = '2026-03-14';

-- misuse
\set VERBOSITY terse
SELECT ec.run_scheduled('vacuum');
SELECT ec.launch_jobs('{}', '2026-03-09');
SELECT ec.launch_jobs('{cleanup}', '2026-03-09');
DROP EXTENSION pg_cron;
SELECT ec.schedule_jobs();
SELECT ec.unschedule_jobs();
\set VERBOSITY default

-- leave the shared database as found
ALTER DATABASE contrib_regression RESET ec.instantly_base_url;
ALTER DATABASE contrib_regression RESET ec.test_now;
DELETE FROM ec.http_requests WHERE idempotency_key LIKE 'feeder-871-%';
DELETE FROM ec.campaign_leads;
DELETE FROM ec.consent_tokens;
DELETE FROM ec.leads WHERE id BETWEEN 87000 AND 87999;
DELETE FROM ec.brokers WHERE id = 871;
DELETE FROM ec.keys WHERE key_id = 'schedule-test';
SELECT ec.refresh_contactable_leads() ->> 'status' AS refreshed;
DELETE FROM ec.job_runs;
DELETE FROM ec.pipeline_events;
RESET ec.test_now;
