-- Lead identity: the answers of ec.upsert_lead and ec.upsert_leads are written
-- in jsonb's binary form directly (src/common/jsonb_write.c). Each answer must
-- be the jsonb PostgreSQL itself would make of the same text: equal to its own
-- text read back, of the same size (the same layout), and readable by every
-- operator, past the array's offset stride (an end offset every 32nd element).
\set VERBOSITY terse
-- in one transaction, rolled back: the other suites count leads and conflicts
BEGIN;
SELECT setval(pg_get_serial_sequence('ec.leads', 'id'), 90000) > 0 AS ok;

-- size: the answer's own size, taken before it is stored (and maybe compressed)
CREATE TEMP TABLE answers (name text PRIMARY KEY, a jsonb NOT NULL, size int);
CREATE FUNCTION pg_temp.keep(name text, a jsonb) RETURNS void LANGUAGE sql
	AS $$ INSERT INTO answers VALUES (name, a, pg_column_size(a)) $$;
CREATE TEMP VIEW answer_check AS
	SELECT name, a = a::text::jsonb AS same_value, size = pg_column_size(a::text::jsonb) AS same_size,
		a::text = (a::text::jsonb)::text AS same_text
	FROM answers ORDER BY name;

-- one lead: inserted, with warnings
SELECT pg_temp.keep('one inserted, warnings', ec.upsert_lead('{"property_address": "900 Answer Way",
	"property_city": "Dayton", "property_state": "OH", "property_zip": "45402", "mak": "9100000001",
	"email": "not an email", "phone": "12", "owner_age": 300}', 'propstream'));
-- one lead: merged
SELECT pg_temp.keep('one merged', ec.upsert_lead('{"property_address": "900 ANSWER WY",
	"property_city": "DAYTON", "property_state": "OH", "property_zip": "45402", "first_name": "Bea"}', 'batchdata'));
-- one lead: a conflict (the MAK names the first lead, the address a second one)
SELECT pg_temp.keep('one second lead', ec.upsert_lead('{"property_address": "902 Answer Way",
	"property_city": "Dayton", "property_state": "OH", "property_zip": "45402"}', 'propstream'));
SELECT pg_temp.keep('one conflict', ec.upsert_lead('{"property_address": "902 Answer Way",
	"property_city": "Dayton", "property_state": "OH", "property_zip": "45402", "mak": "9100000001"}', 'melissa'));
-- one lead: rejected
SELECT pg_temp.keep('one rejected', ec.upsert_lead('{"first_name": "No Address"}', 'generic'));
SELECT name, a FROM answers ORDER BY name;

-- 70 leads in one call: new, the same again (unchanged), rejected, with warnings
SELECT pg_temp.keep('bulk', ec.upsert_leads(jsonb_agg(l ORDER BY i), 'generic'))
FROM (SELECT i, CASE
		WHEN i % 10 = 0 THEN jsonb_build_object('first_name', 'Nobody ' || i)
		WHEN i % 10 = 5 THEN jsonb_build_object('property_address', (1000 + i - 1) || ' Answer Way',
			'property_city', 'Dayton', 'property_state', 'OH', 'property_zip', '45402')
		ELSE jsonb_build_object('property_address', (1000 + i) || ' Answer Way', 'property_city', 'Dayton',
			'property_state', 'OH', 'property_zip', '45402', 'email', CASE WHEN i % 3 = 0 THEN 'bad' ELSE 'a' || i || '@example.com' END)
	END AS l FROM generate_series(1, 70) i) s;
-- 500 leads mixing every warning and rejection the parser gives, some of them twice in the call
SELECT pg_temp.keep('mixed', ec.upsert_leads(jsonb_agg(l ORDER BY i), 'generic'))
FROM (SELECT i, jsonb_strip_nulls(jsonb_build_object(
		'property_address', CASE WHEN i % 13 <> 0 THEN (2000 + i % 450) || ' Mixed Ave' END,
		'property_unit', CASE WHEN i % 4 = 0 THEN 'Apt ' || (i % 3) END,
		'property_city', 'Dayton', 'property_state', CASE WHEN i % 17 = 0 THEN 'Ohioo' ELSE 'OH' END,
		'property_zip', CASE WHEN i % 11 = 0 THEN '4540' ELSE '45402' END,
		'email', CASE i % 5 WHEN 0 THEN 'x' || i || '@example.com' WHEN 1 THEN 'no-at-sign' END,
		'phone', CASE i % 7 WHEN 0 THEN '937-555-' || lpad((i % 10000)::text, 4, '0') WHEN 1 THEN '555' END,
		'owner_age', CASE i % 9 WHEN 0 THEN '71' WHEN 1 THEN '400' END,
		'first_name', CASE WHEN i % 3 = 0 THEN 'Ann "Q" ' || i END)) AS l
	FROM generate_series(1, 500) i) s;
SELECT * FROM answer_check;
SELECT e->>'action' AS action, coalesce(e->>'warnings', '-') AS warnings, count(*)
FROM answers, jsonb_array_elements(a->'results') e WHERE name = 'mixed' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT a - 'results' AS counts, jsonb_array_length(a->'results') AS results FROM answers WHERE name = 'bulk';
-- each element where the stride puts an offset, and around it
SELECT i, a->'results'->i->>'action' AS action, (a->'results'->i->>'status')::int AS status,
	a->'results'->i->'warnings' AS warnings, a->'results'->i->>'reason' AS reason
FROM answers, unnest(ARRAY[0, 1, 31, 32, 33, 63, 64, 65, 69]) i WHERE name = 'bulk' ORDER BY i;
-- the same answers through the iterators, the path engine and containment
SELECT e->>'action' AS action, e->>'reason' AS reason, count(*)
FROM answers, jsonb_array_elements(a->'results') e WHERE name = 'bulk' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT jsonb_path_query_array(a, '$.results[*] ? (@.status == 422).reason') = jsonb_path_query_array(a::text::jsonb,
	'$.results[*] ? (@.status == 422).reason') AS same_path,
	a @> '{"results": [{"action": "rejected", "reason": "no_identity_key"}]}' AS contains_rejected,
	(SELECT count(*) FROM jsonb_each(a)) AS keys
FROM answers WHERE name = 'bulk';
-- every lead id answered is a lead
SELECT count(*) FILTER (WHERE l.id IS NULL) AS missing, count(*) AS answered
FROM answers, jsonb_array_elements(a->'results') e LEFT JOIN ec.leads l ON l.id = (e->>'lead_id')::bigint
WHERE name = 'bulk' AND e->>'lead_id' IS NOT NULL;
ROLLBACK;
