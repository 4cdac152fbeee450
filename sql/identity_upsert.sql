-- Lead identity, part 2: ec.upsert_lead(s): the cascade MAK -> county APN ->
-- addr_hash, safe merges, verification codes, conflicts, do_not_contact,
-- eligibility, pipeline events, the bulk and staging entry points.
\set VERBOSITY terse
-- ids of their own, clear of the other suites' explicit ids
SELECT setval(pg_get_serial_sequence('ec.leads', 'id'), 20000) > 0 AS ok;
SELECT coalesce(max(id), 0) AS first_event FROM ec.pipeline_events \gset
CREATE TEMP VIEW lead AS
	SELECT id, first_name, email, emails, phone, phones, email_verified AS ev, phone_verified AS pv,
		campaign_status AS status, mak, apn_key, property_address AS addr, property_unit AS unit,
		property_city AS city, property_state AS st, property_zip AS zip, county_fips AS fips,
		estimated_value AS value, owner_age AS age, verification_codes AS codes, sources
	FROM ec.leads WHERE id > 20000;

-- Melissa's codes are seeded
SELECT kind, verdict, count(*) FROM ec.verification_code_map WHERE provider = 'melissa' GROUP BY 1, 2 ORDER BY 1, 2;

-- a new property: inserted as 'new'
SELECT ec.upsert_lead('{"first_name": "Ann", "last_name": "Lee", "property_address": "123 North Main Street Apt 4",
	"property_city": "Springfield", "property_state": "Illinois", "property_zip": "62704-1234",
	"email": "Ann.Lee@Example.com", "estimated_value": "$350,000", "owner_age": 72}', 'propstream');
-- the same property spelled another way: merged on addr_hash, the new phone added
SELECT ec.upsert_lead('{"property_address": "123 N MAIN ST #4", "property_city": "SPRINGFIELD",
	"property_state": "IL", "property_zip": "62704", "phone": "(217) 555-0100", "first_name": ""}', 'batchdata');
-- the same record again: nothing to change
SELECT ec.upsert_lead('{"property_address": "123 N MAIN ST #4", "property_city": "SPRINGFIELD",
	"property_state": "IL", "property_zip": "62704", "phone": "217.555.0100"}', 'batchdata');
-- another unit of the building is another lead
SELECT ec.upsert_lead('{"property_address": "123 N Main St Unit 5", "property_city": "Springfield",
	"property_state": "IL", "property_zip": "62704"}', 'propstream');
SELECT id, first_name, email, emails, phone, phones, status, addr, unit, city, st, zip, value, age, sources FROM lead ORDER BY id;

-- keys are filled in where empty: MAK and APN arrive later (matched on the address)
SELECT ec.upsert_lead('{"property_address": "123 North Main St", "property_unit": "Apt 4", "property_city": "Springfield",
	"property_state": "IL", "property_zip": "62704", "mak": "1000000001", "apn": "14-28-100-004", "county_fips": "167"}', 'melissa');
-- now the MAK leads the cascade, whatever the address says
SELECT ec.upsert_lead('{"mak": " 1000000001 ", "property_address": "9 Elsewhere Rd", "property_zip": "99999",
	"last_name": "Lee-Smith"}', 'melissa')->>'matched_on' AS matched_on;
-- then the county-scoped APN; the same APN in another county is another parcel
SELECT ec.upsert_lead('{"apn": "14 28 100 004", "county_fips": "17167", "owner_age": "73"}', 'propstream')->>'matched_on' AS matched_on;
SELECT ec.upsert_lead('{"apn": "14-28-100-004", "county_fips": "031", "property_state": "IL"}', 'propstream')->>'action' AS other_county;
SELECT id, first_name, mak, apn_key, fips, addr, unit, zip, age FROM lead ORDER BY id;

-- safe merges: NULL and empty never overwrite, arrays keep order without duplicates
SELECT ec.upsert_lead('{"mak": "1000000001", "first_name": null, "owner_age": null, "emails": ["second@example.com", "ann.lee@example.com"],
	"phones": ["217-555-0199", "+1 217 555 0100"], "estimated_value": 360000}', 'batchdata')->>'action' AS action;
