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
