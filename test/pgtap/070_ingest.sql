-- The ingestion contract on a Supabase-style database: the upload entry
-- points belong to the pipeline (service_role), not to a broker or anon;
-- what uploads leave behind (staged rows, uploads, profiles, skip-trace
-- requests and providers) is the pipeline's; an upload by the service role
-- works end to end.
BEGIN;
SELECT plan(22);

SELECT has_function('ec', 'ingest_upload', ARRAY['bytea', 'jsonb', 'text', 'inet'], 'ec.ingest_upload as API.md shapes it');
SELECT function_returns('ec', 'ingest_upload', ARRAY['bytea', 'jsonb', 'text', 'inet'], 'jsonb');
SELECT has_table('ec', 'ingest_profiles', 'profiles are a table');
SELECT has_table('ec', 'ingest_profile_fields', 'profile fields are a table');
SELECT has_view('ec', 'ingest_progress', 'the progress view');
SELECT has_table('ec', 'skiptrace_providers', 'skip-trace providers are a table');

SELECT is(has_function_privilege('service_role', 'ec.ingest_upload(bytea, jsonb, text, inet)', 'EXECUTE'), true,
	'the service role uploads');
SELECT is(has_function_privilege('authenticated', 'ec.ingest_upload(bytea, jsonb, text, inet)', 'EXECUTE'), false,
	'a broker cannot call the upload entry point');
SELECT is(has_function_privilege('anon', 'ec.ingest_upload(bytea, jsonb, text, inet)', 'EXECUTE'), false,
	'anon cannot call the upload entry point');
SELECT is(has_function_privilege('authenticated', 'ec.ingest_unsigned(bytea, text, text)', 'EXECUTE'), false,
	'a broker cannot load an unsigned body');
SELECT is(has_function_privilege('authenticated', 'ec.skiptrace_answer(bigint)', 'EXECUTE'), false,
	'a broker cannot feed a skip-trace answer');
SELECT is(has_table_privilege('authenticated', 'ec.leads_staging', 'SELECT'), false, 'a broker cannot read staged rows');
SELECT is(has_table_privilege('authenticated', 'ec.ingest_uploads', 'SELECT'), false, 'a broker cannot read uploads');
SELECT is(has_table_privilege('authenticated', 'ec.ingest_profiles', 'INSERT'), false, 'a broker cannot add a profile');
SELECT is(has_table_privilege('authenticated', 'ec.skiptrace_providers', 'UPDATE'), false,
	'a broker cannot turn a provider on');
SELECT is(has_table_privilege('service_role', 'ec.ingest_profile_fields', 'INSERT'), true,
	'the service role adds profiles without a release');
SELECT is(
	(SELECT count(*)::int FROM pg_class WHERE relnamespace = 'ec'::regnamespace AND relkind = 'r' AND NOT relrowsecurity
	   AND relname IN ('ingest_profiles', 'ingest_profile_fields', 'skiptrace_providers', 'skiptrace_requests')),
	0, 'row security on the ingestion tables');
SELECT is(
	(SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'ec'::regnamespace
	   AND p.proname IN ('ingest_upload', 'ingest_unsigned', 'ingest_finish', 'skiptrace_queue', 'skiptrace_answer',
						 'skiptrace_send', 'skiptrace_parse', 'skiptrace_body', 'skiptrace_key_header', 'purge_staging')
	   AND obj_description(p.oid, 'pg_proc') IS NULL),
	0, 'every ingestion function has a comment');

-- an upload as the service role (BYPASSRLS there, the direct staging path)
SET LOCAL ROLE service_role;
SELECT is(ec.ingest_unsigned(convert_to(E'address,state,zip\n77 Tap Test Rd,CA,90019\n', 'UTF8'), 'generic') ->> 'status',
	'200', 'the service role uploads a CSV');
SELECT is((SELECT validation_status::text FROM ec.leads_staging ORDER BY id DESC LIMIT 1), 'upserted',
	'its row is staged and deduplicated');
SELECT is((SELECT count(*)::int FROM ec.leads WHERE property_address LIKE '77 TAP TEST%'), 1, 'the lead exists');
RESET ROLE;

-- a broker session sees no staged row at all (no privilege, and row security)
SET LOCAL ROLE authenticated;
SELECT throws_ok('SELECT count(*) FROM ec.leads_staging', '42501', NULL, 'a broker is refused the staging table');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
