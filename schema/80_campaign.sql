-- Campaign layer (issue 8): the lead score, the local-time clock of the daily
-- jobs, the contactable-leads refresh, the feeder, and their pg_cron schedule.
-- docs/campaign.md explains the design.

------------------------------------------------------------------------------
-- Lead score (src/core/leadscore.h documents the formula)
------------------------------------------------------------------------------

-- Weights of the score, as data: the row with broker_id NULL is the default,
-- a row per broker overrides it for that broker's leads. After a change,
-- ec.rescore_leads() recomputes the stored scores.
CREATE TABLE ec.lead_score_weights (
	broker_id bigint REFERENCES ec.brokers (id) ON DELETE CASCADE,
	age numeric NOT NULL DEFAULT 25 CHECK (age BETWEEN 0 AND 1000),
	occupancy numeric NOT NULL DEFAULT 15 CHECK (occupancy BETWEEN 0 AND 1000),
	equity_share numeric NOT NULL DEFAULT 25 CHECK (equity_share BETWEEN 0 AND 1000),
	equity_amount numeric NOT NULL DEFAULT 15 CHECK (equity_amount BETWEEN 0 AND 1000),
	years_owned numeric NOT NULL DEFAULT 10 CHECK (years_owned BETWEEN 0 AND 1000),
	email_verified numeric NOT NULL DEFAULT 5 CHECK (email_verified BETWEEN 0 AND 1000),
	phone_verified numeric NOT NULL DEFAULT 5 CHECK (phone_verified BETWEEN 0 AND 1000),
	equity_amount_full numeric NOT NULL DEFAULT 400000 CHECK (equity_amount_full > 0 AND equity_amount_full < 1e12),
	min_age integer NOT NULL DEFAULT 62 CHECK (min_age BETWEEN 18 AND 120),
	require_hecm_eligible boolean NOT NULL DEFAULT true,
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT lead_score_weights_some CHECK
		(age + occupancy + equity_share + equity_amount + years_owned + email_verified + phone_verified > 0)
);
COMMENT ON TABLE ec.lead_score_weights IS
	'Weights of the HECM lead score: broker_id NULL is the default, a broker''s own row overrides it for its leads';
CREATE UNIQUE INDEX lead_score_weights_scope ON ec.lead_score_weights (broker_id) NULLS NOT DISTINCT;
INSERT INTO ec.lead_score_weights (broker_id) VALUES (NULL);

CREATE TRIGGER lead_score_weights_touch BEFORE UPDATE ON ec.lead_score_weights
	FOR EACH ROW EXECUTE FUNCTION ec.touch_updated_at();

CREATE FUNCTION ec.lead_score_weights_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'ec_lead_score_weights_changed';
COMMENT ON FUNCTION ec.lead_score_weights_changed() IS
	'Trigger: every backend reloads the score weights after they change';
CREATE TRIGGER lead_score_weights_reload AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ec.lead_score_weights
	FOR EACH STATEMENT EXECUTE FUNCTION ec.lead_score_weights_changed();

CREATE FUNCTION ec.lead_score(lead ec.leads) RETURNS numeric
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ec_lead_score';
COMMENT ON FUNCTION ec.lead_score(ec.leads) IS
	'HECM lead score (0-100) of a lead row with the weights of its broker';

CREATE FUNCTION ec.lead_score_detail(lead ec.leads) RETURNS jsonb
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ec_lead_score_detail';
COMMENT ON FUNCTION ec.lead_score_detail(ec.leads) IS
	'The score of a lead with each factor (0-1) and the weights applied: why a lead ranks where it does';

CREATE FUNCTION ec.lead_score_of(owner_age integer, owner_occupied boolean, estimated_value numeric,
								 estimated_equity numeric, years_owned integer, email_verified boolean,
								 phone_verified boolean, broker_id bigint DEFAULT NULL) RETURNS numeric
