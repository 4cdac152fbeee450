-- Skip-trace verification: the router queues leads without a verified
-- contact to the first enabled provider through the HTTP queue; the queue's
-- callback (ec.skiptrace_answer) merges a match into the lead through
-- ec.upsert_lead, or falls back to the next provider. The worker's part
-- (sending, the response) is played here by hand, inside a transaction that
-- is rolled back, so nothing is ever sent.
SET client_min_messages = warning;
\set VERBOSITY terse
BEGIN;
TRUNCATE ec.leads CASCADE;
\getenv abs_srcdir PG_ABS_SRCDIR
\set batchdata_json :abs_srcdir '/test/data/batchdata_property_response.json'

CREATE FUNCTION pg_temp.csv(body text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT ec.ingest_unsigned(convert_to(body, 'UTF8'), 'generic') - 'upload_id' - 'duration_ms' - 'rejected_rows'
$$;
-- what the HTTP worker does when a request ends: the attempt, the state
CREATE FUNCTION pg_temp.respond(req bigint, status int, body text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO ec.http_responses (request_id, attempt, status, body, error, started_at)
	VALUES (req, 1, status, convert_to(body, 'UTF8'), CASE WHEN status IS NULL THEN 'connection refused' END, now());
	UPDATE ec.http_requests SET attempts = 1, last_status = status, finished_at = now(),
		state = CASE WHEN status BETWEEN 200 AND 299 THEN 'succeeded' ELSE 'failed' END::ec.http_state
	 WHERE id = req;
$$;
CREATE FUNCTION pg_temp.req_of(addr text) RETURNS bigint LANGUAGE sql AS $$
	SELECT r.http_request_id FROM ec.skiptrace_requests r JOIN ec.leads l ON l.id = r.lead_id
	 WHERE l.property_address LIKE addr AND r.state = 'queued'
$$;

-- All providers are off until an operator turns one on: nothing is queued.
SELECT name, kind, enabled, priority FROM ec.skiptrace_providers ORDER BY priority;
SELECT pg_temp.csv(E'address,city,state,zip,phone\n1847 Oak Hollow Dr,Sarasota,FL,34232,(941) 555-3817\n') ->> 'skiptrace_queued' AS queued;

-- BatchData first, TLO as the fallback (no API keys here: none is bound to
-- these local URLs; in production api_key_id names a key of ec.keys).
UPDATE ec.skiptrace_providers SET enabled = true, url = 'http://127.0.0.1:9/batchdata', api_key_id = NULL
 WHERE name = 'batchdata';
UPDATE ec.skiptrace_providers SET enabled = true, url = 'http://127.0.0.1:9/tlo', api_key_id = NULL
 WHERE name = 'tlo';
SELECT pg_temp.csv(E'address,city,state,zip,first name,last name\n'
	'2210 Bayshore Blvd,Tampa,FL,33606,Harold,Whitcomb\n'
	'917 Magnolia Ave,Clearwater,FL,33756,Eugene,Parker\n'
	'1847 Oak Hollow Dr,Sarasota,FL,34232,Margaret,Ellison\n') AS answer;
-- one request per lead without a verified contact, through the HTTP queue
SELECT h.method, h.url, h.purpose, h.callback, h.state, h.idempotency_key = 'skiptrace-' || r.id AS keyed,
	   convert_from(h.body, 'UTF8')::jsonb -> 'requests' -> 0 -> 'propertyAddress' AS address
  FROM ec.skiptrace_requests r JOIN ec.http_requests h ON h.id = r.http_request_id ORDER BY r.id;
SELECT r.provider, r.step, r.state, l.property_address FROM ec.skiptrace_requests r JOIN ec.leads l ON l.id = r.lead_id ORDER BY r.id;
-- each lead at most once at a time, and not again within retrace_after
SELECT ec.skiptrace_queue(ARRAY(SELECT id FROM ec.leads)) AS queued_again;

-- BatchData answers for 1847 Oak Hollow (its fixture): a match; the phones
-- and email arrive verified through verification_code_map, the lead
-- becomes queued for the campaign, the raw answer is kept
SELECT pg_temp.respond(pg_temp.req_of('1847 %'), 200, convert_from(pg_read_binary_file(:'batchdata_json'), 'UTF8'));
SELECT ec.skiptrace_answer(pg_temp.req_of('1847 %'));
SELECT property_address, phones, emails, phone_verified, email_verified, campaign_status, verification_codes,
	   provider_payloads ? 'batchdata' AS payload_kept
  FROM ec.leads WHERE property_address LIKE '1847 %';
SELECT r.provider, r.state, r.detail -> 'codes' AS codes FROM ec.skiptrace_requests r
  JOIN ec.leads l ON l.id = r.lead_id WHERE l.property_address LIKE '1847 %';

-- BatchData fails for 2210 Bayshore (given up): TLO is tried next
SELECT pg_temp.respond(pg_temp.req_of('2210 %'), 503, 'unavailable');
SELECT ec.skiptrace_answer((SELECT http_request_id FROM ec.skiptrace_requests r JOIN ec.leads l ON l.id = r.lead_id
							 WHERE l.property_address LIKE '2210 %' AND r.provider = 'batchdata'));
SELECT r.provider, r.step, r.state, h.url FROM ec.skiptrace_requests r JOIN ec.leads l ON l.id = r.lead_id
  JOIN ec.http_requests h ON h.id = r.http_request_id WHERE l.property_address LIKE '2210 %' ORDER BY r.id;
-- TLO finds nothing: the chain ends, recorded
SELECT pg_temp.respond(pg_temp.req_of('2210 %'), 200, '{"results": []}');
SELECT ec.skiptrace_answer((SELECT http_request_id FROM ec.skiptrace_requests r JOIN ec.leads l ON l.id = r.lead_id
							 WHERE l.property_address LIKE '2210 %' AND r.provider = 'tlo'));
SELECT r.provider, r.state FROM ec.skiptrace_requests r JOIN ec.leads l ON l.id = r.lead_id
 WHERE l.property_address LIKE '2210 %' ORDER BY r.id;
SELECT event_type, ok, detail FROM ec.pipeline_events WHERE event_type LIKE 'skiptrace%' ORDER BY id;
-- a callback that runs twice changes nothing the second time
SELECT ec.skiptrace_answer(pg_temp.req_of('1847 %'));
SELECT count(*) FROM ec.skiptrace_requests;

-- What each kind of answer says
SELECT ec.skiptrace_parse('melissa', '{"Records": [{"Results": "AS01,ES01,PS01,PS08", "EmailAddress": "m@x.com",
	"PhoneNumber": "9415553817", "AddressKey": "1234567890"}]}');
