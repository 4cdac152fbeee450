-- Step 1b: a signed upload, as n8n hands it over: the raw body and headers of
-- the webhook go to ec.ingest_upload, and everything after happens here.
\echo
\echo '== Uploads: a signed PropStream export (demo/sample/propstream_export.csv)'
SET ec.request_rate_limit = 0;
-- the sender's key (a demo key; a real one never appears in a script: README, "Keys")
\o /dev/null
SELECT ec.add_key('request', 'demo-n8n', convert_to('demo-upload-secret-0123456789', 'UTF8'));
\o
\set csv `pwd`/demo/sample/propstream_export.csv
CREATE TEMP TABLE demo_upload AS SELECT pg_read_binary_file(:'csv') AS body;
-- what the sender computes: X-Content-SHA256 and X-Signature over "v1:<ts>:<sha>"
CREATE FUNCTION pg_temp.signed(body bytea, content_type text DEFAULT 'text/csv',
	secret text DEFAULT 'demo-upload-secret-0123456789') RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object('X-Timestamp', ts, 'X-Content-SHA256', encode(sha256(body), 'hex'),
		'X-Signature', 'v1=' || encode(hmac(convert_to('v1:' || ts || ':' || encode(sha256(body), 'hex'), 'UTF8'),
										  convert_to(secret, 'UTF8'), 'sha256'), 'hex'),
		'Content-Type', content_type)
	FROM (SELECT floor(extract(epoch FROM now()))::bigint::text) t (ts)
$$;
SELECT jsonb_pretty(ec.ingest_upload(body, pg_temp.signed(body), 'propstream', '203.0.113.10') - 'duration_ms') AS answer
  FROM demo_upload;

\echo '== Every row staged with its status and reasons (ec.leads_staging)'
SELECT s.row_number AS row, s.validation_status AS status, s.action, s.lead_id,
	   array_to_string(s.reasons, ', ') AS reasons,
	   coalesce(s.record ->> 'property_address', '(as sent) ' || coalesce(s.record ->> 'City', '')) AS address
FROM ec.leads_staging s WHERE s.upload_id = (SELECT max(id) FROM ec.ingest_uploads) ORDER BY s.row_number;

\echo '== The same content again, a tampered body, an unreadable CSV, an unknown source'
SELECT 'replay' AS sent, r ->> 'status' AS status, r ->> 'reason' AS reason
  FROM demo_upload, ec.ingest_upload(body, pg_temp.signed(body), 'propstream', '203.0.113.10') r
UNION ALL
SELECT 'tampered', r ->> 'status', r ->> 'reason'
  FROM demo_upload, ec.ingest_upload(body || '\x0a'::bytea, pg_temp.signed(body), 'propstream', '203.0.113.10') r
UNION ALL
SELECT 'unterminated quote', r ->> 'status', (r ->> 'reason') || ': ' || (r ->> 'detail')
  FROM (SELECT convert_to(E'Address,State,Zip\n"12 Pelican Pl,FL,34285\n', 'UTF8') AS b) x,
	   ec.ingest_upload(b, pg_temp.signed(b), 'propstream', '203.0.113.10') r
UNION ALL
SELECT 'unknown source', r ->> 'status', r ->> 'reason'
  FROM (SELECT convert_to(E'Address\n1 Main St\n', 'UTF8') AS b) x,
	   ec.ingest_upload(b, pg_temp.signed(b), 'no_such_list', '203.0.113.10') r;

\echo '== A BatchData response (JSON) takes the same path, into the same leads'
\set bd `pwd`/demo/sample/batchdata_response.json
SELECT r - 'rejected_rows' - 'duration_ms' - 'upload_id' AS answer
  FROM pg_read_binary_file(:'bd') b, ec.ingest_upload(b, pg_temp.signed(b, 'application/json'), 'batchdata', '203.0.113.10') r;

\echo '== Skip-trace routing (BatchData first, TLO as fallback; shown in a rolled-back transaction, nothing sent)'
BEGIN;
UPDATE ec.skiptrace_providers SET enabled = true, url = 'http://127.0.0.1:9/' || name, api_key_id = NULL
 WHERE name IN ('batchdata', 'tlo');
SELECT ec.skiptrace_queue(ARRAY(SELECT id FROM ec.leads)) AS leads_queued_for_skiptrace;
SELECT r.provider, count(*) AS requests, min(h.url) AS url, min(h.purpose) AS purpose, min(h.callback) AS callback
  FROM ec.skiptrace_requests r JOIN ec.http_requests h ON h.id = r.http_request_id GROUP BY 1;
ROLLBACK;

\echo '== Upload events (ec.pipeline_events)'
SELECT event_type, count(*), round(avg(duration_ms), 1) AS avg_ms FROM ec.pipeline_events
 WHERE event_type IN ('upload_received', 'dedupe_success', 'request_rejected') AND upload_id IS NOT NULL OR event_type = 'request_rejected'
 GROUP BY 1 ORDER BY 1;