LANGUAGE C STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ec_lead_score_of';
COMMENT ON FUNCTION ec.lead_score_of(integer, boolean, numeric, numeric, integer, boolean, boolean, bigint) IS
	'HECM lead score (0-100) of values not yet stored (NULL = unknown), with the weights of broker_id';

-- The score is kept current by the table itself: any INSERT, and any UPDATE
-- of an input, recomputes it (upsert_lead, a broker editing owner_age, a
-- verification result). Cost: one C call per row, weights cached.
CREATE FUNCTION ec.leads_set_score() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'ec_leads_set_score';
COMMENT ON FUNCTION ec.leads_set_score() IS 'Trigger: sets ec.leads.lead_score from the row (ec.lead_score)';
CREATE TRIGGER leads_score BEFORE INSERT OR UPDATE OF owner_age, owner_occupied, estimated_value, estimated_equity,
		years_owned, email_verified, phone_verified, assigned_broker_id ON ec.leads
	FOR EACH ROW EXECUTE FUNCTION ec.leads_set_score();

CREATE FUNCTION ec.rescore_leads(broker_id bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	UPDATE ec.leads l SET lead_score = ec.lead_score(l)
	WHERE (rescore_leads.broker_id IS NULL OR l.assigned_broker_id = rescore_leads.broker_id)
	  AND l.lead_score IS DISTINCT FROM ec.lead_score(l);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ec.rescore_leads(bigint) IS
	'Recomputes stored lead scores (all leads, or one broker''s) after the weights changed; returns how many changed';

------------------------------------------------------------------------------
-- The job clock: local wall-clock times in ec.timezone, DST-correct
------------------------------------------------------------------------------

CREATE FUNCTION ec.job_settings(job text, OUT local_time time, OUT weekdays integer[], OUT timezone text)
RETURNS record
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_job_settings';
COMMENT ON FUNCTION ec.job_settings(text) IS
	'Local time, ISO weekdays (1 = Monday) and time zone of a job (refresh, feeder), from the ec.* settings';

-- "Now" of the job clock: ec.test_now when set (tests drive the clock), else now().
CREATE FUNCTION ec.now() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT COALESCE(NULLIF(pg_catalog.current_setting('ec.test_now', true), '')::pg_catalog.timestamptz,
					pg_catalog.now())
$$;
COMMENT ON FUNCTION ec.now() IS 'Now for the job clock: ec.test_now if set, else now()';

-- The business-local date of an instant (default: now).
CREATE FUNCTION ec.local_date(at timestamptz DEFAULT NULL) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT (COALESCE(at, ec.now()) AT TIME ZONE pg_catalog.current_setting('ec.timezone'))::pg_catalog.date
$$;
COMMENT ON FUNCTION ec.local_date(timestamptz) IS 'Date in ec.timezone of an instant (default ec.now())';

-- The instant of a job's slot on a local date (PostgreSQL resolves daylight
-- saving: a local time that does not exist that day runs an hour later).
CREATE FUNCTION ec.job_instant(job text, local_date date) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
	SELECT (local_date OPERATOR(pg_catalog.+) s.local_time) AT TIME ZONE s.timezone
	FROM ec.job_settings(job) s
$$;
COMMENT ON FUNCTION ec.job_instant(text, date) IS 'When a job''s slot of a local date falls (whether or not it runs that weekday)';

CREATE FUNCTION ec.job_schedule(job text, after timestamptz, n integer) RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
	d date;
	t timestamptz;
	k integer := 0;
BEGIN
	IF n < 0 OR n > 10000 THEN
		RAISE EXCEPTION 'n must be between 0 and 10000, not %', n
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	s := ec.job_settings(job);
	d := (after AT TIME ZONE s.timezone)::date - 1;
	WHILE k < n LOOP
		IF extract(isodow FROM d)::integer = ANY (s.weekdays) THEN
			t := (d + s.local_time) AT TIME ZONE s.timezone;
			IF t > after THEN
				RETURN NEXT t;
				k := k + 1;
			END IF;
		END IF;
		d := d + 1;
	END LOOP;
