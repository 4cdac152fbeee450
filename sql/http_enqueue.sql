-- ec.http_enqueue, ec.http_host and the provider adapters: what they store
-- and every way they refuse. Nothing here reaches the network: requests
-- are due tomorrow, or their transaction is rolled back.
SET ec.instantly_base_url = 'http://127.0.0.1:9/instantly';
SET ec.vapi_base_url = 'http://127.0.0.1:9/vapi';
CREATE TEMP TABLE t (k text PRIMARY KEY, id bigint);

-- a request, as stored
INSERT INTO t SELECT 'a', ec.http_enqueue('post', 'http://127.0.0.1:9/hook?x=1', '{"Content-Type": "application/json"}',
	convert_to('{"hello": "world"}', 'UTF8'), 'test_hook', 'key-a', 3, now() + interval '1 day');
SELECT r.method, r.url, r.host, r.headers, convert_from(r.body, 'UTF8') AS body, r.purpose, r.idempotency_key,
	r.state, r.attempts, r.max_attempts, r.last_status, r.callback, r.enqueued_by = current_user AS by_me,
	r.finished_at IS NULL AS open
FROM ec.http_requests r JOIN t ON t.id = r.id WHERE t.k = 'a';

-- defaults: no headers, no body, a key the queue makes (a UUID), 8 attempts
INSERT INTO t SELECT 'b', ec.http_enqueue('GET', 'https://127.0.0.1:9/x', NULL, NULL, 'test_get',
	not_before => now() + interval '1 day');
SELECT r.headers, r.body IS NULL AS no_body, r.max_attempts,
	r.idempotency_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_key
FROM ec.http_requests r JOIN t ON t.id = r.id WHERE t.k = 'b';

-- the same key and request again is the same request; a different one is refused
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/hook?x=1', '{}', convert_to('{"hello": "world"}', 'UTF8'),
	'test_hook', 'key-a') = (SELECT id FROM t WHERE k = 'a') AS same_id;
\set VERBOSITY terse
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/other', '{}', NULL, 'test_hook', 'key-a');
\set VERBOSITY default

-- a rolled-back enqueue leaves nothing
BEGIN;
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/rolled-back', NULL, NULL, 'test_rollback') IS NOT NULL AS queued;
ROLLBACK;
SELECT count(*) FROM ec.http_requests WHERE purpose = 'test_rollback';

-- methods
SELECT ec.http_enqueue('TRACE', 'http://127.0.0.1:9/', NULL, NULL, 'test');
SELECT ec.http_enqueue(NULL, 'http://127.0.0.1:9/', NULL, NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, 'body', 'test');

-- URLs
SELECT ec.http_enqueue('GET', 'ftp://127.0.0.1/file', NULL, NULL, 'test');
SELECT ec.http_enqueue('GET', 'not a url', NULL, NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://user:secret@127.0.0.1:9/', NULL, NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://', NULL, NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/' || repeat('a', 8200), NULL, NULL, 'test');

-- headers
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '["X-A", "b"]', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"Bad Name": "x"}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"X-A": "one\r\nX-Injected: two"}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"X-A": 42}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"idempotency-key": "mine"}', NULL, 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/', '{"Content-Length": "5"}', NULL, 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/', '{"Transfer-Encoding": "chunked"}', NULL, 'test');

-- API keys go only where they are bound, and are never stored
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"Authorization": {"api_key": "nowhere"}}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/elsewhere', '{"Authorization": {"api_key": "instantly"}}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/instantly.evil/x', '{"Authorization": {"api_key": "instantly"}}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"Authorization": {"api_key": "bad id!"}}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"Authorization": {"api_key": "vapi", "extra": 1}}', NULL, 'test');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', '{"Authorization": {"prefix": "Bearer "}}', NULL, 'test');
INSERT INTO t SELECT 'key', ec.http_enqueue('GET', 'http://127.0.0.1:9/instantly/api/v2/campaigns',
	'{"Authorization": {"api_key": "instantly"}}', NULL, 'test_key', not_before => now() + interval '1 day');
