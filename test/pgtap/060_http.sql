-- The HTTP queue on a Supabase-style database: who may read, write and
-- enqueue (requests and responses carry personal data and go out with API keys).
BEGIN;
SELECT plan(17);

SELECT has_table('ec', 'http_requests', 'the queue');
SELECT has_table('ec', 'http_responses', 'the responses');
SELECT has_column('ec', 'http_requests', c, 'http_requests.' || c) FROM unnest(ARRAY[
	'id', 'state', 'attempts', 'last_status', 'method', 'url', 'purpose', 'idempotency_key', 'created_at']) AS c;
SELECT is(has_table_privilege('service_role', 'ec.http_requests', 'SELECT'), true, 'the service role reads requests');
SELECT is(has_table_privilege('service_role', 'ec.http_responses', 'SELECT'), true, 'and responses');
SELECT is(has_table_privilege('service_role', 'ec.http_requests', 'INSERT')
	OR has_table_privilege('service_role', 'ec.http_requests', 'UPDATE'), false,
	'but neither inserts nor changes them (ec.http_enqueue does)');
SELECT is(has_function_privilege('service_role',
	'ec.http_enqueue(text, text, jsonb, bytea, text, text, integer, timestamptz, regproc)', 'EXECUTE'), true,
	'the service role enqueues');
SELECT is((SELECT bool_or(has_table_privilege(r, t, 'SELECT'))
	FROM unnest(ARRAY['anon', 'authenticated', 'ec_broker']) r, unnest(ARRAY['ec.http_requests', 'ec.http_responses']) t),
	false, 'no broker or anonymous role reads requests or responses');
SELECT is((SELECT bool_or(has_function_privilege(r,
	'ec.http_enqueue(text, text, jsonb, bytea, text, text, integer, timestamptz, regproc)', 'EXECUTE'))
	FROM unnest(ARRAY['anon', 'authenticated', 'ec_broker']) r), false, 'nor enqueues');
SELECT * FROM finish();
ROLLBACK;