END
$$;
COMMENT ON FUNCTION ec.job_schedule(text, timestamptz, integer) IS
	'The next n instants after "after" at which a job (refresh, feeder) is due, from ec.timezone and the job settings';

-- The local date whose run of a job is due at an instant: today's slot has
-- passed and today is one of the job's weekdays. A run missed earlier today
-- (server down) is still due; one of an earlier day never is.
CREATE FUNCTION ec.job_due_date(job text, at timestamptz DEFAULT NULL) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT d.local_date
	FROM ec.job_settings(job) s,
		 LATERAL (SELECT (COALESCE(at, ec.now()) AT TIME ZONE s.timezone)::date AS local_date) d
	WHERE extract(isodow FROM d.local_date)::integer = ANY (s.weekdays)
	  AND COALESCE(at, ec.now()) >= (d.local_date + s.local_time) AT TIME ZONE s.timezone
$$;
COMMENT ON FUNCTION ec.job_due_date(text, timestamptz) IS
	'Local date whose run of a job is due at an instant (same-day catch-up only), or NULL';

-- A broker reads the default weights and its own, and tunes its own row.
CREATE POLICY broker_read ON ec.lead_score_weights FOR SELECT TO PUBLIC
	USING (broker_id IS NULL OR broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_tune ON ec.lead_score_weights FOR INSERT TO PUBLIC
	WITH CHECK (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_tune_update ON ec.lead_score_weights FOR UPDATE TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()))
	WITH CHECK (broker_id = (SELECT ec.current_broker_id()));
DO $grants$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ('ec_broker', 'authenticated') LOOP
		EXECUTE pg_catalog.format('GRANT SELECT ON ec.lead_score_weights TO %I', r);
		EXECUTE pg_catalog.format($g$GRANT INSERT (broker_id, age, occupancy, equity_share, equity_amount, years_owned,
			email_verified, phone_verified, equity_amount_full, min_age, require_hecm_eligible),
			UPDATE (age, occupancy, equity_share, equity_amount, years_owned, email_verified, phone_verified,
			equity_amount_full, min_age, require_hecm_eligible) ON ec.lead_score_weights TO %I$g$, r);
	END LOOP;
END
$grants$;

------------------------------------------------------------------------------
-- Job runs: ec.job_runs (one ok row per job, local date and broker; failures
-- kept as they come) and pipeline_events (mv_refresh, campaign_feeder)
------------------------------------------------------------------------------

