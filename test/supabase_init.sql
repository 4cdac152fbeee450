-- Makes a fresh database look like a self-hosted Supabase one, as far as an
-- extension can tell (../shared/SUPABASE.md): supabase_admin is the only
-- superuser, postgres is demoted (BYPASSRLS), the API roles exist with their
-- timeouts, pgcrypto lives in schema extensions, auth.uid() & co. exist, and
-- everything created in public is granted to the API roles.
\set ON_ERROR_STOP 1

DO $$
BEGIN
	-- The cluster's bootstrap superuser is supabase_admin; postgres is demoted.
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres') THEN
		CREATE ROLE postgres LOGIN CREATEDB CREATEROLE REPLICATION BYPASSRLS;
		GRANT pg_read_all_data TO postgres;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
		CREATE ROLE anon NOLOGIN NOINHERIT;
		CREATE ROLE authenticated NOLOGIN NOINHERIT;
		CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
		CREATE ROLE authenticator LOGIN NOINHERIT;
		GRANT anon, authenticated, service_role TO authenticator;
		ALTER ROLE anon SET statement_timeout = '3s';
		ALTER ROLE authenticated SET statement_timeout = '8s';
		ALTER ROLE authenticator SET statement_timeout = '8s';
	END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA extensions;

CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		nullif(current_setting('request.jwt.claim.sub', true), ''),
		(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
	)::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		nullif(current_setting('request.jwt.claim.role', true), ''),
		(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
	)::text
$$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		nullif(current_setting('request.jwt.claim', true), ''),
		nullif(current_setting('request.jwt.claims', true), '')
	)::jsonb
$$;

-- Supabase's default grants in public.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