SELECT ec.skiptrace_parse('melissa', '{"Records": [{"Results": "AE02,EE01,PE01"}]}');
SELECT ec.skiptrace_parse('batchdata', '{"results": {"persons": [{"meta": {"matched": false}}]}}');
SELECT ec.skiptrace_parse('batchdata', '{"results": {"persons": [{"phoneNumbers": [{"number": "9415550000", "dnc": true},
	{"number": "9415550001", "reachable": false}], "emails": []}]}}');
SELECT ec.skiptrace_parse('tlo', '{"results": [{"phones": [{"number": "8135550000", "verified": true}],
	"emails": [{"address": "t@x.com", "verified": false}]}]}');
SELECT ec.skiptrace_parse('tlo', '{"error": "bad request"}');
-- the request each kind sends
SELECT kind, (ec.skiptrace_body(kind, l) #- '{Records,0,RecordID}') - 'TransmissionReference' - 'reference'
  FROM ec.leads l, unnest(ARRAY['melissa', 'tlo']) kind
 WHERE l.property_address LIKE '917 %' ORDER BY kind;

-- A provider turned on without its key bound to its URL is an operator's
-- mistake: the upload still succeeds, the answer and an event say what failed
UPDATE ec.skiptrace_providers SET api_key_id = 'unbound' WHERE name = 'batchdata';
SELECT pg_temp.csv(E'address,city,state,zip\n5521 Palmer Ranch Pkwy,Sarasota,FL,34238\n') AS answer;
SELECT event_type, detail ->> 'error' AS error FROM ec.pipeline_events WHERE event_type = 'skiptrace_failed';

ROLLBACK;
