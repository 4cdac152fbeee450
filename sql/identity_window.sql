-- Lead identity, part 4: a bulk call of more than one batch is upserted in
-- key order (batches that each cover a narrow range of the keys' indexes).
-- What a caller sees must not depend on that order: answers in input
-- order, records of one property merged in input order, and two records
-- that reach one stored lead by different keys merged in input order too.
\set VERBOSITY terse
-- an ordinary record: house number i on a street of a place
CREATE FUNCTION pg_temp.record(i int, street text, city text, state text, zip text, name text)
RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('property_address', i || ' ' || street, 'property_city', city,
		'property_state', state, 'property_zip', zip, 'first_name', name)
$$;

-- 3,000 new properties, one of them given twice, far apart and spelled
-- differently (one group: merged in input order, the later name wins)
CREATE TEMP TABLE win1 AS
SELECT i, CASE
		WHEN i = 5 THEN '{"property_address": "7000 North Window Road", "property_city": "Austin",
			"property_state": "TX", "property_zip": "78701", "first_name": "First"}'::jsonb
		WHEN i = 2500 THEN '{"property_address": "7000 N WINDOW RD", "property_city": "austin",
			"property_state": "Texas", "property_zip": "78701-1234", "first_name": "Last"}'::jsonb
		WHEN i = 1700 THEN '{"first_name": "No Keys"}'::jsonb
		ELSE pg_temp.record(i, 'Window Rd', 'Austin', 'TX', '78701', 'F' || i)
	END AS lead
FROM generate_series(1, 3000) i;
CREATE TEMP TABLE res1 AS
SELECT ec.upsert_leads((SELECT jsonb_agg(lead ORDER BY i) FROM win1), 'wintest') AS r;
SELECT r - 'results' AS counts FROM res1;
-- the answers in input order: the i-th answer is the i-th record's lead
SELECT count(*) AS answers,
	count(*) FILTER (WHERE l.first_name = 'F' || a.i) AS own_lead,
	count(*) FILTER (WHERE a.i IN (5, 1700, 2500)) AS special
FROM res1, jsonb_array_elements(r -> 'results') WITH ORDINALITY AS a(ans, i)
LEFT JOIN ec.leads l ON l.id = (a.ans ->> 'lead_id')::bigint;
SELECT a.i, a.ans ->> 'action' AS action, a.ans ->> 'reason' AS reason, l.first_name, l.property_address
FROM res1, jsonb_array_elements(r -> 'results') WITH ORDINALITY AS a(ans, i)
LEFT JOIN ec.leads l ON l.id = (a.ans ->> 'lead_id')::bigint
WHERE a.i IN (5, 1700, 2500) ORDER BY a.i;
-- the two records of 7000 Window Rd gave one lead
SELECT (r -> 'results' -> 4 ->> 'lead_id') = (r -> 'results' -> 2499 ->> 'lead_id') AS one_lead FROM res1;
-- new leads take their ids in the order they are written: by address hash
SELECT count(*) AS new_leads,
	bool_and(prev_hash IS NULL OR prev_hash < addr_hash) AS ids_follow_hashes
FROM (SELECT addr_hash, lag(addr_hash) OVER (ORDER BY id) AS prev_hash
	FROM ec.leads WHERE 'wintest' = ANY (sources)) x;

-- a stored lead with a MAK and an address
SELECT ec.upsert_lead('{"property_address": "8000 Window Rd", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "mak": "4000000001", "first_name": "Stored"}', 'wintest') ->> 'action' AS stored;
-- a call that reaches it twice without a common key: first by its MAK
-- (record 100, which sorts last: it has no address), then by its address
-- (record 2800).  Upserted in key order, the address would merge first;
-- the call notices, and does the window again in input order.
CREATE TEMP TABLE win2 AS
SELECT i, CASE
		WHEN i = 100 THEN '{"mak": "4000000001", "first_name": "Early", "phone": "512-555-0100"}'::jsonb
		WHEN i = 2800 THEN '{"property_address": "8000 Window Road", "property_city": "Austin",
			"property_state": "TX", "property_zip": "78701", "first_name": "Late", "phone": "512-555-0199"}'::jsonb
		ELSE pg_temp.record(i, 'Second Window Rd', 'Austin', 'TX', '78701', 'S' || i)
	END AS lead