CREATE FUNCTION ec.record_job_run(job text, local_date date, broker_id bigint, started_at timestamptz,
								  ok boolean, error text DEFAULT NULL, detail jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	finished timestamptz := clock_timestamp();
	ms numeric := round((extract(epoch FROM finished - record_job_run.started_at) * 1000)::numeric, 3);
	run_id bigint;
BEGIN
	IF record_job_run.ok THEN
		-- a second successful run of the same day (by hand) updates the day's row
		INSERT INTO ec.job_runs AS r (job, local_date, broker_id, started_at, finished_at, ok, duration_ms, detail)
		VALUES (record_job_run.job, record_job_run.local_date, record_job_run.broker_id, record_job_run.started_at,
				finished, true, ms, record_job_run.detail || jsonb_build_object('runs', 1))
		ON CONFLICT (job, local_date, broker_id) WHERE ok DO UPDATE
			SET started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
				duration_ms = EXCLUDED.duration_ms,
				detail = EXCLUDED.detail || jsonb_build_object('runs', COALESCE((r.detail ->> 'runs')::integer, 1) + 1)
		RETURNING id INTO run_id;
	ELSE
		INSERT INTO ec.job_runs (job, local_date, broker_id, started_at, finished_at, ok, duration_ms, error, detail)
		VALUES (record_job_run.job, record_job_run.local_date, record_job_run.broker_id, record_job_run.started_at,
				finished, false, ms, record_job_run.error, record_job_run.detail)
		RETURNING id INTO run_id;
	END IF;
	INSERT INTO ec.pipeline_events (event_type, ok, broker_id, duration_ms, detail)
	VALUES (CASE record_job_run.job WHEN 'refresh' THEN 'mv_refresh' WHEN 'feeder' THEN 'campaign_feeder'
			ELSE record_job_run.job END,
			record_job_run.ok, record_job_run.broker_id, ms,
			record_job_run.detail || jsonb_build_object('job_run_id', run_id, 'local_date', record_job_run.local_date)
				|| CASE WHEN record_job_run.ok THEN '{}'::jsonb ELSE jsonb_build_object('error', record_job_run.error) END);
	RETURN run_id;
END
$$;
COMMENT ON FUNCTION ec.record_job_run(text, date, bigint, timestamptz, boolean, text, jsonb) IS
	'Records a run of a daily job (start, end, duration, outcome) in ec.job_runs and ec.pipeline_events';

-- Alert conditions: a failed run not followed by a success of the same job,
-- date and broker; a job due today (past its slot by 15 minutes) that has not
-- succeeded.
CREATE VIEW ec.job_alerts AS
SELECT r.job, r.local_date, r.broker_id, 'failed'::text AS alert, r.finished_at AS since, r.error
FROM ec.job_runs r
WHERE NOT r.ok
  AND NOT EXISTS (SELECT FROM ec.job_runs s
				  WHERE s.job = r.job AND s.local_date = r.local_date
					AND s.broker_id IS NOT DISTINCT FROM r.broker_id AND s.ok AND s.finished_at >= r.finished_at)
UNION ALL
SELECT j.job, d.due, NULL, 'missed', ec.job_instant(j.job, d.due), NULL
FROM (VALUES ('refresh'), ('feeder')) j(job),
	 LATERAL (SELECT ec.job_due_date(j.job, ec.now() - interval '15 minutes') AS due) d
WHERE d.due IS NOT NULL
  AND NOT EXISTS (SELECT FROM ec.job_runs s
				  WHERE s.job = j.job AND s.local_date = d.due AND s.broker_id IS NULL AND s.ok);
COMMENT ON VIEW ec.job_alerts IS
	'Alert conditions of the daily jobs: failed runs not yet followed by a success, and runs missed today';

------------------------------------------------------------------------------
-- The contactable-leads refresh (schema/30_views.sql explains the design)
------------------------------------------------------------------------------

-- Applies the logged changes: re-reads the changed leads through the
-- definition, removes those no longer contactable, upserts the others.
CREATE FUNCTION ec.apply_contactable_changes(OUT changed bigint, OUT removed bigint, OUT upserted bigint)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	WITH logged AS (DELETE FROM ec.contactable_changes RETURNING lead_id),
	ids AS (SELECT DISTINCT lead_id AS id FROM logged),
	fresh AS (SELECT s.* FROM ec.contactable_leads_source s WHERE s.id IN (SELECT id FROM ids)),
	gone AS (
		DELETE FROM ec.mv_contactable_leads m
		WHERE m.id IN (SELECT id FROM ids) AND m.id NOT IN (SELECT id FROM fresh)
		RETURNING 1),
	put AS (
		INSERT INTO ec.mv_contactable_leads AS m SELECT * FROM fresh
		ON CONFLICT (id) DO UPDATE
			SET assigned_broker_id = EXCLUDED.assigned_broker_id, lead_score = EXCLUDED.lead_score,
				campaign_status = EXCLUDED.campaign_status, email_verified = EXCLUDED.email_verified,
				phone_verified = EXCLUDED.phone_verified, consent = EXCLUDED.consent,
				property_state = EXCLUDED.property_state
			WHERE (m.assigned_broker_id, m.lead_score, m.campaign_status, m.email_verified, m.phone_verified,
				   m.consent, m.property_state) IS DISTINCT FROM
				  (EXCLUDED.assigned_broker_id, EXCLUDED.lead_score, EXCLUDED.campaign_status,
				   EXCLUDED.email_verified, EXCLUDED.phone_verified, EXCLUDED.consent, EXCLUDED.property_state)
		RETURNING 1)
	SELECT (SELECT count(*) FROM ids), (SELECT count(*) FROM gone), (SELECT count(*) FROM put)
$$;
COMMENT ON FUNCTION ec.apply_contactable_changes() IS
	'Incremental refresh step: applies the logged lead changes to ec.mv_contactable_leads';

-- Full resynchronisation (the slow path, not needed in normal operation:
-- after restoring a dump without the log, or to check the incremental path).
CREATE FUNCTION ec.rebuild_contactable_leads(OUT removed bigint, OUT upserted bigint)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	WITH logged AS (DELETE FROM ec.contactable_changes RETURNING 1),
	gone AS (
		DELETE FROM ec.mv_contactable_leads m
		WHERE NOT EXISTS (SELECT FROM ec.contactable_leads_source s WHERE s.id = m.id)
		RETURNING 1),
	put AS (
		INSERT INTO ec.mv_contactable_leads AS m SELECT * FROM ec.contactable_leads_source
		ON CONFLICT (id) DO UPDATE
			SET assigned_broker_id = EXCLUDED.assigned_broker_id, lead_score = EXCLUDED.lead_score,
				campaign_status = EXCLUDED.campaign_status, email_verified = EXCLUDED.email_verified,
				phone_verified = EXCLUDED.phone_verified, consent = EXCLUDED.consent,
				property_state = EXCLUDED.property_state
			WHERE (m.assigned_broker_id, m.lead_score, m.campaign_status, m.email_verified, m.phone_verified,
				   m.consent, m.property_state) IS DISTINCT FROM
				  (EXCLUDED.assigned_broker_id, EXCLUDED.lead_score, EXCLUDED.campaign_status,
				   EXCLUDED.email_verified, EXCLUDED.phone_verified, EXCLUDED.consent, EXCLUDED.property_state)
		RETURNING 1)
	SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM put) + 0 * (SELECT count(*) FROM logged)
