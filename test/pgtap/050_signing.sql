-- The signing contract on a Supabase-style database: the API's function
-- shapes, who may call them, that no API role reads a secret, and that the
-- service role can run the whole flow (the functions act as the extension
-- owner, supabase_admin, for their own statements).
BEGIN;
SELECT plan(26);

SELECT function_returns('ec', 'verify_request', ARRAY['bytea', 'jsonb', 'inet'], 'jsonb');
SELECT function_returns('ec', 'add_key', ARRAY['text', 'text', 'bytea', 'timestamp with time zone'], 'void');
SELECT function_returns('ec', 'retire_key', ARRAY['text', 'text'], 'void');
SELECT function_returns('ec', 'mint_consent_token', ARRAY['bigint'], 'text');
SELECT function_returns('ec', 'verify_consent_token', ARRAY['text'], 'jsonb');
SELECT function_returns('ec', 'submit_consent', ARRAY['text', 'inet', 'text'], 'jsonb');
SELECT function_returns('ec', 'withdraw_consent', ARRAY['bigint', 'text', 'text'], 'jsonb');
SELECT is((SELECT pg_get_function_arguments('ec.add_key(text, text, bytea, timestamptz)'::regprocedure)),
	'purpose text, key_id text, secret bytea, not_after timestamp with time zone DEFAULT NULL::timestamp with time zone',
	'add_key: not_after defaults to NULL');

-- who may call: the pipeline, not a broker, not anon
SELECT ok(has_function_privilege('service_role', 'ec.verify_request(bytea, jsonb, inet)', 'EXECUTE'), 'service_role verifies requests');
SELECT ok(has_function_privilege('service_role', 'ec.add_key(text, text, bytea, timestamptz)', 'EXECUTE'), 'service_role adds keys');
SELECT ok(has_function_privilege('service_role', 'ec.submit_consent(text, inet, text)', 'EXECUTE'), 'service_role submits consent');
SELECT ok(NOT has_function_privilege('authenticated', 'ec.add_key(text, text, bytea, timestamptz)', 'EXECUTE'), 'a broker cannot add keys');
SELECT ok(NOT has_function_privilege('authenticated', 'ec.mint_consent_token(bigint)', 'EXECUTE'), 'a broker cannot mint tokens');
SELECT ok(NOT has_function_privilege('anon', 'ec.verify_request(bytea, jsonb, inet)', 'EXECUTE'), 'anon cannot verify requests');
SELECT ok(NOT has_function_privilege('anon', 'ec.submit_consent(text, inet, text)', 'EXECUTE'), 'anon cannot submit consent');

-- secrets: no API role reads them; the status view has no secret column
SELECT ok(NOT has_table_privilege('service_role', 'ec.keys', 'SELECT'), 'service_role cannot read ec.keys');
SELECT ok(has_table_privilege('service_role', 'ec.key_status', 'SELECT'), 'service_role reads ec.key_status');
SELECT ok(NOT has_table_privilege('authenticated', 'ec.key_status', 'SELECT'), 'a broker cannot read ec.key_status');
SELECT hasnt_column('ec', 'key_status', 'secret', 'ec.key_status shows no secret');
-- evidence: a broker reads its leads' consent audit but writes nothing
SELECT ok(NOT has_table_privilege('authenticated', 'ec.lead_consent_audit', 'INSERT,UPDATE,DELETE'), 'a broker cannot write the audit');
SELECT has_trigger('ec', 'lead_consent_audit', 'lead_consent_audit_append_only', 'the audit is append-only');

-- the whole flow as service_role
SET LOCAL ROLE service_role;
SELECT lives_ok($$SELECT ec.add_key('request', 'tap-request', convert_to('tap-request-secret-0123456789', 'UTF8'))$$,
	'service_role adds a key');
SELECT is((SELECT ec.verify_request(b, jsonb_build_object('x-timestamp', ts, 'x-content-sha256', encode(sha256(b), 'hex'),
			'x-signature', 'v1=' || encode(extensions.hmac(convert_to('v1:' || ts || ':' || encode(sha256(b), 'hex'), 'UTF8'),
				convert_to('tap-request-secret-0123456789', 'UTF8'), 'sha256'), 'hex')), '203.0.113.50') ->> 'reason'
		   FROM (SELECT convert_to('{"leads":["tap"]}', 'UTF8') AS b, floor(extract(epoch FROM now()))::bigint::text AS ts) x),
	'ok', 'service_role: a signed request is accepted');
SELECT lives_ok($$SELECT ec.generate_key('consent', 'tap-consent')$$, 'service_role generates a consent key');
INSERT INTO ec.leads (first_name) VALUES ('TapConsent');
SELECT is((SELECT ec.submit_consent(ec.mint_consent_token(l.id), '203.0.113.51', 'pgTAP') ->> 'reason'
		   FROM ec.leads l WHERE l.first_name = 'TapConsent'),
	'ok', 'service_role: mint and submit a consent token');
SELECT throws_ok($$SELECT secret FROM ec.keys$$, '42501', NULL, 'service_role still cannot read a secret');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
