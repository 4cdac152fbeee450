-- JSON uploads take the same path as CSV: records found in the body, each
-- flattened into paths the profile maps, validated, staged; the record itself
-- kept as the lead's payload.
SET client_min_messages = warning;
\set VERBOSITY terse
-- in a transaction rolled back at the end, on an empty lead table: the
-- suites after this one see nothing of it, and it sees nothing of theirs
BEGIN;
TRUNCATE ec.leads CASCADE;
\getenv abs_srcdir PG_ABS_SRCDIR
\set batchdata_json :abs_srcdir '/test/data/batchdata_property_response.json'

CREATE FUNCTION pg_temp.a(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT r - 'upload_id' - 'duration_ms'
$$;
CREATE FUNCTION pg_temp.json(body text, source text DEFAULT 'generic') RETURNS jsonb LANGUAGE sql AS $$
	SELECT pg_temp.a(ec.ingest_unsigned(convert_to(body, 'UTF8'), source))
$$;
CREATE FUNCTION pg_temp.staged() RETURNS TABLE (row_number int, validation_status ec.staging_status, reasons text[], record jsonb)
LANGUAGE sql AS $$
	SELECT s.row_number, s.validation_status, s.reasons, s.record FROM ec.leads_staging s
	 WHERE s.upload_id = (SELECT max(id) FROM ec.ingest_uploads) ORDER BY s.row_number
$$;

-- BatchData's response (the fixture): its records are at results.persons
SELECT pg_temp.a(ec.ingest_unsigned(pg_read_binary_file(:'batchdata_json'), 'batchdata'));
SELECT jsonb_pretty(record - 'payload') FROM pg_temp.staged();
-- the provider's record is kept whole as the payload
SELECT record -> 'payload' -> 'meta' AS payload_meta, record -> 'payload' -> 'phoneNumbers' -> 0 ->> 'carrier' AS carrier
  FROM pg_temp.staged();

-- An array of leads (an API pull) with the generic profile: lead keys as
-- JSON keys, arrays of contacts, numbers and booleans as JSON values
SELECT pg_temp.json($$[
	{"property_address": "1 Main St", "property_city": "Austin", "property_state": "Texas",
	 "property_zip": 78704, "emails": ["A@B.com", "bad@"], "phones": ["512-555-0100"],
	 "owner_age": 75, "owner_occupied": true, "estimated_value": 410000.5,
	 "verification_codes": ["ES01", "PS01"], "campaign_note": {"tag": "spring"}},
	{"address": "2 Oak St", "state": "TX", "zip": "78704-0001", "phone": "512 555 0199"},
	5,
	{"property_address": "3 Elm St"}
]$$);
SELECT row_number, validation_status, reasons, record - 'payload' AS record FROM pg_temp.staged();

-- A single object is one record; the Content-Type may name the format
SELECT pg_temp.a(ec.ingest_unsigned(convert_to('{"address": "4 Pine St", "city": "Reno", "state": "NV"}', 'UTF8'),
	'generic', 'application/json; charset=utf-8'));
-- a CSV that starts like JSON is still CSV when the Content-Type says so
SELECT pg_temp.a(ec.ingest_unsigned(convert_to(E'[tag],address,state,zip\nx,1 A St,NV,89509\n', 'UTF8'), 'generic', 'text/csv'));

-- Bodies that cannot be read
SELECT pg_temp.json('[{"address": "1 A St",');
SELECT pg_temp.json('[{"address": "\u0000"}]');
SELECT pg_temp.json('[]');
SELECT pg_temp.json('{"results": {"persons": []}}', 'batchdata');
SELECT pg_temp.a(ec.ingest_unsigned(convert_to('"just a string"', 'UTF8'), 'generic', 'application/json'));
SELECT pg_temp.a(ec.ingest_unsigned('\x5b7b2261223a2022ff227d5d'::bytea, 'generic'));
SELECT pg_temp.a(ec.ingest_unsigned('\x5b7b2261223a202200227d5d'::bytea, 'generic'));
-- nothing staged by any of them
SELECT u.reason, count(s.*) AS staged
  FROM ec.ingest_uploads u LEFT JOIN ec.leads_staging s ON s.upload_id = u.id
 WHERE u.format = 'json' AND u.status = 422 GROUP BY u.id, u.reason ORDER BY u.id;

ROLLBACK;