SELECT r.headers FROM ec.http_requests r JOIN t ON t.id = r.id WHERE t.k = 'key';

-- a key in the body (Melissa's CustomerID): the placeholder stands there once,
-- the stored body keeps only the placeholder
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3', '{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}"}}',
	convert_to('{"CustomerID": "nothing here"}', 'UTF8'), 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3', '{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}"}}',
	convert_to('{"CustomerID": "{{key}}", "Echo": "{{key}}"}', 'UTF8'), 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3', '{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}"}}',
	NULL, 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3', '{"CustomerID": {"api_key": "instantly", "in_body": "k\"y"}}',
	convert_to('{"CustomerID": "k\"y"}', 'UTF8'), 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3',
	'{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}", "prefix": "Bearer "}}',
	convert_to('{"CustomerID": "{{key}}"}', 'UTF8'), 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3',
	'{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}"}, "X-Signature": {"sign": "webhook_out"}}',
	convert_to('{"CustomerID": "{{key}}"}', 'UTF8'), 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/elsewhere', '{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}"}}',
	convert_to('{"CustomerID": "{{key}}"}', 'UTF8'), 'test');
INSERT INTO t SELECT 'in_body', ec.http_enqueue('POST', 'http://127.0.0.1:9/instantly/v3',
	'{"CustomerID": {"api_key": "instantly", "in_body": "{{key}}"}}',
	convert_to('{"CustomerID": "{{key}}", "Records": []}', 'UTF8'), 'test_key', not_before => now() + interval '1 day');
SELECT r.headers, convert_from(r.body, 'UTF8') AS body FROM ec.http_requests r JOIN t ON t.id = r.id WHERE t.k = 'in_body';

-- signing is asked for with X-Signature, and its companions are the queue's
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/', '{"X-Sig": {"sign": "webhook_out"}}', NULL, 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/', '{"X-Signature": {"sign": "request"}}', NULL, 'test');
SELECT ec.http_enqueue('POST', 'http://127.0.0.1:9/', '{"X-Signature": {"sign": "webhook_out"}, "X-Timestamp": "1"}', NULL, 'test');

-- purpose, key, attempts, time
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'Has Spaces');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, NULL);
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', 'has space');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', '');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', repeat('k', 256));
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', max_attempts => 0);
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', max_attempts => 101);
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', not_before => 'infinity');

-- callbacks take the request id, and the caller must be allowed to run them
CREATE FUNCTION public.http_done(id bigint) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.http_wrong(id integer) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE PROCEDURE public.http_proc(id bigint) LANGUAGE sql AS 'SELECT';
INSERT INTO t SELECT 'cb', ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test_cb',
	not_before => now() + interval '1 day', callback => 'public.http_done');
SELECT r.callback, r.callback_pending FROM ec.http_requests r JOIN t ON t.id = r.id WHERE t.k = 'cb';
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', callback => 'public.http_wrong');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', callback => 'public.http_proc');
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', callback => 'public.no_such_function');
REVOKE EXECUTE ON FUNCTION public.http_done(bigint) FROM PUBLIC;
CREATE ROLE http_caller;
GRANT ec_service TO http_caller;
GRANT USAGE ON SCHEMA ec TO http_caller;
GRANT EXECUTE ON FUNCTION ec.http_enqueue(text, text, jsonb, bytea, text, text, integer, timestamptz, regproc) TO http_caller;
SET ROLE http_caller;
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test', callback => 'public.http_done');
RESET ROLE;

-- a failed request can be sent again; its dead letter is then resolved
BEGIN;
UPDATE ec.http_requests SET state = 'failed', attempts = 3, finished_at = now(), last_status = 503
	WHERE id = (SELECT id FROM t WHERE k = 'a');