FROM generate_series(1, 3000) i;
SELECT coalesce(max(id), 0) AS before_second FROM ec.leads \gset
CREATE TEMP TABLE res2 AS
SELECT ec.upsert_leads((SELECT jsonb_agg(lead ORDER BY i) FROM win2), 'wintest') AS r;
SELECT r - 'results' AS counts FROM res2;
SELECT a.i, a.ans ->> 'action' AS action, a.ans ->> 'matched_on' AS matched_on
FROM res2, jsonb_array_elements(r -> 'results') WITH ORDINALITY AS a(ans, i)
WHERE a.i IN (100, 2800) ORDER BY a.i;
-- the later record's name won; the phones in input order
SELECT first_name, phones FROM ec.leads WHERE mak = '4000000001';
-- done in input order: its new leads' ids follow the records, nothing of
-- the rolled-back attempt is left (one lead per record, one event each)
SELECT count(*) AS new_leads,
	bool_and(prev IS NULL OR prev < split_part(property_address, ' ', 1)::int) AS ids_in_input_order
FROM (SELECT property_address, lag(split_part(property_address, ' ', 1)::int) OVER (ORDER BY id) AS prev
	FROM ec.leads WHERE id > :before_second) x;
SELECT count(*) AS events_of_second_call FROM ec.pipeline_events
WHERE event_type = 'dedupe_success' AND lead_id IN (SELECT id FROM ec.leads WHERE id > :before_second);

-- the same through the look-up SELECT (taken when a key's index is not the
-- unique one it expects): a new stored lead reached the same two ways
BEGIN;
DROP INDEX ec.leads_mak_key;
CREATE INDEX leads_mak_key ON ec.leads (mak);
SELECT ec.upsert_lead('{"property_address": "8100 Window Rd", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "mak": "4000000002", "first_name": "Stored"}', 'wintest') ->> 'action' AS stored;
SELECT ec.upsert_leads((SELECT jsonb_agg(CASE
		WHEN i = 100 THEN '{"mak": "4000000002", "first_name": "Early", "phone": "512-555-0100"}'::jsonb
		WHEN i = 2800 THEN '{"property_address": "8100 Window Road", "property_city": "Austin",
			"property_state": "TX", "property_zip": "78701", "first_name": "Late", "phone": "512-555-0199"}'::jsonb
		ELSE pg_temp.record(i, 'Third Window Rd', 'Austin', 'TX', '78701', 'S' || i) END ORDER BY i)
	FROM win2), 'wintest') - 'results' AS counts;
SELECT first_name, phones FROM ec.leads WHERE mak = '4000000002';
ROLLBACK;

-- an upload of 2,500 staged rows goes the same way: each staging row gets
-- its own record's lead, a property given twice merges in row order
INSERT INTO ec.ingest_uploads (source) VALUES ('propstream') RETURNING id AS upload \gset
INSERT INTO ec.leads_staging (upload_id, row_number, record, validation_status, reasons)
SELECT :upload, i, CASE
		WHEN i = 3 THEN '{"property_address": "9000 Staged Window Ln", "property_city": "Dayton",
			"property_state": "OH", "property_zip": "45402", "first_name": "Row 3"}'::jsonb
		WHEN i = 2400 THEN '{"property_address": "9000 STAGED WINDOW LANE", "property_city": "Dayton",
			"property_state": "Ohio", "property_zip": "45402", "first_name": "Row 2400"}'::jsonb
		WHEN i = 10 THEN '{"first_name": "No key"}'::jsonb
		ELSE pg_temp.record(i, 'Staged Window Ln', 'Dayton', 'OH', '45402', 'Row ' || i)
	END, 'valid', '{}'
FROM generate_series(1, 2500) i;
SELECT ec.upsert_staged_leads(:upload, 'wintest') - 'upload_id' AS counts;
SELECT s.validation_status, s.action, count(*),
	count(*) FILTER (WHERE l.first_name = s.record ->> 'first_name') AS own_lead
FROM ec.leads_staging s LEFT JOIN ec.leads l ON l.id = s.lead_id
WHERE s.upload_id = :upload GROUP BY 1, 2 ORDER BY 1, 2;
SELECT s.row_number, s.action, l.first_name
FROM ec.leads_staging s LEFT JOIN ec.leads l ON l.id = s.lead_id
WHERE s.upload_id = :upload AND s.row_number IN (3, 10, 2400) ORDER BY 1;
DELETE FROM ec.leads_staging WHERE upload_id = :upload;
DELETE FROM ec.ingest_uploads WHERE id = :upload;

-- the leads of this file go again (the next suites count leads)
DELETE FROM ec.leads WHERE 'wintest' = ANY (sources);
