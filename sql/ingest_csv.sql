-- CSV uploads through ec.ingest_unsigned (the path every upload takes once
-- its signature is checked): PostgreSQL's COPY machinery parses, the profile
-- maps, each row is validated and staged with its reasons.
SET client_min_messages = warning;
\set VERBOSITY terse
-- in a transaction rolled back at the end, on an empty lead table: the
-- suites after this one see nothing of it, and it sees nothing of theirs
BEGIN;
TRUNCATE ec.leads CASCADE;
\getenv abs_srcdir PG_ABS_SRCDIR
\set propstream_csv :abs_srcdir '/test/data/propstream_export_sample.csv'
\set quirks_csv :abs_srcdir '/test/data/quirks.csv'

-- an answer without what changes from run to run
CREATE FUNCTION pg_temp.a(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT r - 'upload_id' - 'duration_ms'
$$;
CREATE FUNCTION pg_temp.csv(body text, source text DEFAULT 'generic') RETURNS jsonb LANGUAGE sql AS $$
	SELECT pg_temp.a(ec.ingest_unsigned(convert_to(body, 'UTF8'), source))
$$;
-- the staged rows of the last upload
CREATE FUNCTION pg_temp.staged() RETURNS TABLE (row_number int, validation_status ec.staging_status, reasons text[], record jsonb)
LANGUAGE sql AS $$
	SELECT s.row_number, s.validation_status, s.reasons, s.record FROM ec.leads_staging s
	 WHERE s.upload_id = (SELECT max(id) FROM ec.ingest_uploads) ORDER BY s.row_number
$$;

-- The PropStream export (the fixture): 12 rows, one unusable (row 11), one
-- with its only phone on the do-not-call list (row 3).
SELECT jsonb_pretty(pg_temp.a(ec.ingest_unsigned(pg_read_binary_file(:'propstream_csv'), 'propstream')));
SELECT row_number, validation_status, reasons FROM pg_temp.staged();
-- a kept row: lead keys in canonical form, numbered Phone N / Email N columns
-- gathered, the sale date turned into years owned, unmapped columns in extra
SELECT jsonb_pretty(record - 'years_owned') FROM pg_temp.staged() WHERE row_number = 12;
SELECT (record ->> 'years_owned')::int >= 20 AS years_owned_from_sale_date FROM pg_temp.staged() WHERE row_number = 12;
-- ZIP+4 kept apart, respellings left to identity
SELECT record ->> 'property_address', record ->> 'property_zip', record ->> 'zip4',
	   record -> 'phones', record -> 'emails'
  FROM pg_temp.staged() WHERE row_number IN (7, 9) ORDER BY row_number;
-- the DNC phone is not a phone to call: kept apart
SELECT record -> 'phones' AS phones, record -> 'dnc_phones' AS dnc_phones FROM pg_temp.staged() WHERE row_number = 3;
-- rows 7 and 9 respell rows 1 and 2: one property, one lead; they are the
-- file's duplicates, merged into the lead the earlier row made
SELECT row_number, validation_status, action, lead_id = first_value(lead_id) OVER (PARTITION BY lead_id ORDER BY row_number) AS same_lead
  FROM ec.leads_staging WHERE upload_id = (SELECT max(id) FROM ec.ingest_uploads) AND row_number IN (1, 2, 7, 9)
 ORDER BY lead_id, row_number;
-- the leads: USPS spellings, E.164 phones, contacts of both rows, the DNC
-- phone nowhere among the numbers to call, unmapped columns kept
SELECT l.property_address, l.property_unit, l.property_zip, l.phones, l.emails, l.years_owned > 0 AS owned,
	   l.campaign_status, l.sources
  FROM ec.leads l ORDER BY l.property_address;
SELECT count(*) AS leads_with_dnc_number_to_call FROM ec.leads WHERE '+18135554476' = ANY (phones);
SELECT extra ->> 'Property Type' AS property_type, extra ->> 'dnc_phones' AS dnc_phones
  FROM ec.leads WHERE property_address LIKE '4405 %';
-- the rejected row keeps every field as read
SELECT jsonb_pretty(record) FROM pg_temp.staged() WHERE row_number = 11;
-- the upload is recorded with its answer
SELECT source, format, status, reason, byte_count, length(content_sha256) AS sha_len,
	   counts ->> 'received' AS received, finished_at >= received_at AS finished
  FROM ec.ingest_uploads WHERE id = (SELECT max(id) FROM ec.ingest_uploads);
-- upload_received for the upload, dedupe_success for each batch (with its counts)
SELECT event_type, ok, coalesce(detail ->> 'reason', detail ->> 'rows') AS reason_or_rows, duration_ms >= 0 AS timed
  FROM ec.pipeline_events WHERE upload_id = (SELECT max(id) FROM ec.ingest_uploads) ORDER BY id;

-- RFC 4180 and the files people really send: a BOM, CRLF, quoted commas,
-- quotes and newlines, blank lines, a ragged row, header names twice or blank
SELECT jsonb_pretty(pg_temp.a(ec.ingest_unsigned(pg_read_binary_file(:'quirks_csv'), 'generic')));
SELECT row_number, validation_status, reasons, record FROM pg_temp.staged();

-- Semicolons (a spreadsheet's CSV in some locales) are recognised from the header.
SELECT pg_temp.csv(E'address;city;state;zip;email\n"1 Elm St, Rear";Austin;texas;78704;JO@X.COM\n');
SELECT record FROM pg_temp.staged();

-- Each field's checks: bad contacts are dropped from a kept row, a bad
-- property rejects the row.
SELECT pg_temp.csv(E'address,city,state,zip,email,phone,owner age,owner occupied,estimated value,mak,county fips,verification_codes\n'
	'1 Quill Ln,Austin,TX,78704,a@b.co,(512) 555-0100,130,Y,"$1,200",12345,6037,"ES01, ps01,BAD-1"\n'
	'2 Quill Ln,Austin,TX,78704,a@@b.co,+44 20 7946 0958,seventy,maybe,-5,1234567890,48453,\n'
	'3 Quill Ln,,TX,,,,,,,,,\n'
	'4 Quill Ln,Austin,Texas,78704-123,,,,,,,,\n'
	'5 Quill Ln,Austin,Tejas,78704,,,,,,,,\n'
	',Austin,TX,78704,,,,,,,,\n'
	'6 Quill Ln,Austin,,78704,,,,,,,,\n'
	'7 Quill Ln,Austin,TX,,,,,,,,,\n');
SELECT row_number, validation_status, reasons, record FROM pg_temp.staged();

-- A profile is data: a user adds one, without a release. Columns it does not
-- name are kept under extra, not dropped.
INSERT INTO ec.ingest_profiles (name, description, delimiter) VALUES ('county_list', 'A county''s tax roll', '|');
INSERT INTO ec.ingest_profile_fields (profile, field, target) VALUES
	('county_list', 'SITUS ADDR', 'property_address'), ('county_list', 'SITUS ZIP', 'property_zip'),
	('county_list', 'ST', 'property_state'), ('county_list', 'OWNER', 'last_name'),
	('county_list', 'PARCEL', 'apn'), ('county_list', 'TEL {n}', 'phone'), ('county_list', 'NOTES', 'ignore');
SELECT pg_temp.csv(E'SITUS ADDR|SITUS ZIP|ST|OWNER|PARCEL|TEL 1|TEL 2|NOTES|LAND USE\n'
	'9 Oak Ct|32803|FL|Nguyen|29-22-30-1234|407 555 0111|407.555.0112|call after 5|SFR\n', 'county_list');
SELECT record FROM pg_temp.staged();

-- Bodies that cannot be read: a clear status and reason, nothing staged.
SELECT pg_temp.csv('');
SELECT pg_temp.csv(E'\xEF\xBB\xBF \r\n');
SELECT pg_temp.csv(E'address,city,state,zip\n');
SELECT pg_temp.csv(E'address,city,state,zip\r\n\r\n');
SELECT pg_temp.csv(E'address,city,state,zip\n1 Main St,Austin,TX,"78704\n2 Oak St,Austin,TX,78704\n');
SELECT pg_temp.a(ec.ingest_unsigned('\x616464726573732c7a69700a31204d61696e2053742cff0a'::bytea, 'generic'));
SELECT pg_temp.a(ec.ingest_unsigned('\x616464726573732c7a69700a31204d61696e0053742c0a'::bytea, 'generic'));
SELECT pg_temp.a(ec.ingest_unsigned(convert_to(E'address,city,state,zip\r\n1 Main St,Austin,TX,78704\n', 'UTF8'), 'generic'));
SELECT pg_temp.csv(E'address,city,state,zip\n\\.\n1 Main St,Austin,TX,78704\n');
SELECT pg_temp.csv(repeat('c,', 9999) || E'c\n' || repeat('1,', 9999) || E'1\n');
SELECT pg_temp.csv(E'address,city,state,zip\n,,,\n9 Elm,,,\n');
SELECT pg_temp.csv('address', 'nosuch');
SELECT ec.ingest_unsigned(NULL, 'generic');
SELECT ec.ingest_unsigned('\x00'::bytea, NULL);
-- none of those left a staged row; each left its upload row with the answer
SELECT u.reason, count(s.*) AS staged
  FROM ec.ingest_uploads u LEFT JOIN ec.leads_staging s ON s.upload_id = u.id
 WHERE u.status = 422 GROUP BY u.id, u.reason ORDER BY u.id;
-- a narrower column limit
SET ec.ingest_max_columns = 3;
SELECT pg_temp.csv(E'address,city,state,zip\n1 Main St,Austin,TX,78704\n');
RESET ec.ingest_max_columns;

-- the answer lists the first rejected rows only; every one is staged
SET ec.ingest_rejected_shown = 2;
SELECT pg_temp.csv(E'address,state,zip\n,TX,78704\n,TX,78704\n,TX,78704\n1 Main St,TX,78704\n');
SELECT count(*) FROM pg_temp.staged() WHERE validation_status = 'rejected';
RESET ec.ingest_rejected_shown;

-- batches: a small batch size stages and deduplicates the same rows, one
-- dedupe_success event per batch; a duplicate across batches is still found
SET ec.ingest_batch_rows = 2;
SELECT max(id) AS events_before FROM ec.pipeline_events \gset
SELECT pg_temp.csv(E'address,state,zip\n1 Batch St,TX,78704\n2 Batch St,TX,78704\n3 Batch St,TX,78704\n'
	'4 Batch St,TX,78704\n1 BATCH STREET,TX,78704\n');
SELECT array_agg(row_number ORDER BY row_number), array_agg(validation_status ORDER BY row_number) FROM pg_temp.staged();
SELECT detail ->> 'batch' AS batch, detail ->> 'rows' AS rows, detail ->> 'inserted' AS inserted, detail ->> 'merged' AS merged
  FROM ec.pipeline_events WHERE event_type = 'dedupe_success' AND upload_id = (SELECT max(id) FROM ec.ingest_uploads)
 ORDER BY id;
RESET ec.ingest_batch_rows;
-- ... and those are the upload's only dedupe events: identity writes none per
-- row of an upload (each row's lead and action are in leads_staging); a
-- direct ec.upsert_leads after it logs each lead again
SELECT event_type, count(*) FROM ec.pipeline_events WHERE id > :events_before GROUP BY 1 ORDER BY 1;
SELECT max(id) AS events_before FROM ec.pipeline_events \gset
SELECT ec.upsert_leads('[{"property_address": "5 Batch St", "property_state": "TX", "property_zip": "78704"},
	{"property_address": "2 BATCH STREET", "property_state": "TX", "property_zip": "78704"}]', 'test') ->> 'merged' AS merged;
SELECT event_type, detail ->> 'action' AS action, lead_id IS NOT NULL AS has_lead
  FROM ec.pipeline_events WHERE id > :events_before ORDER BY id;

-- a one-column address (a spreadsheet's "Property Address"): split into
-- street, city, state and ZIP when the row has none of its own, as identity
-- splits it; a unit where the city would be is not split, and the row has no state
SELECT pg_temp.csv(E'property address,owner\n"77 Whole Line Rd, Austin, TX 78704",Ann\n'
	'"78 Whole Line Rd Apt 2, Austin TX",Bob\n"79 Whole Line Rd, Apt 4, TX 78704",Cy\n') - 'rejected_rows' AS answer;
SELECT row_number, validation_status, reasons, record ->> 'property_address' AS street, record ->> 'property_city' AS city,
	   record ->> 'property_state' AS state, record ->> 'property_zip' AS zip FROM pg_temp.staged();
SELECT property_address, property_unit, property_city, property_state, property_zip FROM ec.leads
 WHERE property_address LIKE '7_ WHOLE LINE RD' ORDER BY 1;

-- one batch wider than jsonb's offset stride (32), with rejected rows and
-- in-file duplicates between the valid ones: every row gets the lead of its
-- own record, and only a row whose lead an earlier row made is a duplicate
SELECT pg_temp.csv(E'address,state,zip\n' || string_agg(
	CASE WHEN n % 17 = 0 THEN n || ' Stride Road,ZZ,78701'
		 WHEN n % 13 = 0 THEN (n - 12) || ' STRIDE RD,TX,78701'
		 ELSE n || ' Stride Road,TX,78701' END, E'\n' ORDER BY n) || E'\n') AS wide
  FROM generate_series(1, 80) n;
SELECT validation_status, count(*) FROM pg_temp.staged() GROUP BY 1 ORDER BY 1;
SELECT count(*) AS rows_on_their_own_lead
  FROM ec.leads_staging s JOIN ec.leads l ON l.id = s.lead_id
 WHERE s.upload_id = (SELECT max(id) FROM ec.ingest_uploads)
   AND split_part(l.property_address, ' ', 1) = split_part(s.record ->> 'property_address', ' ', 1);
SELECT array_agg(row_number ORDER BY row_number) AS duplicates FROM pg_temp.staged()
 WHERE validation_status = 'duplicate_in_file';

-- Deferred deduplication: the upload stages and answers (a session under an
-- API role's time limit can afford that); ec.ingest_finish does the rest
SET ec.ingest_dedupe = deferred;
SELECT pg_temp.csv(E'address,state,zip\n9 Later Ave,NV,89509\n9 LATER AVENUE,NV,89509\n,NV,89509\n') AS staged;
SELECT count(*) AS leads_yet FROM ec.leads WHERE property_address LIKE '9 LATER%';
RESET ec.ingest_dedupe;
SELECT pg_temp.a(ec.ingest_finish((SELECT max(id) FROM ec.ingest_uploads))) AS finished;
SELECT property_address FROM ec.leads WHERE property_address LIKE '9 LATER%';
SELECT status, reason, counts ->> 'inserted' AS inserted, counts ? 'dedupe' AS still_deferred
  FROM ec.ingest_uploads WHERE id = (SELECT max(id) FROM ec.ingest_uploads);
SELECT event_type FROM ec.pipeline_events WHERE upload_id = (SELECT max(id) FROM ec.ingest_uploads) ORDER BY id;
-- once only, and only for an upload that waits
\set VERBOSITY sqlstate
SAVEPOINT misuse;
SELECT ec.ingest_finish((SELECT max(id) FROM ec.ingest_uploads));
ROLLBACK TO misuse;
SELECT ec.ingest_finish(-1);
ROLLBACK TO misuse;
\set VERBOSITY terse

-- progress of uploads running now (none here); the view reads COPY's slots
SELECT count(*) FROM ec.ingest_progress;

ROLLBACK;
