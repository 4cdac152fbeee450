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

-- The table the view shows now.
CREATE FUNCTION ec.contactable_table() RETURNS regclass
LANGUAGE sql STABLE
AS $$ SELECT ('ec.' || active)::pg_catalog.regclass FROM ec.contactable_state $$;
COMMENT ON FUNCTION ec.contactable_table() IS 'The table ec.mv_contactable_leads shows now';

-- Incremental step: re-reads the logged leads through the definition into
-- the table the view shows (delete, then insert what is contactable).
CREATE FUNCTION ec.apply_contactable_changes(ids bigint[], OUT removed bigint, OUT inserted bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t regclass := ec.contactable_table();
BEGIN
	EXECUTE format('DELETE FROM %s m USING unnest($1) AS c(id) WHERE m.id = c.id', t) USING ids;
	GET DIAGNOSTICS removed = ROW_COUNT;
	EXECUTE format('INSERT INTO %s SELECT s.* FROM ec.contactable_leads_source s JOIN unnest($1) AS c(id) ON s.id = c.id', t)
		USING ids;
	GET DIAGNOSTICS inserted = ROW_COUNT;
END
$$;
COMMENT ON FUNCTION ec.apply_contactable_changes(bigint[]) IS
	'Incremental refresh step: re-reads the given leads into the table ec.mv_contactable_leads shows';

-- Full rebuild: fills the other table from the definition (no index while
-- loading), indexes it, and points the view at it. Readers keep reading the
-- old table meanwhile; the view changes in one short step at commit.
CREATE FUNCTION ec.rebuild_contactable_leads(OUT rows_loaded bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old text;
	new text;
BEGIN
	SELECT active INTO old FROM ec.contactable_state FOR UPDATE;
	new := CASE old WHEN 'contactable_leads_a' THEN 'contactable_leads_b' ELSE 'contactable_leads_a' END;
	EXECUTE format('TRUNCATE ec.%I', new);
	EXECUTE format('DROP INDEX IF EXISTS ec.%I, ec.%I', new || '_id', new || '_feed');
	EXECUTE format('INSERT INTO ec.%I SELECT * FROM ec.contactable_leads_source', new);
	GET DIAGNOSTICS rows_loaded = ROW_COUNT;
	EXECUTE format('CREATE UNIQUE INDEX %I ON ec.%I (id)', new || '_id', new);
	EXECUTE format('CREATE INDEX %I ON ec.%I (assigned_broker_id, lead_score DESC, id) WHERE campaign_status = %L',
				   new || '_feed', new, 'queued');
	EXECUTE format('ANALYZE ec.%I', new);
	EXECUTE format('CREATE OR REPLACE VIEW ec.mv_contactable_leads AS SELECT id, assigned_broker_id, lead_score, '
				   'campaign_status, email_verified, phone_verified, consent, property_state FROM ec.%I', new);
	UPDATE ec.contactable_state SET active = new, rebuilt_at = now();
	-- empty the old one now if no reader holds it (else the next rebuild does)
	BEGIN
		EXECUTE format('LOCK TABLE ec.%I IN ACCESS EXCLUSIVE MODE NOWAIT', old);
		EXECUTE format('TRUNCATE ec.%I', old);
	EXCEPTION WHEN lock_not_available THEN
		NULL;
	END;
END
$$;
COMMENT ON FUNCTION ec.rebuild_contactable_leads() IS
	'Full rebuild of the contactable leads into the other table, then the view is pointed at it';

CREATE FUNCTION ec.refresh_contactable_leads(local_date date) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	day date := COALESCE(refresh_contactable_leads.local_date, ec.local_date());
	ids bigint[];
	shown bigint;
	logged bigint;
	mode text;
	removed bigint := 0;
	inserted bigint := 0;
	detail jsonb;
	err text;
BEGIN
	-- one refresh at a time (a second caller is told, not queued)
	IF NOT pg_try_advisory_xact_lock(hashtext('ec.refresh_contactable_leads')) THEN
		RETURN jsonb_build_object('status', 409, 'reason', 'already_running', 'local_date', day);
	END IF;
	BEGIN
		SELECT c.reltuples::bigint INTO shown FROM pg_class c WHERE c.oid = ec.contactable_table();
		SELECT count(*) INTO logged FROM ec.contactable_changes;
		IF logged > GREATEST(50000, shown / 10) THEN
			-- many changes (a bulk load): rebuild into the other table and switch; the
			-- rebuild reads the leads after this DELETE, so it covers every row deleted
			mode := 'rebuild';
			DELETE FROM ec.contactable_changes;
			GET DIAGNOSTICS logged = ROW_COUNT;
			SELECT r.rows_loaded INTO inserted FROM ec.rebuild_contactable_leads() r;
		ELSE
			-- the logged ids committed before this statement (later ones wait for the next refresh)
			mode := 'incremental';
			WITH d AS (DELETE FROM ec.contactable_changes RETURNING lead_id)
			SELECT array_agg(DISTINCT lead_id) INTO ids FROM d;
			ids := COALESCE(ids, '{}');
			logged := cardinality(ids);
			SELECT a.removed, a.inserted INTO removed, inserted FROM ec.apply_contactable_changes(ids) a;
		END IF;
		detail := jsonb_build_object('mode', mode, 'changed', logged, 'removed', removed,
									 'inserted', inserted);
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
COMMENT ON FUNCTION ec.refresh_contactable_leads(date) IS
	'Refreshes ec.mv_contactable_leads now and records the run under a local date (the job worker''s entry)';

CREATE FUNCTION ec.refresh_contactable_leads() RETURNS jsonb
LANGUAGE sql
AS $$ SELECT ec.refresh_contactable_leads(ec.local_date()) $$;
COMMENT ON FUNCTION ec.refresh_contactable_leads() IS
	'Refreshes ec.mv_contactable_leads now (incrementally, or a rebuild after a bulk change) and records the run';

------------------------------------------------------------------------------
-- The campaign feeder
------------------------------------------------------------------------------

-- AI personas that sign a broker's emails: a broker's own rows, or else the
-- default set (broker_id NULL, 45 of them). A lead keeps its persona.
CREATE TABLE ec.personas (
	broker_id bigint REFERENCES ec.brokers (id) ON DELETE CASCADE,
	slot integer NOT NULL CHECK (slot BETWEEN 0 AND 999),
	name text NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
	sender_email text CHECK (sender_email ~ '^[^@\s]+@[^@\s]+$'),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ec.personas IS
	'AI personas of the email campaigns: a broker''s own (broker_id) or the default set (broker_id NULL)';
CREATE UNIQUE INDEX personas_slot ON ec.personas (broker_id, slot) NULLS NOT DISTINCT;
INSERT INTO ec.personas (broker_id, slot, name)
SELECT NULL, o - 1, n
FROM unnest(ARRAY['Carlos', 'Priya', 'Marcus', 'Ava', 'Daniel', 'Mei', 'Jamal', 'Sofia', 'Ethan', 'Leila',
				  'Samuel', 'Grace', 'Diego', 'Hannah', 'Omar', 'Chloe', 'Raj', 'Olivia', 'Mateo', 'Naomi',
				  'Isaac', 'Fatima', 'Lucas', 'Ruth', 'Andre', 'Yuki', 'Victor', 'Elena', 'Kwame', 'Julia',
				  'Tomas', 'Anita', 'Henry', 'Rosa', 'Felix', 'Amara', 'Walter', 'Ingrid', 'Hector', 'Lena',
				  'Simon', 'Maya', 'Arthur', 'Nadia', 'Paul']) WITH ORDINALITY AS p(n, o);

-- Every lead the feeder put into a campaign, with its persona and where it is
-- in the 4-step sequence (steps filled from Instantly's email_sent events).
CREATE TABLE ec.campaign_leads (
	lead_id bigint PRIMARY KEY REFERENCES ec.leads (id) ON DELETE CASCADE,
	broker_id bigint REFERENCES ec.brokers (id) ON DELETE SET NULL,
	local_date date NOT NULL,
	fed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	rank integer NOT NULL CHECK (rank >= 1),
	persona text NOT NULL,
	campaign_id text,
	http_request_id bigint,
	times_fed integer NOT NULL DEFAULT 1 CHECK (times_fed >= 1),
	sequence_step integer NOT NULL DEFAULT 0 CHECK (sequence_step BETWEEN 0 AND 4),
	step1_sent_at timestamptz,
	step2_sent_at timestamptz,
	step3_sent_at timestamptz,
	step4_sent_at timestamptz,
	last_event_at timestamptz
);
COMMENT ON TABLE ec.campaign_leads IS
	'Leads fed to an email campaign: broker, local date, rank, persona, Instantly request, and sequence step reached';
CREATE INDEX campaign_leads_broker_date ON ec.campaign_leads (broker_id, local_date);

-- The 4-step sequence (day 1, 3, 5, 7) as Instantly reports sends.
CREATE FUNCTION ec.record_sequence_step() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE ec.campaign_leads c
	SET sequence_step = GREATEST(c.sequence_step, e.step),
		step1_sent_at = LEAST(c.step1_sent_at, e.s1),
		step2_sent_at = LEAST(c.step2_sent_at, e.s2),
		step3_sent_at = LEAST(c.step3_sent_at, e.s3),
		step4_sent_at = LEAST(c.step4_sent_at, e.s4),
		last_event_at = GREATEST(c.last_event_at, e.last_at)
	FROM (SELECT n.lead_id, max(n.step) AS step, max(n.occurred_at) AS last_at,
				 min(n.occurred_at) FILTER (WHERE n.step = 1) AS s1,
				 min(n.occurred_at) FILTER (WHERE n.step = 2) AS s2,
				 min(n.occurred_at) FILTER (WHERE n.step = 3) AS s3,
				 min(n.occurred_at) FILTER (WHERE n.step = 4) AS s4
		  FROM new_rows n
		  WHERE n.event_type = 'email_sent' AND n.step BETWEEN 1 AND 4 AND n.lead_id IS NOT NULL
		  GROUP BY n.lead_id) e
	WHERE c.lead_id = e.lead_id;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION ec.record_sequence_step() IS
	'Trigger: an email_sent event of step 1-4 moves the lead along its 4-step sequence';
CREATE TRIGGER email_events_sequence AFTER INSERT ON ec.email_events REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ec.record_sequence_step();

-- Where each fed lead is in its sequence, for the dashboard (row security of
-- campaign_leads applies: a broker sees its own).
CREATE VIEW ec.lead_sequence WITH (security_invoker = true) AS
SELECT c.lead_id, c.broker_id, c.local_date AS fed_on, c.persona, c.sequence_step,
	   c.step1_sent_at, c.step2_sent_at, c.step3_sent_at, c.step4_sent_at,
	   CASE WHEN c.sequence_step >= 4 THEN NULL ELSE c.sequence_step + 1 END AS next_step,
	   CASE WHEN c.sequence_step >= 4 THEN NULL
			ELSE c.local_date + (2 * c.sequence_step) END AS next_step_planned_on,
	   CASE WHEN c.sequence_step >= 4 THEN 'completed' WHEN c.sequence_step = 0 THEN 'waiting_first_send'
			ELSE 'in_sequence' END AS state
FROM ec.campaign_leads c;
COMMENT ON VIEW ec.lead_sequence IS
	'Each fed lead''s place in the 4-step email sequence (day 1, 3, 5, 7 from the feed date)';

-- The persona of a lead among n: the same lead always gets the same slot.
CREATE FUNCTION ec.persona_slot(lead_id bigint, n integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ((pg_catalog.hashint8(lead_id)::bigint + 2147483648) % n)::integer $$;
COMMENT ON FUNCTION ec.persona_slot(bigint, integer) IS
	'Deterministic persona index (0..n-1) of a lead';

-- The consent link of a token: ec.consent_form_url with "{token}" replaced,
-- or "?token=" appended; NULL when no form URL is set.
CREATE FUNCTION ec.consent_link(token text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT CASE
		WHEN COALESCE(pg_catalog.current_setting('ec.consent_form_url', true), '') = '' THEN NULL
		WHEN pg_catalog.strpos(pg_catalog.current_setting('ec.consent_form_url'), '{token}') > 0
			THEN pg_catalog.replace(pg_catalog.current_setting('ec.consent_form_url'), '{token}', token)
		ELSE pg_catalog.current_setting('ec.consent_form_url')
			 || CASE WHEN pg_catalog.strpos(pg_catalog.current_setting('ec.consent_form_url'), '?') > 0
					 THEN '&' ELSE '?' END || 'token=' || token
	END
$$;
COMMENT ON FUNCTION ec.consent_link(text) IS 'The consent form link of a consent token (ec.consent_form_url)';

-- One fed lead as the feeder hands it to Instantly's adapter: the arguments
-- under their names, nulls left out (jsonb_strip_nulls(jsonb_build_object(...))
-- of them, in C: 25,000 a run).
CREATE FUNCTION ec.feeder_lead(email text, first_name text, last_name text, phone text, lead_id bigint,
							   persona text, consent_link text, consent_token text, property_address text,
							   property_city text, property_state text, property_zip text,
							   est_equity_usd numeric, owner_age integer, years_owned integer, lead_score numeric)
RETURNS jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_feeder_lead';
COMMENT ON FUNCTION ec.feeder_lead(text, text, text, text, bigint, text, text, text, text, text, text, text,
								   numeric, integer, integer, numeric) IS
	'A fed lead as the feeder queues it for Instantly: the arguments under their names, nulls left out';

-- The detail of a lead's campaign_queued event: jsonb_build_object('local_date',
-- local_date, 'rank', rank, 'persona', persona), in C (25,000 a run).
CREATE FUNCTION ec.feeder_event_detail(local_date date, rank integer, persona text) RETURNS jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_feeder_event_detail';
COMMENT ON FUNCTION ec.feeder_event_detail(date, integer, text) IS
	'The detail of a campaign_queued event: {local_date, rank, persona} as jsonb_build_object makes it';

-- Queues the add-leads requests of one broker's feed through the HTTP room's
-- Instantly adapter (1,000 leads a request, idempotency key per batch); the
-- leads as an array of jsonb, as the feed aggregates them.
CREATE FUNCTION ec.feeder_enqueue(campaign_id text, leads jsonb[], idempotency_key text) RETURNS bigint[]
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ec.instantly_add_lead_array(campaign_id, leads, jsonb_build_object('idempotency_key', idempotency_key))
$$;
COMMENT ON FUNCTION ec.feeder_enqueue(text, jsonb[], text) IS
	'Queues the Instantly add-leads requests of a feed (ec.instantly_add_lead_array: 1,000 leads each)';

-- Rows of a query into a table as COPY FROM writes them, each foreign key
-- checked once for all the rows instead of one query per row (the same
-- lookup and FOR KEY SHARE lock; src/common/bulk_insert.c); a plain INSERT
-- when the table needs the executor (row security, triggers, rules).
CREATE FUNCTION ec.insert_rows(target regclass, columns text[], query text) RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_insert_rows';
COMMENT ON FUNCTION ec.insert_rows(regclass, text[], text) IS
	'INSERT INTO target (columns) query, written as COPY writes rows, each foreign key checked once for all rows';

-- The feed of a set of brokers for one local date, set-based, in the
-- caller's transaction: idempotent (each broker is claimed for the date with
-- its ok row of ec.job_runs: a second call feeds it nothing, a concurrent one
-- waits for the first and then feeds it nothing), locks the leads it takes
-- (FOR UPDATE SKIP LOCKED: two feeds never take the same lead), re-checks
-- them against the live table (a lead that opted out or became
-- do_not_contact after the refresh is skipped), moves them queued -> active,
-- mints a consent token each, gives each its persona, and queues one
-- Instantly request per broker and 1,000 leads. Returns one result per broker.
CREATE FUNCTION ec.feed_brokers(broker_ids bigint[], local_date date) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- its statements are index lookups the planner costs high: JIT would spend
-- longer compiling them (about 0.3 s at 1M leads) than they take to run
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	started timestamptz := clock_timestamp();
	results jsonb := '[]';
	r record;
	default_names text[];
	moved bigint;
BEGIN
	IF to_regclass('pg_temp.feeder_claim') IS NULL THEN
		CREATE TEMP TABLE feeder_claim (broker_id bigint PRIMARY KEY, run_id bigint, cap integer, campaign_id text,
			names text[], request_ids bigint[]) ON COMMIT DELETE ROWS;
		CREATE TEMP TABLE feeder_picked (lead_id bigint, broker_id bigint, rank integer, persona text,
			refed boolean, lead jsonb, version tid) ON COMMIT DELETE ROWS;
	END IF;
	DELETE FROM feeder_claim;
	DELETE FROM feeder_picked;

	-- brokers that cannot be fed are answered now
	FOR r IN
		SELECT i.id, b.id AS found, b.status, b.daily_lead_cap, b.instantly_campaign_id
		FROM unnest(broker_ids) WITH ORDINALITY AS i(id, o) LEFT JOIN ec.brokers b ON b.id = i.id
		WHERE b.id IS NULL OR b.status <> 'active' OR b.daily_lead_cap = 0 OR b.instantly_campaign_id IS NULL
		ORDER BY i.o
	LOOP
		results := results || jsonb_build_array(CASE
			WHEN r.found IS NULL THEN jsonb_build_object('status', 404, 'reason', 'unknown_broker', 'broker_id', r.id)
			WHEN r.status <> 'active' OR r.daily_lead_cap = 0 THEN
				jsonb_build_object('status', 200, 'reason', 'broker_not_active', 'broker_id', r.id, 'fed', 0)
			ELSE jsonb_build_object('status', 422, 'reason', 'no_campaign', 'broker_id', r.id, 'fed', 0) END);
	END LOOP;

	-- the day's claim: one successful feed per broker and local date
	SELECT array_agg(p.name ORDER BY p.slot) INTO default_names FROM ec.personas p WHERE p.broker_id IS NULL;
	WITH claimed AS (
		INSERT INTO ec.job_runs AS j (job, local_date, broker_id, started_at, finished_at, ok, detail)
		SELECT 'feeder', feed_brokers.local_date, b.id, started, started, true, '{}'
		FROM ec.brokers b
		WHERE b.id = ANY (broker_ids) AND b.status = 'active' AND b.daily_lead_cap > 0
		  AND b.instantly_campaign_id IS NOT NULL
		ORDER BY b.id
		ON CONFLICT (job, local_date, broker_id) WHERE ok DO NOTHING
		RETURNING j.id, j.broker_id)
	INSERT INTO feeder_claim (broker_id, run_id, cap, campaign_id, names)
	SELECT c.broker_id, c.id, b.daily_lead_cap, b.instantly_campaign_id,
		   COALESCE((SELECT array_agg(p.name ORDER BY p.slot) FROM ec.personas p WHERE p.broker_id = b.id),
					default_names, ARRAY['Equity Connect'])
	FROM claimed c JOIN ec.brokers b ON b.id = c.broker_id;
	results := results || COALESCE((
		SELECT jsonb_agg(jsonb_build_object('status', 200, 'reason', 'already_fed', 'broker_id', b.id, 'fed', 0) ORDER BY b.id)
		FROM ec.brokers b
		WHERE b.id = ANY (broker_ids) AND b.status = 'active' AND b.daily_lead_cap > 0
		  AND b.instantly_campaign_id IS NOT NULL
		  AND NOT EXISTS (SELECT FROM feeder_claim c WHERE c.broker_id = b.id)), '[]');

	-- each claimed broker's top N of the refreshed view, locked and re-checked
	-- on the live rows; rank, persona (kept from an earlier feed), a token
	-- (minted for all of them at once) and the lead as Instantly gets it,
	-- read from the locked row (moving it to active changes none of these)
	WITH q AS (
		SELECT p.*, c.broker_id,
			   row_number() OVER (PARTITION BY c.broker_id ORDER BY p.lead_score DESC, p.id)::integer AS rank
		FROM feeder_claim c CROSS JOIN LATERAL (
			SELECT l.id, m.lead_score, l.email, l.first_name, l.last_name, l.phone, l.property_address,
				   l.property_city, l.property_state, l.property_zip, l.estimated_equity, l.owner_age,
				   l.years_owned, l.lead_score AS live_score, l.ctid AS version
			-- (the view's rows from its index alone: as a subquery of its own
			-- it is not a row of the locking query that would need its ctid)
			FROM (SELECT v.id, v.lead_score FROM ec.mv_contactable_leads v
				  WHERE v.assigned_broker_id = c.broker_id AND v.campaign_status = 'queued'
				  ORDER BY v.lead_score DESC, v.id OFFSET 0) m
			JOIN ec.leads l ON l.id = m.id
			WHERE l.assigned_broker_id = c.broker_id AND l.campaign_status = 'queued'
			  AND (l.email_verified OR l.phone_verified) AND NOT l.email_opt_out AND l.email IS NOT NULL
			ORDER BY m.lead_score DESC, m.id
			LIMIT c.cap
			FOR UPDATE OF l SKIP LOCKED) p),
	ids AS (SELECT COALESCE(array_agg(q.id ORDER BY q.broker_id, q.rank), '{}') AS ids FROM q),
	t AS (SELECT u.id, u.token, ec.consent_link(u.token) AS link
		  FROM ids, unnest(ids.ids, ec.mint_consent_tokens(ids.ids)) AS u(id, token))
	INSERT INTO feeder_picked (lead_id, broker_id, rank, persona, refed, version, lead)
	SELECT q.id, q.broker_id, q.rank, x.persona, cl.lead_id IS NOT NULL, q.version,
		   ec.feeder_lead(q.email, q.first_name, q.last_name, q.phone, q.id, x.persona, t.link,
						  CASE WHEN t.link IS NULL THEN t.token END, q.property_address, q.property_city,
						  q.property_state, q.property_zip, q.estimated_equity, q.owner_age, q.years_owned,
						  q.live_score)
	FROM q
	JOIN feeder_claim c ON c.broker_id = q.broker_id
	JOIN t ON t.id = q.id
	LEFT JOIN ec.campaign_leads cl ON cl.lead_id = q.id
	CROSS JOIN LATERAL (SELECT COALESCE(cl.persona, c.names[ec.persona_slot(q.id, cardinality(c.names)) + 1])
						AS persona) x;

	-- one Instantly add-leads request per broker (and 1,000 leads)
	FOR r IN
		SELECT p.broker_id, c.campaign_id, array_agg(p.lead ORDER BY p.rank) AS leads
		FROM feeder_picked p JOIN feeder_claim c ON c.broker_id = p.broker_id
		GROUP BY 1, 2 ORDER BY 1
	LOOP
		UPDATE feeder_claim SET request_ids = ec.feeder_enqueue(r.campaign_id, r.leads,
			'feeder-' || r.broker_id || '-' || feed_brokers.local_date)
		WHERE broker_id = r.broker_id;
	END LOOP;

	-- a lead fed before (re-queued) starts its sequence again; the others are
	-- new. (Before the leads move to active: the foreign key checks find
	-- them under this feed's own row lock.)
	UPDATE ec.campaign_leads cl
	SET broker_id = p.broker_id, local_date = feed_brokers.local_date, fed_at = now(), rank = p.rank,
		campaign_id = c.campaign_id, http_request_id = c.request_ids[(p.rank - 1) / 1000 + 1],
		times_fed = cl.times_fed + 1, sequence_step = 0, step1_sent_at = NULL, step2_sent_at = NULL,
		step3_sent_at = NULL, step4_sent_at = NULL
	FROM feeder_picked p JOIN feeder_claim c ON c.broker_id = p.broker_id
	WHERE p.refed AND cl.lead_id = p.lead_id;
	-- (as COPY writes rows, the foreign keys checked once for all of them)
	PERFORM ec.insert_rows('ec.campaign_leads',
		ARRAY['lead_id', 'broker_id', 'local_date', 'fed_at', 'rank', 'persona', 'campaign_id', 'http_request_id'],
		format($q$SELECT p.lead_id, p.broker_id, %L::pg_catalog.date, pg_catalog.now(), p.rank, p.persona,
					   c.campaign_id, c.request_ids[(p.rank - 1) / 1000 + 1]
				FROM pg_temp.feeder_picked p JOIN pg_temp.feeder_claim c ON c.broker_id = p.broker_id
				WHERE NOT p.refed$q$, feed_brokers.local_date));

	PERFORM ec.insert_rows('ec.pipeline_events', ARRAY['event_type', 'lead_id', 'broker_id', 'detail'],
		format($q$SELECT 'campaign_queued'::pg_catalog.text, p.lead_id, p.broker_id,
					   ec.feeder_event_detail(%L::pg_catalog.date, p.rank, p.persona)
				FROM pg_temp.feeder_picked p$q$, feed_brokers.local_date));

	-- queued -> active (the lifecycle trigger checks the move). The version
	-- locked above is the one to update (the lock keeps it current), found by
	-- its ctid, not by a second probe of the primary key; updated_at and
	-- added_to_campaign_at are set here as leads_touch and the lifecycle
	-- trigger would set them, so neither copies each row again.
	UPDATE ec.leads l SET campaign_status = 'active', updated_at = now(), added_to_campaign_at = now()
	WHERE l.ctid = ANY ((SELECT array_agg(p.version) FROM feeder_picked p)::tid[]);
	GET DIAGNOSTICS moved = ROW_COUNT;
	IF moved <> (SELECT count(*) FROM feeder_picked) THEN
		RAISE EXCEPTION 'feeder: % leads picked, % moved to active', (SELECT count(*) FROM feeder_picked), moved
			USING ERRCODE = 'internal_error';
	END IF;

	-- each claimed broker's run: finished, with what it fed
	FOR r IN
		SELECT c.broker_id, c.run_id, jsonb_build_object('fed', count(p.lead_id), 'cap', c.cap,
				   'requests', COALESCE(cardinality(c.request_ids), 0),
				   'enqueued', c.request_ids IS NOT NULL OR count(p.lead_id) = 0) AS detail
		FROM feeder_claim c LEFT JOIN feeder_picked p ON p.broker_id = c.broker_id
		GROUP BY c.broker_id, c.run_id, c.cap, c.request_ids ORDER BY c.broker_id
	LOOP
		UPDATE ec.job_runs SET finished_at = clock_timestamp(),
			duration_ms = round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 3),
			detail = r.detail
		WHERE id = r.run_id;
		results := results || jsonb_build_array(jsonb_build_object('status', 200, 'reason', 'ok',
			'broker_id', r.broker_id, 'local_date', feed_brokers.local_date) || r.detail);
	END LOOP;
	DELETE FROM feeder_claim;
	DELETE FROM feeder_picked;
	RETURN results;
END
$$;
COMMENT ON FUNCTION ec.feed_brokers(bigint[], date) IS
	'Feeds a set of brokers'' campaigns for a local date in one pass (idempotent per broker and date); one result per broker';

CREATE FUNCTION ec.feed_broker(broker_id bigint, local_date date) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ec.feed_brokers(ARRAY[broker_id], local_date) -> 0 $$;
COMMENT ON FUNCTION ec.feed_broker(bigint, date) IS
	'Feeds one broker''s campaign for a local date (idempotent): ec.feed_brokers for one broker';

-- The brokers a feed serves, in order.
CREATE FUNCTION ec.feeder_brokers() RETURNS SETOF bigint
LANGUAGE sql STABLE
AS $$ SELECT id FROM ec.brokers WHERE status = 'active' AND daily_lead_cap > 0 ORDER BY id $$;
COMMENT ON FUNCTION ec.feeder_brokers() IS 'Brokers the feeder serves (active, cap above 0), in order';

-- Records the run of the whole feed after its brokers.
CREATE FUNCTION ec.finish_feeder_run(local_date date, started_at timestamptz, results jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	summary jsonb;
	failed integer;
BEGIN
	SELECT jsonb_build_object(
			'brokers', count(*),
			'fed', COALESCE(sum((r ->> 'fed')::integer), 0),
			'requests', COALESCE(sum((r ->> 'requests')::integer), 0),
			'already_fed', count(*) FILTER (WHERE r ->> 'reason' = 'already_fed'),
			'failed', count(*) FILTER (WHERE (r ->> 'status')::integer >= 500),
			'refused', count(*) FILTER (WHERE (r ->> 'status')::integer BETWEEN 400 AND 499)),
		   count(*) FILTER (WHERE (r ->> 'status')::integer >= 500)
	INTO summary, failed
	FROM jsonb_array_elements(results) r;
	PERFORM ec.record_job_run('feeder', local_date, NULL, started_at, failed = 0,
							  CASE WHEN failed > 0 THEN failed || ' broker feed(s) failed' END, summary);
	RETURN jsonb_build_object('status', CASE WHEN failed > 0 THEN 500 ELSE 200 END,
							  'reason', CASE WHEN failed > 0 THEN 'feeder_failed' ELSE 'ok' END,
							  'local_date', local_date) || summary;
END
$$;
COMMENT ON FUNCTION ec.finish_feeder_run(date, timestamptz, jsonb) IS
	'Records a whole feeder run (job_runs, pipeline_events) from the per-broker results';

-- One broker's feed with its failure recorded (the worker runs it in a
-- transaction of its own per broker; ec.run_feeder in the caller's).
CREATE FUNCTION ec.feed_broker_recorded(broker_id bigint, local_date date) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r jsonb;
	err text;
BEGIN
	BEGIN
		r := ec.feed_broker(broker_id, local_date);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
		PERFORM ec.record_job_run('feeder', local_date, broker_id, clock_timestamp(), false, err);
		RETURN jsonb_build_object('status', 500, 'reason', 'feed_failed', 'broker_id', broker_id, 'error', err);
	END;
	IF (r ->> 'status')::integer BETWEEN 400 AND 499 THEN
		-- a broker that cannot be fed (no campaign): an alert, not a failure of the run
		PERFORM ec.record_job_run('feeder', local_date, broker_id, clock_timestamp(), false, r ->> 'reason');
	END IF;
	RETURN r;
END
$$;
COMMENT ON FUNCTION ec.feed_broker_recorded(bigint, date) IS
	'ec.feed_broker with its failure or refusal recorded in job_runs (what the feeder worker calls per broker)';

CREATE FUNCTION ec.run_feeder(local_date date DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	day date := COALESCE(run_feeder.local_date, ec.local_date());
	started timestamptz := clock_timestamp();
	results jsonb := '[]';
	ids bigint[];
	bid bigint;
BEGIN
	SELECT COALESCE(array_agg(b), '{}') INTO ids FROM ec.feeder_brokers() b;
	BEGIN
		-- every broker in one pass
		results := ec.feed_brokers(ids, day);
		-- a broker that cannot be fed (no campaign): an alert, not a failure of the run
		PERFORM ec.record_job_run('feeder', day, (x ->> 'broker_id')::bigint, clock_timestamp(), false, x ->> 'reason')
		FROM jsonb_array_elements(results) x WHERE (x ->> 'status')::integer BETWEEN 400 AND 499;
	EXCEPTION WHEN OTHERS THEN
		-- one broker's failure must not stop the others: feed them one by one
		results := '[]';
		FOREACH bid IN ARRAY ids LOOP
			results := results || jsonb_build_array(ec.feed_broker_recorded(bid, day));
		END LOOP;
	END;
	RETURN ec.finish_feeder_run(day, started, results);
END
$$;
COMMENT ON FUNCTION ec.run_feeder(date) IS
	'Feeds every active broker''s campaign for a local date (default today in ec.timezone) now; idempotent per broker and date';

------------------------------------------------------------------------------
-- Workers and the schedule
------------------------------------------------------------------------------

-- Starts a background worker that runs the jobs (refresh first, then feeder)
-- for a local date, in this database as the calling role; returns once it
-- has started.
CREATE FUNCTION ec.launch_jobs(jobs text[], local_date date) RETURNS jsonb
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_launch_jobs';
COMMENT ON FUNCTION ec.launch_jobs(text[], date) IS
	'Starts a dynamic background worker running the jobs (refresh, feeder) for a local date; returns when it has started';

-- What a scheduler calls: launches the worker for the jobs that are due now
-- (their slot of today has passed, they have not succeeded today). pg_cron
-- calls it at the slots, and at its own start (@reboot) to catch up a run
-- missed while the server was down, the same local day only. Any other
-- scheduler may call it as often as it likes.
CREATE FUNCTION ec.run_scheduled(job text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	due text[] := '{}';
	day date;
	j text;
	d date;
BEGIN
	IF job IS NOT NULL THEN
		PERFORM ec.job_settings(job);	-- refuses an unknown job
	END IF;
	FOREACH j IN ARRAY ARRAY['refresh', 'feeder'] LOOP
		CONTINUE WHEN job IS NOT NULL AND j <> job;
		d := ec.job_due_date(j);
		CONTINUE WHEN d IS NULL OR EXISTS (SELECT FROM ec.job_runs r WHERE r.job = j AND r.local_date = d
										   AND r.broker_id IS NULL AND r.ok);
		due := due || j;
		day := d;
	END LOOP;
	IF cardinality(due) = 0 THEN
		RETURN jsonb_build_object('status', 200, 'reason', 'nothing_due', 'at', ec.now());
	END IF;
	RETURN ec.launch_jobs(due, day);
END
$$;
COMMENT ON FUNCTION ec.run_scheduled(text) IS
	'Launches the worker for the jobs due now and not yet done today (what pg_cron or any scheduler calls)';

-- The cron lines that make a job's local time in ec.timezone happen in the
-- scheduler's own time zone (pg_cron 1.4: UTC; newer: cron.timezone) on
-- every day of the coming year: one line per distinct minute, every day (the
-- weekdays are checked by ec.job_due_date, since a UTC weekday need not be
-- the local one). Firing at an hour that is not the local time that season
-- finds nothing due.
CREATE FUNCTION ec.cron_schedules(job text, scheduler_timezone text DEFAULT NULL) RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH zone AS (
		SELECT COALESCE(scheduler_timezone, NULLIF(current_setting('cron.timezone', true), ''), 'GMT') AS z),
	slots AS (
		SELECT DISTINCT extract(hour FROM w)::integer AS h, extract(minute FROM w)::integer AS m
		FROM zone, generate_series(ec.local_date(), ec.local_date() + 366, interval '1 day') d,
			 LATERAL (SELECT ec.job_instant(job, d::date) AT TIME ZONE zone.z AS w) x)
	SELECT m || ' ' || string_agg(h::text, ',' ORDER BY h) || ' * * *'
	FROM slots GROUP BY m ORDER BY m
$$;
COMMENT ON FUNCTION ec.cron_schedules(text, text) IS
	'Cron lines (in the scheduler''s time zone) that reach a job''s local time across daylight-saving changes';

CREATE FUNCTION ec.unschedule_jobs() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF to_regclass('cron.job') IS NULL THEN
		RETURN;
	END IF;
	FOR id IN EXECUTE 'SELECT jobid FROM cron.job WHERE jobname LIKE ''equity_connect:%'' AND database = current_database()'
	LOOP
		EXECUTE 'SELECT cron.unschedule($1)' USING id;
	END LOOP;
END
$$;
COMMENT ON FUNCTION ec.unschedule_jobs() IS 'Removes the pg_cron jobs of equity_connect in this database';

CREATE FUNCTION ec.schedule_jobs() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j text;
	line text;
	n integer;
BEGIN
	IF to_regclass('cron.job') IS NULL THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'CREATE EXTENSION pg_cron (with cron.database_name set to this database), or call ec.run_scheduled() from another scheduler.';
	END IF;
	IF current_setting('cron.database_name', true) IS DISTINCT FROM current_database() THEN
		RAISE EXCEPTION 'pg_cron runs its jobs in database "%", not "%"',
			current_setting('cron.database_name', true), current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Set cron.database_name to this database and restart, or call ec.schedule_jobs() there.';
	END IF;
	PERFORM ec.unschedule_jobs();
	FOREACH j IN ARRAY ARRAY['refresh', 'feeder'] LOOP
		n := 0;
		FOR line IN SELECT ec.cron_schedules(j) LOOP
			n := n + 1;
			PERFORM cron.schedule('equity_connect:' || j || CASE WHEN n > 1 THEN ':' || n ELSE '' END, line,
								  format('SELECT ec.run_scheduled(%L)', j));
		END LOOP;
	END LOOP;
	-- catch-up of a run missed while the server was down (same local day only)
	PERFORM cron.schedule('equity_connect:catch-up', '@reboot', 'SELECT ec.run_scheduled()');
	-- housekeeping, hourly: expired replay-guard hashes (7 days), finished
	-- outbound requests and staged rows of old uploads (30 days)
	PERFORM cron.schedule('equity_connect:purge', '17 * * * *',
		'SELECT ec.purge_replay_guard(), ec.http_purge(), ec.purge_staging()');
END
$$;
COMMENT ON FUNCTION ec.schedule_jobs() IS
	'Installs the pg_cron schedule: the refresh and the feeder at their local times across DST, a catch-up at start, hourly purges';

-- A broker reads its own fed leads and their sequence, and its personas.
CREATE POLICY broker_own ON ec.campaign_leads FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_read ON ec.personas FOR SELECT TO PUBLIC
	USING (broker_id IS NULL OR broker_id = (SELECT ec.current_broker_id()));
DO $grants$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ('ec_broker', 'authenticated') LOOP
		EXECUTE pg_catalog.format('GRANT SELECT ON ec.campaign_leads, ec.lead_sequence, ec.personas TO %I', r);
	END LOOP;
END
$grants$;