INSERT INTO ec.pipeline_dlq (source, kind, ref_id, last_status, attempts) SELECT 'http', 'test_hook', id, 503, 3 FROM t WHERE k = 'a';
SELECT ec.http_retry((SELECT id FROM t WHERE k = 'a')) AS requeued;
SELECT state, attempts, max_attempts, finished_at IS NULL AS open, last_status FROM ec.http_requests
	WHERE id = (SELECT id FROM t WHERE k = 'a');
SELECT resolution FROM ec.pipeline_dlq WHERE ref_id = (SELECT id FROM t WHERE k = 'a');
SELECT ec.http_retry((SELECT id FROM t WHERE k = 'a')) AS requeued_twice;
SELECT ec.http_retry((SELECT id FROM t WHERE k = 'a'), 0);
ROLLBACK;
-- finished requests are purged with their responses; open ones stay
BEGIN;
UPDATE ec.http_requests SET state = 'succeeded', attempts = 1, finished_at = now() - interval '40 days'
	WHERE id = (SELECT id FROM t WHERE k = 'b');
INSERT INTO ec.http_responses (request_id, attempt, status, started_at) SELECT id, 1, 200, now() FROM t WHERE k = 'b';
SELECT ec.http_purge() AS purged, ec.http_purge() AS purged_again;
SELECT count(*) AS left_responses FROM ec.http_responses WHERE request_id = (SELECT id FROM t WHERE k = 'b');
ROLLBACK;

-- host keys
SELECT u, ec.http_host(u) FROM (VALUES ('http://API.Example.COM/v2'), ('https://api.example.com:443/'),
	('http://api.example.com:80'), ('http://127.0.0.1:8080/x'), ('https://[::1]:9443/'), ('https://h.example.com:80/')) v(u);
SELECT ec.http_host('mailto:someone@example.com');

-- who may see and change the queue
SET ROLE ec_service;
SELECT count(*) > 0 AS service_reads FROM ec.http_requests;
SELECT count(*) >= 0 AS service_reads_responses FROM ec.http_responses;
INSERT INTO ec.http_requests (method, url, host, purpose, idempotency_key) VALUES ('GET', 'http://x/', 'x', 'p', 'k');
UPDATE ec.http_requests SET url = 'http://elsewhere/' WHERE purpose = 'test_key';
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test_service', not_before => now() + interval '1 day') IS NOT NULL AS service_enqueues;
SET ROLE ec_broker;
SELECT count(*) FROM ec.http_requests;
SELECT count(*) FROM ec.http_responses;
SELECT ec.http_enqueue('GET', 'http://127.0.0.1:9/', NULL, NULL, 'test');
RESET ROLE;
SELECT enqueued_by FROM ec.http_requests WHERE purpose = 'test_service';

