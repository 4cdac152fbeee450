-- equity_connect install script, assembled by the Makefile from schema/NN_*.sql.
-- Every object lives in schema ec, which belongs to the extension (DROP
-- EXTENSION removes it), as pg_cron does with schema cron.

\echo Use "CREATE EXTENSION equity_connect CASCADE" to load this file. \quit

CREATE SCHEMA ec;
COMMENT ON SCHEMA ec IS 'equity_connect: reverse-mortgage lead pipeline';

-- Roles of our own (never Supabase's reserved names). Roles are cluster-wide,
-- so they may already exist from another database; DROP EXTENSION leaves them.
--   ec_broker   what a broker's API session may do (RLS restricts it to its rows)
--   ec_service  the pipeline (n8n, operators): unrestricted
-- Supabase's API roles are NOINHERIT, so membership would not pass privileges
-- on: where authenticated and service_role exist, 99_grants.sql grants them the
-- same privileges directly. On plain PostgreSQL, grant ec_broker / ec_service
-- to your own roles (README).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ec_broker') THEN
		CREATE ROLE ec_broker NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ec_service') THEN
		CREATE ROLE ec_service NOLOGIN BYPASSRLS;
	END IF;
END
$roles$;

-- Nothing in ec is reachable unless granted (Supabase grants ALL on public by
-- default; ec is not public).
REVOKE ALL ON SCHEMA ec FROM PUBLIC;
