-- Signed requests (API.md's scheme): every answer of ec.verify_request, the
-- replay guard, the rate limit, and the record a rejection leaves.
SET client_min_messages = warning;
\set VERBOSITY terse
SET ec.request_rate_limit = 0;

-- A secret passed without ever being part of a statement's text: COPY (or
-- psql's \copy from a file) into a temporary table. pg_stat_activity, which
-- shows the running statement, holds no trace of it.
CREATE TEMP TABLE secret_in (key_id text, secret text);
COPY secret_in FROM stdin;
sig-req-1	test-secret-1-0123456789abcdef
sig-req-2	test-secret-2-0123456789abcdef
\.
SELECT ec.add_key('request', key_id, convert_to(secret, 'UTF8')),
	   (SELECT strpos(a.query, s.secret) FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()) AS secret_in_activity
  FROM secret_in s WHERE key_id = 'sig-req-1';
SET test.secret = 'test-secret-1-0123456789abcdef';

-- What a sender computes (here with pgcrypto, an independent implementation):
-- X-Content-SHA256 = hex(SHA-256(body)), X-Signature = v1=hex(HMAC-SHA256(secret, "v1:" ts ":" sha)).
CREATE FUNCTION pg_temp.sig(secret text, ts text, body bytea) RETURNS text LANGUAGE sql AS $$
	SELECT 'v1=' || encode(hmac(convert_to('v1:' || ts || ':' || encode(sha256(body), 'hex'), 'UTF8'),
								convert_to(secret, 'UTF8'), 'sha256'), 'hex')
$$;
CREATE FUNCTION pg_temp.now_ts(shift int DEFAULT 0) RETURNS text LANGUAGE sql AS $$
	SELECT (floor(extract(epoch FROM now()))::bigint + shift)::text
$$;
CREATE FUNCTION pg_temp.headers(body bytea, secret text DEFAULT current_setting('test.secret'), shift int DEFAULT 0)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('X-Timestamp', ts, 'X-Content-SHA256', encode(sha256(body), 'hex'),
							  'X-Signature', pg_temp.sig(secret, ts, body))
	  FROM pg_temp.now_ts(shift) ts
$$;
-- status and reason of an answer, and whatever else it says
CREATE FUNCTION pg_temp.v(body bytea, headers jsonb, ip inet DEFAULT '198.51.100.1') RETURNS text LANGUAGE sql AS $$
	SELECT (r ->> 'status') || ' ' || (r ->> 'reason') FROM ec.verify_request(body, headers, ip) r
$$;
CREATE FUNCTION pg_temp.c(body bytea, headers jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT (r ->> 'status') || ' ' || (r ->> 'reason') FROM ec.check_request_signature(body, headers) r
$$;

-- The scheme's own vector (README.md): body {"leads":[]} at 1700000000.
SELECT encode(sha256('{"leads":[]}'), 'hex') AS content_sha256,
	   pg_temp.sig('test-secret-1-0123456789abcdef', '1700000000', '{"leads":[]}');

-- 200: a signed upload; the answer names the key and reserves an upload id
SELECT r - 'upload_id' AS answer, (r ->> 'upload_id')::bigint > 0 AS has_upload_id
  FROM ec.verify_request('{"leads":[]}', pg_temp.headers('{"leads":[]}'), '198.51.100.1') r;
-- 409: the same content again, even re-signed with another timestamp; the
-- answer carries the first upload's id
SELECT ec.verify_request('{"a":1}', pg_temp.headers('{"a":1}'), '198.51.100.1') AS first \gset
SELECT r ->> 'status' AS status, r ->> 'reason' AS reason,
	   (r ->> 'upload_id') = (:'first'::jsonb ->> 'upload_id') AS first_upload_id,
	   (r ->> 'upload_id') = (SELECT upload_id::text FROM ec.ingest_replay_guard WHERE content_sha256 = sha256('{"a":1}')) AS guarded
  FROM unnest(ARRAY[0, -5]) shift, ec.verify_request('{"a":1}', pg_temp.headers('{"a":1}', shift => shift), '198.51.100.1') r;

-- Header names are case-insensitive and may carry whitespace; values may too;
-- several v1 signatures (rotation), other schemes skipped, hex in either case.
SELECT pg_temp.v('b1', jsonb_build_object(
	'  x-TIMESTAMP ', ' ' || ts || ' ',
	'X-Content-Sha256', E'\t' || encode(sha256('b1'), 'hex'),
	'x-signature', ' v0=legacy , v1 = ' || upper(substr(pg_temp.sig('wrong-secret-0123456789', ts, 'b1'), 4))
				   || ' ,v1=' || substr(pg_temp.sig('test-secret-1-0123456789abcdef', ts, 'b1'), 4) || ' '))
  FROM pg_temp.now_ts() ts;
-- X-Timestamp as a JSON number; a header sent twice as an array (signatures joined)
SELECT pg_temp.v('b2', jsonb_build_object('x-timestamp', ts::bigint,
	'x-content-sha256', encode(sha256('b2'), 'hex'),
	'x-signature', jsonb_build_array('v1=' || repeat('0', 64), pg_temp.sig('test-secret-1-0123456789abcdef', ts, 'b2'))))
  FROM pg_temp.now_ts() ts;

-- 400: missing headers
SELECT pg_temp.v('m', pg_temp.headers('m') - 'X-Timestamp');
SELECT pg_temp.v('m', pg_temp.headers('m') - 'X-Content-SHA256');
SELECT pg_temp.v('m', pg_temp.headers('m') - 'X-Signature');
SELECT pg_temp.v('m', pg_temp.headers('m') || '{"X-Signature": "  "}');
SELECT pg_temp.v('m', '{}');
SELECT pg_temp.v('m', NULL);
SELECT pg_temp.v(NULL, pg_temp.headers('m'));
-- 400: headers that are no object, or name a header twice
SELECT pg_temp.v('m', '[]');
SELECT pg_temp.v('m', '"X-Timestamp: 1"');
SELECT pg_temp.v('m', pg_temp.headers('m') || jsonb_build_object('x-timestamp', pg_temp.now_ts()));
-- 400: malformed timestamps
SELECT t AS x_timestamp, pg_temp.v('m', pg_temp.headers('m') || jsonb_build_object('X-Timestamp', t))
  FROM unnest(ARRAY['-1700000000', '+1700000000', '1700000000.5', '17e8', '0x6553f100', '01700000000',
					'1700 000000', 'now', '1000000000000000000']) t;
SELECT pg_temp.v('m', pg_temp.headers('m') || '{"X-Timestamp": 1.5}');
SELECT pg_temp.v('m', pg_temp.headers('m') || '{"X-Timestamp": {"t": 1}}');
SELECT pg_temp.v('m', pg_temp.headers('m') || '{"X-Timestamp": ["1", "2"]}');
-- 400: malformed content hashes (upper case, short, long, base64, prefixed)
SELECT pg_temp.v('m', pg_temp.headers('m') || jsonb_build_object('X-Content-SHA256', s))
  FROM unnest(ARRAY[upper(encode(sha256('m'), 'hex')), substr(encode(sha256('m'), 'hex'), 2),
					encode(sha256('m'), 'hex') || '0', encode(sha256('m'), 'base64'),
					'sha256=' || encode(sha256('m'), 'hex')]) s;
-- 400: malformed signatures
SELECT s AS x_signature, pg_temp.v('m', pg_temp.headers('m') || jsonb_build_object('X-Signature', s))
  FROM unnest(ARRAY[repeat('ab', 32), 'v1=', 'v1=xyz', 'v1=' || repeat('ab', 31), 'V1=' || repeat('ab', 32),
					'v1=' || repeat('ab', 32) || ',', 'v1=' || repeat('ab', 32) || ';v1=' || repeat('cd', 32),
					'sha256=' || repeat('ab', 32), 'v0=abc']) s;
-- at most 8 elements: 8 pass the parser, 9 are refused rather than cut
SELECT n, pg_temp.v('m', pg_temp.headers('m') || jsonb_build_object('X-Signature',
	array_to_string(array_fill('v1='::text || repeat('ab', 32), ARRAY[n]), ',')))
  FROM unnest(ARRAY[8, 9]) n;

-- 401: the timestamp window (300 s either way; configurable)
SELECT shift, pg_temp.c('w', pg_temp.headers('w', shift => shift))
  FROM unnest(ARRAY[-302, -295, 295, 302]) shift;
SET ec.request_max_skew = '1min';
SELECT pg_temp.c('w', pg_temp.headers('w', shift => -120));
RESET ec.request_max_skew;
-- 401: no matching signature; a body other than the one signed
SELECT pg_temp.v('s', pg_temp.headers('s', 'not-the-secret-0123456789'));
SELECT pg_temp.v('s', pg_temp.headers('s') || jsonb_build_object('X-Timestamp', pg_temp.now_ts(-1)));
SELECT pg_temp.v('the body', pg_temp.headers('another body'));
-- a refused request put nothing into the replay guard: the same body, signed, passes
SELECT pg_temp.v('another body', pg_temp.headers('another body'));

-- Rotation: two keys active at once; a retired key signs nothing more;
-- a key past not_after neither. Key changes reach the cache at once.
SELECT ec.add_key('request', key_id, convert_to(secret, 'UTF8')) FROM secret_in WHERE key_id = 'sig-req-2';
SELECT pg_temp.c('r', pg_temp.headers('r', 'test-secret-1-0123456789abcdef')) AS key1,
	   pg_temp.c('r', pg_temp.headers('r', 'test-secret-2-0123456789abcdef')) AS key2,
	   (ec.check_request_signature('r', pg_temp.headers('r', 'test-secret-2-0123456789abcdef'))) ->> 'key_id' AS matched;
SELECT ec.retire_key('request', 'sig-req-1');
SELECT ec.retire_key('request', 'sig-req-1');		-- again: no change, no error
SELECT pg_temp.c('r', pg_temp.headers('r', 'test-secret-1-0123456789abcdef')) AS key1,
	   pg_temp.c('r', pg_temp.headers('r', 'test-secret-2-0123456789abcdef')) AS key2;
UPDATE ec.keys SET not_after = now() - interval '1 second' WHERE key_id = 'sig-req-2';
SELECT pg_temp.c('r', pg_temp.headers('r', 'test-secret-2-0123456789abcdef')) AS key2;
UPDATE ec.keys SET not_after = NULL WHERE key_id = 'sig-req-2';
SELECT purpose, key_id, active FROM ec.key_status WHERE key_id LIKE 'sig-req-%' ORDER BY key_id;
SET test.secret = 'test-secret-2-0123456789abcdef';

-- 413: a body over ec.request_max_size, refused before it is hashed
SET ec.request_max_size = '1kB';
SELECT pg_temp.v(convert_to(repeat('x', 1024), 'UTF8'), pg_temp.headers(convert_to(repeat('x', 1024), 'UTF8')));
SELECT pg_temp.v(convert_to(repeat('x', 1025), 'UTF8'), pg_temp.headers(convert_to(repeat('x', 1025), 'UTF8')));
RESET ec.request_max_size;

-- 429: ec.request_rate_limit per minute per client (an IPv6 /64 is one client)
SET ec.request_rate_limit = 3;
SELECT ip, pg_temp.v('rate', '{}', ip::inet) FROM unnest(ARRAY['2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4',
	'2001:db8:0:1::1', '192.0.2.80']) ip;
SELECT (r ->> 'retry_after')::int BETWEEN 1 AND 61 AS retry_after
  FROM ec.verify_request('rate', '{}', '2001:db8::5') r;
SET ec.request_rate_limit = 0;
-- malformed requests count as failed authentications, rate-limited ones do not
SELECT client_net, failures, last_reason FROM ec.request_auth_failures WHERE client_net = '2001:db8::/64';

-- Every rejection is recorded, and the record outlives the call (no error is
-- raised, so the caller's transaction commits it).
BEGIN;
SELECT pg_temp.v('t', pg_temp.headers('t', 'not-the-secret-0123456789'), '203.0.113.9');
SELECT pg_temp.v('t', '{"X-Timestamp": "yesterday"}', '203.0.113.9');
COMMIT;
SELECT detail ->> 'status' AS status, detail ->> 'reason' AS reason, detail ->> 'client_ip' AS client_ip
  FROM ec.pipeline_events WHERE event_type = 'request_rejected' AND detail ->> 'client_ip' = '203.0.113.9' ORDER BY id;
SELECT client_net, failures, last_reason FROM ec.request_auth_failures WHERE client_net = '203.0.113.9/32';
-- replays are recorded with the first upload's id, 413 and 429 without a failure count
SELECT count(*) > 0 AS replay_recorded FROM ec.pipeline_events
 WHERE event_type = 'request_rejected' AND detail ->> 'reason' = 'replay' AND upload_id IS NOT NULL;

-- two answers in one row: each is the caller's, not freed SPI memory reused by the next call
SELECT a ->> 'reason' AS first, b ->> 'reason' AS second
  FROM (SELECT ec.verify_request(NULL, NULL, '192.0.2.99') AS a, ec.verify_request('x', '{}', '192.0.2.99') AS b OFFSET 0) x;

-- The replay guard forgets after ec.replay_guard_retention; the purge job
-- deletes what expired. Expired but not yet purged content is fresh again.
UPDATE ec.ingest_replay_guard SET first_seen_at = now() - interval '8 days', expires_at = now() - interval '1 day'
 WHERE content_sha256 = sha256('{"a":1}');
SELECT pg_temp.v('{"a":1}', pg_temp.headers('{"a":1}'));
UPDATE ec.ingest_replay_guard SET first_seen_at = now() - interval '8 days', expires_at = now() - interval '1 day'
 WHERE content_sha256 = sha256('{"a":1}');
SELECT ec.purge_replay_guard();
SELECT count(*) FROM ec.ingest_replay_guard WHERE content_sha256 = sha256('{"a":1}');
SELECT expires_at - first_seen_at AS retention FROM ec.ingest_replay_guard WHERE content_sha256 = sha256('another body');

-- The functions do not depend on the caller's search_path.
SELECT pg_temp.headers('sp') AS sp_headers \gset
SET search_path = '';
SELECT (ec.verify_request('sp', :'sp_headers', '198.51.100.1')) ->> 'reason';
RESET search_path;

-- Who may do what: the service role verifies and manages keys but never reads
-- a secret; a broker does neither.
SET ROLE ec_service;
SELECT secret FROM ec.keys;
SELECT count(*) > 0 AS sees_key_status FROM ec.key_status;
SELECT pg_temp.v('svc', pg_temp.headers('svc'));
SELECT length(ec.generate_key('request', 'sig-req-3'));
RESET ROLE;
SET ROLE ec_broker;
SELECT ec.verify_request('x', '{}', NULL);
SELECT ec.add_key('request', 'sig-req-9', '0123456789abcdef');
RESET ROLE;

-- Operator errors name the key, never the secret.
SELECT ec.add_key('request', 'sig-req-2', 'secret-that-must-not-show');
SELECT ec.add_key('request', 'sig req', 'secret-that-must-not-show');
SELECT ec.add_key('request', 'sig-req-4', 'short-secret');
SELECT ec.add_key('requests', 'sig-req-4', 'secret-that-must-not-show');
SELECT ec.add_key('request', 'sig-req-4', 'secret-that-must-not-show', now() - interval '1 day');
SELECT ec.add_key('request', 'sig-req-4', NULL);
SELECT ec.retire_key('request', 'sig-req-404');
SELECT event_type, detail FROM ec.pipeline_events WHERE event_type LIKE 'key_%' AND detail ->> 'key_id' LIKE 'sig-req-%' ORDER BY id;
