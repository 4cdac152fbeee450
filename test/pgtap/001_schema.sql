-- The schema contract: tables, key columns, the lifecycle enum, indexes,
-- privileges and function hygiene. Runs on a Supabase-style database.
BEGIN;
SELECT plan(46);

SELECT has_schema('ec');
SELECT tables_are('ec', ARRAY[
	'brokers', 'leads', 'campaign_status_transitions', 'ingest_uploads', 'leads_staging',
	'ingest_replay_guard', 'pipeline_events', 'pipeline_dlq', 'keys', 'consent_tokens',
	'lead_consent_audit', 'verification_code_map', 'broker_phone_numbers', 'lead_number_assignments',
	'calls', 'email_events', 'pricing_tiers', 'invoices', 'billing_events', 'http_requests',
	'http_responses', 'job_runs']::name[] || ARRAY(
		-- tables added by later concerns are listed in their own tests
		SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'ec'::regnamespace AND c.relkind = 'r'
		AND c.relname NOT IN ('brokers', 'leads', 'campaign_status_transitions', 'ingest_uploads', 'leads_staging',
			'ingest_replay_guard', 'pipeline_events', 'pipeline_dlq', 'keys', 'consent_tokens',
			'lead_consent_audit', 'verification_code_map', 'broker_phone_numbers', 'lead_number_assignments',
			'calls', 'email_events', 'pricing_tiers', 'invoices', 'billing_events', 'http_requests',
			'http_responses', 'job_runs'))::name[]);

SELECT enum_has_labels('ec', 'campaign_status',
	ARRAY['new', 'queued', 'active', 'replied', 'converted', 'unreachable', 'do_not_contact']);

-- the API's lead columns
SELECT has_column('ec', 'leads', c, 'leads.' || c) FROM unnest(ARRAY[
	'property_address', 'property_unit', 'property_city', 'property_state', 'property_zip', 'county_fips',
	'apn', 'mak', 'addr_hash', 'owner_age', 'campaign_status', 'lead_score', 'assigned_broker_id',
	'email_verified', 'phone_verified', 'consent', 'consented_at', 'consent_method', 'added_to_campaign_at',
	'last_reply_at', 'vapi_call_id', 'call_attempt_count']) AS c;
SELECT col_type_is('ec', 'leads', 'campaign_status', 'ec.campaign_status', 'campaign_status is the enum');
SELECT col_type_is('ec', 'billing_events', 'amount', 'numeric(12,2)', 'money is numeric');

SELECT has_index('ec', 'leads', 'leads_mak_key', 'MAK dedupe index');
SELECT is(
	(SELECT count(*)::int FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE i.indrelid = 'ec.leads'::regclass AND i.indisunique AND i.indpred IS NOT NULL
	   AND c.relname IN ('leads_mak_key', 'leads_apn_key', 'leads_addr_hash_key')),
	3, 'the three dedupe keys are unique and NULL-safe (partial)');
SELECT has_view('ec', 'mv_contactable_leads', 'the contactable leads, by their seed name');
SELECT has_index('ec', 'contactable_leads_a', 'contactable_leads_a_id', 'unique id of the contactable leads (incremental refresh)');

SELECT has_trigger('ec', 'leads', 'leads_status_change', 'status trigger');
SELECT function_returns('ec', 'current_broker_id', ARRAY[]::name[], 'bigint');

-- nothing for PUBLIC or anon
SELECT is(has_schema_privilege('anon', 'ec', 'USAGE'), false, 'anon cannot reach schema ec');
SELECT is(has_table_privilege('anon', 'ec.leads', 'SELECT'), false, 'anon cannot read leads');
SELECT is(has_table_privilege('authenticated', 'ec.keys', 'SELECT'), false, 'a broker cannot read keys');
SELECT is(has_table_privilege('service_role', 'ec.keys', 'SELECT'), false, 'the service role cannot read raw keys');
SELECT is(has_table_privilege('authenticated', 'ec.leads', 'DELETE'), false, 'a broker cannot delete leads');
SELECT is(has_column_privilege('authenticated', 'ec.leads', 'consent', 'UPDATE'), false, 'a broker cannot set consent');
SELECT is(has_table_privilege('authenticated', 'ec.mv_contactable_leads', 'SELECT'), false,
	'a broker cannot read the unprotected materialized view');
SELECT is(has_table_privilege('service_role', 'ec.leads', 'SELECT,INSERT,UPDATE'), true, 'the service role writes leads');
-- every table has row security
SELECT is(
	(SELECT count(*)::int FROM pg_class WHERE relnamespace = 'ec'::regnamespace AND relkind = 'r' AND NOT relrowsecurity),
	0, 'row security on every table');
-- views a broker reads obey row security
SELECT is(
	(SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = 'ec'::regnamespace AND c.relkind = 'v'
	   AND has_table_privilege('ec_broker', c.oid, 'SELECT')
	   AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)),
	0, 'every view a broker reads is security_invoker');
-- SECURITY DEFINER only with a pinned search_path
SELECT is(
	(SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'ec'::regnamespace AND p.prosecdef
	   AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
	0, 'no SECURITY DEFINER function without a fixed search_path');
-- nothing landed in public (Supabase would grant it to anon)
SELECT is(
	(SELECT count(*)::int FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'equity_connect')
	   AND c.relnamespace = 'public'::regnamespace),
	0, 'no extension object in public');
-- pgcrypto stayed in schema extensions
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pgcrypto'),
	'extensions', 'pgcrypto stays where Supabase put it');
SELECT * FROM finish();
ROLLBACK;
