-- Outbound HTTP: the pipeline's requests go through a durable queue that the
-- background worker drains (here to stand-ins for Instantly, VAPI and a
-- broker's webhook on 127.0.0.1; scripts/demo.sh starts them).
\echo
\echo '== Outbound HTTP: queued in a transaction, sent by the worker on commit'
\o /dev/null
-- API keys live in ec.keys; requests only name them (demo values)
SELECT ec.add_key(p, k, convert_to('demo-' || k || '-key-0123456789', 'UTF8'))
FROM (VALUES ('api', 'instantly'), ('api', 'vapi'), ('webhook_out', 'demo-hooks')) v(p, k)
WHERE NOT EXISTS (SELECT FROM ec.key_status s WHERE s.purpose::text = v.p AND s.key_id = v.k);
UPDATE ec.brokers SET webhook_url = :'standin' || '/hook/' || id WHERE name = 'Gulf Coast HECM Partners';
\o

BEGIN;
-- Instantly v2: leads with their consent link, 1,000 per request
SELECT ec.instantly_add_leads('camp-gulf-01',
	(SELECT jsonb_agg(ec.instantly_lead_for(l.id, 'https://consent.example.com/c/' || l.id) ORDER BY l.id)
	 FROM ec.leads l JOIN ec.brokers b ON b.id = l.assigned_broker_id
	 WHERE b.name = 'Gulf Coast HECM Partners' AND l.email IS NOT NULL)) AS instantly_requests;
-- VAPI: one outbound call, the lead id in assistantOverrides.metadata
SELECT ec.vapi_create_call(l.id, 'demo-assistant', 'demo-phone-number', l.phone,
	l.first_name || ' ' || l.last_name, jsonb_build_object('first_name', l.first_name)) AS vapi_request
FROM ec.leads l WHERE l.phone IS NOT NULL ORDER BY l.id LIMIT 1;
-- the broker's webhook, signed like the uploads we accept
SELECT ec.notify_broker(b.id, 'leads.fed', jsonb_build_object('count', 2)) AS webhook_request
FROM ec.brokers b WHERE b.name = 'Gulf Coast HECM Partners';
-- and an endpoint that keeps failing: retried, then a dead letter
SELECT ec.http_enqueue('GET', :'standin' || '/status/503/demo', NULL, NULL, 'demo_failing', max_attempts => 2)
	AS failing_request;
COMMIT;

-- the worker sends on commit; the failing one waits for its retry
DO $$
BEGIN
	FOR i IN 1..150 LOOP
		EXIT WHEN NOT EXISTS (SELECT FROM ec.http_requests WHERE finished_at IS NULL);
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;

\echo '== Requests (ec.http_requests) and their attempts (ec.http_responses)'
SELECT r.id, r.purpose, r.method, regexp_replace(r.url, '^http://127\.0\.0\.1:[0-9]+', '<stand-in>') AS url,
	r.state, r.attempts, r.last_status,
	(SELECT string_agg(coalesce(s.status::text, 'error') || ' in ' || round(s.duration_ms, 1) || ' ms', ', ' ORDER BY s.attempt)
	 FROM ec.http_responses s WHERE s.request_id = r.id) AS attempts_seen
FROM ec.http_requests r ORDER BY r.id;

\echo '== What the stand-ins answered'
SELECT r.purpose, convert_from(s.body, 'UTF8') AS response_body
FROM ec.http_requests r JOIN ec.http_responses s ON s.request_id = r.id AND s.attempt = r.attempts
WHERE r.state = 'succeeded' ORDER BY r.id;

\echo '== Dead letters of the queue (ec.pipeline_dlq)'
SELECT kind, ref_id, last_status, attempts FROM ec.pipeline_dlq WHERE source = 'http' ORDER BY id;

\echo '== The worker (ec.http_workers())'
SELECT database, in_flight, sent, succeeded, retried, failed FROM ec.http_workers();