$$;
COMMENT ON FUNCTION ec.rebuild_contactable_leads() IS
	'Full resynchronisation of ec.mv_contactable_leads with its definition (slow path; the refresh is incremental)';

CREATE FUNCTION ec.refresh_contactable_leads() RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	day date := ec.local_date();
	r record;
	detail jsonb;
	err text;
BEGIN
	-- one refresh at a time (a second caller is told, not queued)
	IF NOT pg_try_advisory_xact_lock(hashtext('ec.refresh_contactable_leads')) THEN
		RETURN jsonb_build_object('status', 409, 'reason', 'already_running', 'local_date', day);
	END IF;
	BEGIN
		SELECT * INTO r FROM ec.apply_contactable_changes();
		detail := jsonb_build_object('changed', r.changed, 'removed', r.removed, 'upserted', r.upserted,
									 'rows', (SELECT count(*) FROM ec.mv_contactable_leads));
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
		PERFORM ec.record_job_run('refresh', day, NULL, started, false, err);
		RETURN jsonb_build_object('status', 500, 'reason', 'refresh_failed', 'local_date', day, 'error', err);
	END;
	PERFORM ec.record_job_run('refresh', day, NULL, started, true, NULL, detail);
	RETURN jsonb_build_object('status', 200, 'reason', 'ok', 'local_date', day,
							  'duration_ms', round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 3))
		   || detail;
END
$$;
COMMENT ON FUNCTION ec.refresh_contactable_leads() IS
	'Refreshes ec.mv_contactable_leads now (incrementally) and records the run; {status, reason, changed, removed, upserted, rows}';