-- Instantly v2 leads: own fields on top, everything else flat in custom_variables
SELECT jsonb_pretty(ec.instantly_lead('{"email": "margaret.ellison@comcast.net", "first_name": "Margaret",
	"last_name": "Ellison", "phone": "+19415553817", "personalization": "I noticed you have owned your home for 20 years.",
	"lead_id": 42, "consent_link": "https://consent.example.com/c/abc", "owner_age": 71, "free_and_clear": true,
	"tags": ["a", "b"], "custom_variables": {"property_city": "Sarasota"}, "company_name": null}'));
SELECT ec.instantly_lead('{"first_name": "NoEmail"}');
SELECT ec.instantly_lead('[1]');

-- add-leads: 1,000 leads per request, the campaign and flags in each body, the key bound to Instantly
BEGIN;
SELECT array_length(ec.instantly_add_leads('01964a2e-7b3c-7d41-a8f0-2c9e5d1b4a63',
	(SELECT jsonb_agg(jsonb_build_object('email', 'lead' || g || '@example.com', 'lead_id', g)) FROM generate_series(1, 2500) g),
	'{"skip_if_in_workspace": true, "idempotency_key": "feed-2026-11-26"}'), 1) AS requests;
SELECT r.method, r.url, r.headers, r.idempotency_key, r.purpose,
	jsonb_array_length(convert_from(r.body, 'UTF8')::jsonb -> 'leads') AS leads,
	convert_from(r.body, 'UTF8')::jsonb - 'leads' AS flags,
	convert_from(r.body, 'UTF8')::jsonb #> '{leads,0}' AS first_lead
FROM ec.http_requests r WHERE r.purpose = 'instantly_add_leads' ORDER BY r.id;
ROLLBACK;
SELECT ec.instantly_add_leads('bad campaign id', '[]');
SELECT ec.instantly_add_leads('c1', '{}');
SELECT ec.instantly_add_leads('c1', '[{"first_name": "x"}]');
SELECT ec.instantly_add_leads('c1', '[]') AS nothing_to_send;

-- a lead of ec.leads as Instantly takes it
BEGIN;
INSERT INTO ec.leads (id, first_name, last_name, email, phone, property_address, property_city, property_state,
	property_zip, owner_age, estimated_equity)
VALUES (990001, 'Harold', 'Whitcomb', 'harold.whitcomb@gmail.com', '+17275559021', '2210 Bayshore Blvd', 'Tampa', 'FL',
	'33606', 77, 688500);
SELECT jsonb_pretty(ec.instantly_lead_for(990001, 'https://consent.example.com/c/xyz', 'Bayshore homes appreciated.'));
ROLLBACK;

-- VAPI: POST /call, the lead id in assistantOverrides.metadata
BEGIN;
SELECT ec.vapi_create_call(42, '3a8e7f21-6c4d-4b9a-a1e2-5f6d7c8b9a01', '5c9f1e0a-2b8d-4e61-9a3f-7d2c4b6e8f10',
	'+19415553817', 'Margaret Ellison', '{"first_name": "Margaret"}', '{"campaign": "rm-sarasota", "attempt": 1}',
	'call-42-1') IS NOT NULL AS queued;
SELECT r.url, r.headers, r.max_attempts, r.idempotency_key, jsonb_pretty(convert_from(r.body, 'UTF8')::jsonb)
FROM ec.http_requests r WHERE r.purpose = 'vapi_create_call';
ROLLBACK;
SELECT ec.vapi_create_call(42, 'a', 'p', '941-555-3817');
SELECT ec.vapi_create_call(NULL, 'a', 'p', '+19415553817');

-- a broker's webhook, signed when sent
BEGIN;
INSERT INTO ec.brokers (id, name, webhook_url) VALUES (9901, 'Hooked Lending', 'http://127.0.0.1:9/broker-hook'),
	(9902, 'No Hook Lending', NULL);
SELECT ec.notify_broker(9901, 'lead.assigned', '{"lead_id": 42}', 'assign-42') IS NOT NULL AS queued;
SELECT ec.notify_broker(9902, 'lead.assigned', '{"lead_id": 42}') AS no_webhook;
SELECT r.url, r.headers, r.purpose, convert_from(r.body, 'UTF8')::jsonb - 'sent_at' AS body
FROM ec.http_requests r WHERE r.purpose = 'broker_webhook';
ROLLBACK;
SELECT ec.notify_broker(9901, 'Bad Event', '{}');
SELECT ec.notify_broker(9999, 'lead.assigned', '{}');

-- clean up what this file queued
DELETE FROM ec.http_requests WHERE purpose LIKE 'test%';
DROP FUNCTION public.http_done(bigint), public.http_wrong(integer);
DROP PROCEDURE public.http_proc(bigint);
REVOKE ALL ON SCHEMA ec FROM http_caller;
REVOKE ALL ON FUNCTION ec.http_enqueue(text, text, jsonb, bytea, text, text, integer, timestamptz, regproc) FROM http_caller;
DROP ROLE http_caller;
