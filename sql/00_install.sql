-- Installing the extension on plain PostgreSQL (no Supabase roles).
CREATE EXTENSION equity_connect CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname IN ('equity_connect', 'pgcrypto') ORDER BY 1;
SELECT n.nspname FROM pg_namespace n JOIN pg_depend d ON d.objid = n.oid
 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'equity_connect' ORDER BY 1;
-- our own roles exist; no Supabase role was created
SELECT rolname, rolbypassrls, rolcanlogin FROM pg_roles
 WHERE rolname IN ('ec_broker', 'ec_service', 'anon', 'authenticated', 'service_role') ORDER BY 1;
-- every table has row security
SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'ec'::regnamespace AND c.relkind = 'r'
   AND NOT c.relrowsecurity;
-- the shared settings and their defaults
SHOW ec.timezone;
SHOW ec.instantly_base_url;
SHOW ec.vapi_base_url;
SET ec.timezone = 'Mars/Olympus_Mons';
SET ec.instantly_base_url = 'ftp://example.com';
SET ec.not_a_setting = 1;
-- DROP and CREATE again leaves nothing behind and works twice
DROP EXTENSION equity_connect;
SELECT count(*) FROM pg_namespace WHERE nspname = 'ec';
CREATE EXTENSION equity_connect;