SELECT first_name, email, emails, phone, phones, value, age FROM lead WHERE mak = '1000000001';
-- provider payloads are kept per provider, unknown keys are kept
SELECT ec.upsert_lead('{"mak": "1000000001", "payload": {"Result": "AS01"}, "lead_source_list": "Q3 absentee"}', 'melissa')->>'action' AS action;
SELECT ec.upsert_lead('{"mak": "1000000001", "payload": {"propertyId": 42}, "tags": ["equity"]}', 'propstream')->>'action' AS action;
SELECT ec.upsert_lead('{"mak": "1000000001", "payload": {"Result": "AS01,AS14"}}', 'melissa')->>'action' AS action;
-- an "extra" object (an upload's unmapped columns) joins extra key by key; its keys are never lead fields
SELECT ec.upsert_lead('{"mak": "1000000001", "extra": {"Property Type": "Condo", "campaign_status": "converted"}}', 'propstream')->>'action' AS action;
SELECT provider_payloads, extra, campaign_status FROM ec.leads WHERE mak = '1000000001';

-- verification: a valid code verifies and queues a new lead (and logs it)
SELECT ec.upsert_lead('{"mak": "1000000001", "verification_codes": "ES01"}', 'melissa') - 'lead_id' AS answer;
SELECT ev, pv, status, codes FROM lead WHERE mak = '1000000001';
-- unknown and unverified-meaning codes leave the flag alone
SELECT ec.upsert_lead('{"mak": "1000000001", "verification_codes": ["ES03", "ZZ99"]}', 'melissa')->>'action' AS action;
SELECT ev, status, codes FROM lead WHERE mak = '1000000001';
-- an invalid code clears it; the lead never moves back to 'new'
SELECT ec.upsert_lead('{"mak": "1000000001", "verification_codes": "ES04,PS01"}', 'melissa')->>'action' AS action;
SELECT ev, pv, status, codes FROM lead WHERE mak = '1000000001';
-- a verified flag from the sender counts as valid, a false one changes nothing
SELECT ec.upsert_lead('{"mak": "1000000001", "email_verified": true}', 'melissa')->>'action' AS action;
SELECT ec.upsert_lead('{"mak": "1000000001", "email_verified": false, "phone_verified": false}', 'melissa')->>'action' AS action;
SELECT ev, pv FROM lead WHERE mak = '1000000001';
-- a new lead verified on arrival is queued at once
SELECT ec.upsert_lead('{"property_address": "7 Oak Ln", "property_city": "Boise", "property_state": "ID",
	"property_zip": "83702", "phone": "208-555-0111", "verification_codes": "PS01"}', 'melissa')->>'campaign_status' AS status;
-- the code map is read again after it changes
UPDATE ec.verification_code_map SET verdict = 'invalid' WHERE provider = 'melissa' AND code = 'PS01';
SELECT ec.upsert_lead('{"property_address": "7 Oak Ln", "property_city": "Boise", "property_state": "ID",
	"property_zip": "83702", "verification_codes": "PS01"}', 'melissa')->>'action' AS action;
SELECT pv, status FROM lead WHERE addr = '7 OAK LN';
UPDATE ec.verification_code_map SET verdict = 'valid' WHERE provider = 'melissa' AND code = 'PS01';

-- do_not_contact is sticky
SELECT ec.upsert_lead('{"property_address": "8 Pine Ct", "property_zip": "83702", "do_not_contact": true}', 'generic')->>'campaign_status' AS status;
SELECT ec.upsert_lead('{"property_address": "8 Pine Court", "property_zip": "83702", "campaign_status": "new",
	"email": "x@example.com", "verification_codes": "ES01", "do_not_contact": false}', 'propstream')->>'campaign_status' AS status;
SELECT ev, status FROM lead WHERE addr = '8 PINE CT';

-- conflicts: the MAK points to one lead, the APN to another
SELECT ec.upsert_lead('{"mak": "2000000002", "property_address": "1 First St", "property_zip": "10001"}', 'melissa')->>'lead_id' AS a \gset
SELECT ec.upsert_lead('{"apn": "777-1", "county_fips": "36061", "property_address": "2 Second St", "property_zip": "10001"}', 'propstream')->>'lead_id' AS b \gset
SELECT ec.upsert_lead('{"mak": "2000000002", "apn": "7771", "county_fips": "36061", "property_address": "2 Second Street",
	"property_zip": "10001", "first_name": "Cy"}', 'batchdata') AS answer \gset
SELECT (:'answer'::jsonb->>'lead_id')::bigint = :a AS merged_into_mak_lead,
	:'answer'::jsonb->>'matched_on' AS matched_on,
	(:'answer'::jsonb->'conflict'->>'apn_lead_id')::bigint = :b AS names_apn_lead,
	(:'answer'::jsonb->'conflict'->>'addr_hash_lead_id')::bigint = :b AS names_hash_lead;
-- the MAK lead did not take the other lead's keys; the other lead is untouched
SELECT id = :a AS is_a, first_name, mak, apn_key, addr FROM lead WHERE id IN (:a, :b) ORDER BY id;
-- the conflict waits in the dead-letter queue for a person
SELECT source, kind, lead_id = :a AS lead_a, payload->'conflict' ? 'apn_lead_id' AS has_conflict,
	payload->>'source' AS src, payload->'lead'->>'first_name' AS lead_name, resolved_at IS NULL AS open
FROM ec.pipeline_dlq WHERE kind = 'dedupe_conflict' ORDER BY id;
-- a key of the matched lead that differs from the input's is a conflict too
SELECT (ec.upsert_lead('{"mak": "4000000004", "property_address": "1 First Street", "property_zip": "10001"}', 'melissa')->'conflict') - 'merged_into' AS conflict;
SELECT mak FROM lead WHERE id = :a;
-- an empty key is filled in, which is no conflict
SELECT ec.upsert_lead('{"apn": "777-1", "county_fips": "36061", "mak": "3000000003"}', 'melissa')->'conflict' AS conflict;
SELECT mak, apn_key FROM lead WHERE id = :b;
SELECT count(*) AS dlq FROM ec.pipeline_dlq WHERE kind = 'dedupe_conflict';

-- bad values are dropped with a warning, never an error
SELECT ec.upsert_lead('{"property_address": "5 Birch Pl", "property_zip": "83702", "owner_age": 7, "years_owned": "ten",
	"phone": "555-1234", "email": "not an email", "estimated_value": "lots", "assigned_broker_id": 999999,
	"mak": "12345", "apn": "12#3", "county_fips": "12", "owner_occupied": "maybe", "property_state": "Atlantis"}', 'generic') - 'lead_id' AS answer;
SELECT phone, email, age, value, mak, apn_key, st FROM lead WHERE addr = '5 BIRCH PL';
-- no key at all: rejected (422), not raised
SELECT ec.upsert_lead('{"first_name": "Nobody"}', 'generic');
SELECT ec.upsert_lead('{"property_address": "1 Main St"}', 'generic');
SELECT ec.upsert_lead('[1, 2]', 'generic');
SELECT ec.upsert_lead(NULL, 'generic');
SELECT ec.upsert_lead('{"property_address": "1 Main St", "property_zip": "10001"}', 'Bad Source!');

-- the bulk entry: one call, duplicates within the array merged
SELECT ec.upsert_leads('[
	{"property_address": "10 Elm St", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
	{"property_address": "10 Elm Street", "property_city": "Dayton", "property_state": "Ohio", "property_zip": "45402", "phone": "937-555-0100"},
	{"property_address": "10 Elm Street", "property_city": "Dayton", "property_state": "Ohio", "property_zip": "45402"},
	{"property_address": "12 Elm St", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
	{"nothing": true},
	"not an object"]', 'generic') - 'results' AS counts;
SELECT jsonb_path_query_array(ec.upsert_leads('[{"property_address": "10 Elm St", "property_zip": "45402", "property_city": "Dayton", "property_state": "OH"}]', 'generic'),
	'$.results[*].action') AS actions;
SELECT ec.upsert_leads('{"not": "an array"}', 'generic');
SELECT ec.upsert_leads('[]', 'generic') - 'results' AS empty;

-- the staging entry used by ingestion
INSERT INTO ec.ingest_uploads (source) VALUES ('propstream') RETURNING id AS upload \gset
INSERT INTO ec.leads_staging (upload_id, row_number, record, validation_status, reasons) VALUES
	(:upload, 1, '{"property_address": "20 Ash Way", "property_zip": "45402", "property_city": "Dayton", "property_state": "OH"}', 'valid', '{}'),
	(:upload, 2, '{"property_address": "20 Ash Wy", "property_zip": "45402", "property_city": "Dayton", "property_state": "OH"}', 'valid', '{}'),
	(:upload, 3, '{"first_name": "No key"}', 'valid', '{}'),
	(:upload, 4, '{"property_address": "21 Ash Way", "property_zip": "45402"}', 'rejected', '{bad_row}');
SELECT ec.upsert_staged_leads(:upload, 'propstream') - 'upload_id' AS counts;
SELECT row_number, validation_status, action, lead_id IS NOT NULL AS has_lead, reasons
FROM ec.leads_staging WHERE upload_id = :upload ORDER BY row_number;
SELECT ec.upsert_staged_leads(:upload, 'propstream') - 'upload_id' AS again;

-- every upsert left an event with its duration
SELECT event_type, ok, count(*) FROM ec.pipeline_events
WHERE id > :first_event GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS without_duration FROM ec.pipeline_events
WHERE id > :first_event AND event_type IN ('dedupe_success', 'dedupe_failed') AND (duration_ms IS NULL OR duration_ms < 0);
SELECT detail FROM ec.pipeline_events WHERE id > :first_event AND event_type = 'dedupe_failed' ORDER BY id LIMIT 2;

-- one property, one lead: no key appears twice
SELECT count(*) - count(DISTINCT addr_hash) - (count(*) - count(addr_hash)) AS duplicate_hashes FROM ec.leads;

-- the pair table end to end: both spellings of a "same" pair upsert into one
-- lead, the two addresses of a "diff" pair into two (one lead per call, and
-- the bulk path over all of them at once)
CREATE TEMP TABLE pairs (expect text, a_line1 text, a_line2 text, a_city text, a_state text, a_zip text,
	b_line1 text, b_line2 text, b_city text, b_state text, b_zip text, note text);
\copy pairs FROM 'test/data/address_pairs.tsv' WITH (FORMAT csv, DELIMITER E'\t', HEADER true, QUOTE E'\x01')
CREATE TEMP TABLE pair_leads AS
SELECT p.expect, p.note,
	(ec.upsert_lead(jsonb_strip_nulls(jsonb_build_object('property_address', a_line1, 'property_unit', a_line2,
		'property_city', a_city, 'property_state', a_state, 'property_zip', a_zip)), 'pairs')->>'lead_id')::bigint AS a,
	(ec.upsert_lead(jsonb_strip_nulls(jsonb_build_object('property_address', b_line1, 'property_unit', b_line2,
		'property_city', b_city, 'property_state', b_state, 'property_zip', b_zip)), 'pairs')->>'lead_id')::bigint AS b
FROM pairs p;
SELECT expect, count(*) AS pairs, count(*) FILTER (WHERE (a = b) = (expect = 'same')) AS right
FROM pair_leads GROUP BY expect ORDER BY expect;
SELECT expect, note, a, b FROM pair_leads WHERE a IS NULL OR b IS NULL OR (a = b) <> (expect = 'same');
-- the bulk path agrees: every spelling again, in one call, lands on the same leads
CREATE TEMP TABLE pair_array AS
SELECT jsonb_agg(x ORDER BY n) AS leads FROM (
	SELECT 1 AS n, jsonb_strip_nulls(jsonb_build_object('property_address', a_line1, 'property_unit', a_line2,
		'property_city', a_city, 'property_state', a_state, 'property_zip', a_zip)) AS x FROM pairs
	UNION ALL
	SELECT 2, jsonb_strip_nulls(jsonb_build_object('property_address', b_line1, 'property_unit', b_line2,
		'property_city', b_city, 'property_state', b_state, 'property_zip', b_zip)) FROM pairs) s;
SELECT r->>'action' AS action, count(*)
FROM jsonb_array_elements(ec.upsert_leads((SELECT leads FROM pair_array), 'pairs')->'results') AS r
GROUP BY 1 ORDER BY 1;
-- The bulk path finds leads by probing their key indexes; when one of them is
-- not the index it expects, by its SELECT. The same leads either way: by
-- each kind of key, a lead found by two keys of one call, a conflict, a
-- key repeated within the call, a spelling of a lead the call inserted.
-- A stored lead the look-up missed would still be merged (its INSERT runs
-- into the key and the lead goes the one-lead way), but ids would be taken
-- for it: the second call's new leads take the two ids after the first's.
CREATE FUNCTION pg_temp.probe_calls() RETURNS TABLE (call int, n bigint, action text, matched_on text,
	conflict boolean, lead int, next_id bigint) LANGUAGE sql AS $$
	WITH first AS (
		SELECT ec.upsert_leads('[
			{"mak": "9100000001", "property_address": "31 Probe Rd", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
			{"apn": "31-7", "county_fips": "39113", "property_address": "32 Probe Rd", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
			{"property_address": "33 Probe Rd", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
			{"apn": "35-1", "county_fips": "39113", "property_address": "35 Probe Rd", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"}]', 'probe') AS a
	), second AS (
		SELECT ec.upsert_leads('[
			{"mak": "9100000001", "first_name": "Ann"},
			{"apn": "31 7", "county_fips": "39113", "property_state": "OH", "first_name": "Bo"},
			{"mak": "9100000001", "apn": "31.7", "county_fips": "39113", "property_state": "OH", "last_name": "Both"},
			{"mak": "9100000001", "property_address": "32 Probe Road", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
			{"property_address": "33 Probe Road", "property_city": "Dayton", "property_state": "Ohio", "property_zip": "45402", "first_name": "Cy"},
			{"property_address": "34 Probe Rd", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
			{"property_address": "34 PROBE ROAD", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402", "first_name": "Di"},
			{"property_address": "20 Elm St", "property_city": "Dayton", "property_state": "OH", "property_zip": "45402"},
			{"apn": "35 1", "county_fips": "39113", "property_state": "OH", "first_name": "Ed"}]', 'probe')
		FROM first
	), results AS (
		SELECT 1 AS call, r.n, r.x FROM first, jsonb_array_elements(a -> 'results') WITH ORDINALITY r (x, n)
		UNION ALL
		SELECT 2, r.n, r.x FROM second s (a), jsonb_array_elements(a -> 'results') WITH ORDINALITY r (x, n)
	)
	SELECT call, n, x ->> 'action', x ->> 'matched_on', jsonb_typeof(x -> 'conflict') = 'object',
		dense_rank() OVER (ORDER BY (x ->> 'lead_id')::bigint)::int,
		CASE WHEN call = 2 AND x ->> 'action' = 'inserted' THEN (x ->> 'lead_id')::bigint
			- (SELECT max((r1.x ->> 'lead_id')::bigint) FROM results r1 WHERE r1.call = 1) END
	FROM results ORDER BY call, n
$$;
BEGIN;
SELECT * FROM pg_temp.probe_calls();
ROLLBACK;
BEGIN;
DROP INDEX ec.leads_mak_key;
CREATE INDEX leads_mak_key ON ec.leads (mak);
SELECT * FROM pg_temp.probe_calls();
ROLLBACK;

-- leave the table as the other suites expect it
DELETE FROM ec.leads_staging WHERE upload_id = :upload;
DELETE FROM ec.ingest_uploads WHERE id = :upload;
DELETE FROM ec.leads WHERE id > 20000;
