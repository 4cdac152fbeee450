-- ec.ingest_upload: the signed entry point n8n calls with the webhook's raw
-- body and headers. The signature is checked first (ec.verify_request's
-- checks and answers), then the body takes the path of sql/ingest_csv.sql.
SET client_min_messages = warning;
\set VERBOSITY terse
-- in a transaction rolled back at the end, on an empty lead table: the
-- suites after this one see nothing of it, and it sees nothing of theirs
BEGIN;
TRUNCATE ec.leads CASCADE;
SET ec.request_rate_limit = 0;
\getenv abs_srcdir PG_ABS_SRCDIR
\set propstream_csv :abs_srcdir '/test/data/propstream_export_sample.csv'

-- the key, never part of a statement's text (see sql/signing_request.sql)
CREATE TEMP TABLE secret_in (key_id text, secret text);
COPY secret_in FROM stdin;
ingest-test	ingest-secret-0123456789abcdef
\.
SELECT ec.add_key('request', key_id, convert_to(secret, 'UTF8')) FROM secret_in;
SET test.secret = 'ingest-secret-0123456789abcdef';

-- what a sender computes (pgcrypto here)
CREATE FUNCTION pg_temp.headers(body bytea, secret text DEFAULT current_setting('test.secret'), shift int DEFAULT 0)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('X-Timestamp', ts, 'X-Content-SHA256', encode(sha256(body), 'hex'),
			'X-Signature', 'v1=' || encode(hmac(convert_to('v1:' || ts || ':' || encode(sha256(body), 'hex'), 'UTF8'),
												convert_to(secret, 'UTF8'), 'sha256'), 'hex'),
			'Content-Type', 'text/csv')
	  FROM (SELECT (floor(extract(epoch FROM now()))::bigint + shift)::text) t (ts)
$$;
CREATE FUNCTION pg_temp.a(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT r - 'upload_id' - 'duration_ms' - 'content_sha256' - 'key_id'
$$;
CREATE TEMP TABLE bodies (name text PRIMARY KEY, body bytea);
INSERT INTO bodies VALUES
	('propstream', pg_read_binary_file(:'propstream_csv')),
	('small', convert_to(E'address,state,zip\n1 Signed St,TX,78704\n', 'UTF8')),
	('broken', convert_to(E'address,state,zip\n"1 Signed St,TX,78704\n', 'UTF8'));
CREATE FUNCTION pg_temp.up(name text, source text DEFAULT 'propstream', headers jsonb DEFAULT NULL,
						   ip inet DEFAULT '198.18.7.1') RETURNS jsonb LANGUAGE sql AS $$
	SELECT ec.ingest_upload(b.body, coalesce(headers, pg_temp.headers(b.body)), source, ip)
	  FROM bodies b WHERE b.name = up.name
$$;

-- 200: the PropStream export, signed
SELECT pg_temp.up('propstream') AS first \gset
SELECT pg_temp.a(:'first');
-- the upload row is the one the replay guard reserved, with the signer's key
SELECT u.key_id, u.content_sha256 = sha256(b.body) AS sha_matches, u.client_ip, u.status,
	   g.upload_id = u.id AS guard_names_upload
  FROM ec.ingest_uploads u, bodies b, ec.ingest_replay_guard g
 WHERE u.id = (:'first'::jsonb ->> 'upload_id')::bigint AND b.name = 'propstream'
   AND g.content_sha256 = u.content_sha256;
SELECT count(*) AS staged FROM ec.leads_staging WHERE upload_id = (:'first'::jsonb ->> 'upload_id')::bigint;

-- 409: the same content again, even signed anew: the first upload's id, nothing staged
SELECT r ->> 'status' AS status, r ->> 'reason' AS reason,
	   r ->> 'upload_id' = :'first'::jsonb ->> 'upload_id' AS first_upload_id
  FROM pg_temp.up('propstream', headers => pg_temp.headers((SELECT body FROM bodies WHERE name = 'propstream'), shift => -3)) r;

-- 401 / 400: refused before anything is read or staged; the refusal is recorded
SELECT count(*) AS uploads_before FROM ec.ingest_uploads \gset
SELECT pg_temp.a(pg_temp.up('small', headers => pg_temp.headers('\x00', 'wrong-secret-0123456789abcdef')));
SELECT pg_temp.a(pg_temp.up('small', headers => pg_temp.headers(convert_to('another body', 'UTF8'))));
SELECT pg_temp.a(pg_temp.up('small', headers => pg_temp.headers((SELECT body FROM bodies WHERE name = 'small'), shift => -3600)));
SELECT pg_temp.a(pg_temp.up('small', headers => pg_temp.headers((SELECT body FROM bodies WHERE name = 'small')) - 'X-Signature'));
SELECT pg_temp.a(pg_temp.up('small', headers => '{}'));
SELECT pg_temp.a(ec.ingest_upload(NULL, '{}', 'propstream', '198.18.7.1'));
SELECT count(*) - :uploads_before AS new_uploads FROM ec.ingest_uploads;
SELECT detail ->> 'reason' AS reason FROM ec.pipeline_events
 WHERE event_type = 'request_rejected' AND detail ->> 'client_ip' = '198.18.7.1' ORDER BY id;

-- 400: an unknown source is refused before the signature is checked, so the
-- content is not spent: the same signed body with the right source passes
SELECT pg_temp.a(pg_temp.up('small', source => 'no_such_profile'));
SELECT pg_temp.a(pg_temp.up('small', source => 'generic'));

-- 422: validly signed, unreadable: answered and recorded, nothing staged
SELECT pg_temp.up('broken', source => 'generic') AS broken \gset
SELECT pg_temp.a(:'broken');
SELECT u.status, u.reason, u.key_id, count(s.*) AS staged
  FROM ec.ingest_uploads u LEFT JOIN ec.leads_staging s ON s.upload_id = u.id
 WHERE u.id = (:'broken'::jsonb ->> 'upload_id')::bigint GROUP BY u.id;

-- 413: a body over ec.request_max_size (10 MB by default): 100 MB, and a
-- small body under a lowered limit; neither is hashed nor read
SELECT pg_temp.a(ec.ingest_upload(convert_to(repeat('x', 100 * 1024 * 1024), 'UTF8'),
	'{"X-Timestamp": "1", "X-Content-SHA256": "00", "X-Signature": "v1=00"}', 'propstream', '198.18.7.2'));
SET ec.request_max_size = '1kB';
SELECT pg_temp.a(pg_temp.up('propstream'));
RESET ec.request_max_size;

-- 429: over the rate limit for a client
SET ec.request_rate_limit = 2;
SELECT n, pg_temp.a(pg_temp.up('small', source => 'generic', ip => '198.18.7.3')) ->> 'status' AS status
  FROM generate_series(1, 3) n;
RESET ec.request_rate_limit;

ROLLBACK;
