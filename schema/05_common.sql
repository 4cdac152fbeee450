-- Helpers every concern uses: who is asking, append-only enforcement,
-- updated_at maintenance.

-- The JWT subject of the current API request, as PostgREST exposes it:
-- request.jwt.claim.sub first (older PostgREST), then request.jwt.claims.
CREATE FUNCTION ec.jwt_sub() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT NULLIF(COALESCE(
		NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
		NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
			OPERATOR(pg_catalog.->>) 'sub'), '')::pg_catalog.uuid
$$;
COMMENT ON FUNCTION ec.jwt_sub() IS
	'JWT subject (auth user id) of the current PostgREST request, or NULL';

-- Refuses UPDATE and DELETE (and TRUNCATE) to everyone but a superuser:
-- used by the append-only logs (pipeline_events, lead_consent_audit).
CREATE FUNCTION ec.refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		IF TG_OP = 'DELETE' THEN
			RETURN OLD;
		END IF;
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'table "%.%" is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege',
			  HINT = 'Rows of this table are evidence; only a superuser may change or remove them.';
END
$$;
COMMENT ON FUNCTION ec.refuse_change() IS
	'Trigger: refuses UPDATE, DELETE and TRUNCATE of append-only tables to non-superusers';

CREATE FUNCTION ec.touch_updated_at() RETURNS trigger
AS 'MODULE_PATHNAME', 'ec_touch_updated_at'
LANGUAGE C;
COMMENT ON FUNCTION ec.touch_updated_at() IS 'Trigger: sets updated_at to now() on every update (C: it runs on every lead merge)';
