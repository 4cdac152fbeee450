-- Ingestion (issue 7): column-mapping profiles, the upload entry points, the
-- progress view. The C side is src/ingest/; the tables an upload writes are
-- in 20_ingest.sql.

-- A profile says how one sender's columns become lead keys. Profiles are data:
-- a user adds one with two INSERTs, no release needed (README, "Ingestion").
CREATE TABLE ec.ingest_profiles (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*$'),
	description text NOT NULL DEFAULT '',
	delimiter text NOT NULL DEFAULT ',' CHECK (pg_catalog.length(delimiter) = 1 AND delimiter !~ '["\r\n]'),
	records_path text[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ec.ingest_profiles IS
	'Column-mapping profiles of ec.ingest_upload (the source argument): delimiter of CSV bodies, where a JSON body keeps its records';
COMMENT ON COLUMN ec.ingest_profiles.records_path IS
	'Keys leading to the array of records in a JSON body ({results,persons} for BatchData); a body that is an array needs none';

-- One row per source field. field is a CSV header or a JSON path (object keys
-- and array positions joined by "."); "{n}" stands for a number, so one row
-- covers "Phone 1", "Phone 2", ... and "phoneNumbers.0.number", ...; the
-- number ties "Phone 2 DNC" to "Phone 2". Matching ignores case and folds
-- whitespace; an exact field wins over a pattern. Fields no row names are
-- kept under the record's "extra" (CSV) or in its "payload" (JSON, whole).
CREATE TABLE ec.ingest_profile_fields (
	profile text NOT NULL REFERENCES ec.ingest_profiles (name) ON UPDATE CASCADE ON DELETE CASCADE,
	field text NOT NULL CHECK (field ~ '\S'),
	target text NOT NULL CHECK (target IN (
		'first_name', 'last_name', 'email', 'phone', 'phone_dnc', 'property_address', 'property_unit',
		'property_city', 'property_state', 'property_zip', 'county_fips', 'apn', 'mak', 'owner_age',
		'owner_occupied', 'estimated_value', 'estimated_equity', 'years_owned', 'last_sale_date',
		'assigned_broker_id', 'verification_codes', 'ignore')),
	PRIMARY KEY (profile, field)
);
COMMENT ON TABLE ec.ingest_profile_fields IS
	'Source field (CSV header or JSON path, "{n}" for a number) to lead key, per profile';
COMMENT ON COLUMN ec.ingest_profile_fields.target IS
	'A lead key; email/phone collect every match; phone_dnc flags the phone of the same number as do-not-call; last_sale_date gives years_owned; ignore drops the field';

INSERT INTO ec.ingest_profiles (name, description, records_path) VALUES
	('propstream', 'PropStream lead-list export (CSV), and the same records as JSON', '{}'),
	('batchdata', 'BatchData property / skip-trace response (JSON, results.persons)', '{results,persons}'),
	('generic', 'Any CSV or JSON whose columns are the lead keys or their common names', '{}');

INSERT INTO ec.ingest_profile_fields (profile, field, target) VALUES
	('propstream', 'Address', 'property_address'),
	('propstream', 'Unit #', 'property_unit'),
	('propstream', 'City', 'property_city'),
	('propstream', 'State', 'property_state'),
	('propstream', 'Zip', 'property_zip'),
	('propstream', 'County FIPS', 'county_fips'),
	('propstream', 'FIPS', 'county_fips'),
	('propstream', 'APN', 'apn'),
	('propstream', 'Owner 1 First Name', 'first_name'),
	('propstream', 'Owner 1 Last Name', 'last_name'),
	('propstream', 'Owner 1 Age', 'owner_age'),
	('propstream', 'Owner Occupied', 'owner_occupied'),
	('propstream', 'Est. Value', 'estimated_value'),
	('propstream', 'Est. Equity', 'estimated_equity'),
	('propstream', 'Last Sale Recording Date', 'last_sale_date'),
	('propstream', 'Phone {n}', 'phone'),
	('propstream', 'Phone {n} DNC', 'phone_dnc'),
	('propstream', 'Email {n}', 'email'),

	('batchdata', 'propertyAddress.street', 'property_address'),
	('batchdata', 'propertyAddress.city', 'property_city'),
	('batchdata', 'propertyAddress.state', 'property_state'),
	('batchdata', 'propertyAddress.zip', 'property_zip'),
	('batchdata', 'property.apn', 'apn'),
	('batchdata', 'property.fips', 'county_fips'),
	('batchdata', 'property.ownerOccupied', 'owner_occupied'),
	('batchdata', 'property.valuation.estimatedValue', 'estimated_value'),
	('batchdata', 'property.equity.estimatedEquity', 'estimated_equity'),
	('batchdata', 'name.first', 'first_name'),
	('batchdata', 'name.last', 'last_name'),
	('batchdata', 'phoneNumbers.{n}.number', 'phone'),
	('batchdata', 'phoneNumbers.{n}.dnc', 'phone_dnc'),
	('batchdata', 'emails.{n}.email', 'email');

-- generic: the lead keys themselves (CSV headers or JSON keys) and common names
INSERT INTO ec.ingest_profile_fields (profile, field, target)
SELECT 'generic', f, t FROM (VALUES
	('first_name', 'first_name'), ('first name', 'first_name'), ('firstname', 'first_name'),
	('owner first name', 'first_name'),
	('last_name', 'last_name'), ('last name', 'last_name'), ('lastname', 'last_name'),
	('owner last name', 'last_name'),
	('email', 'email'), ('email address', 'email'), ('emails.{n}', 'email'), ('email {n}', 'email'),
	('phone', 'phone'), ('phone number', 'phone'), ('phones.{n}', 'phone'), ('phone {n}', 'phone'),
	('phone {n} dnc', 'phone_dnc'),
	('property_address', 'property_address'), ('address', 'property_address'), ('street', 'property_address'),
	('street address', 'property_address'), ('address line 1', 'property_address'),
	('property address', 'property_address'),
	('property_unit', 'property_unit'), ('unit', 'property_unit'), ('unit #', 'property_unit'),
	('apt', 'property_unit'), ('address line 2', 'property_unit'),
	('property_city', 'property_city'), ('city', 'property_city'),
	('property_state', 'property_state'), ('state', 'property_state'),
	('property_zip', 'property_zip'), ('zip', 'property_zip'), ('zip code', 'property_zip'),
	('zipcode', 'property_zip'), ('postal code', 'property_zip'),
	('county_fips', 'county_fips'), ('county fips', 'county_fips'), ('fips', 'county_fips'),
	('apn', 'apn'), ('parcel number', 'apn'), ('mak', 'mak'),
	('owner_age', 'owner_age'), ('owner age', 'owner_age'), ('age', 'owner_age'),
	('owner_occupied', 'owner_occupied'), ('owner occupied', 'owner_occupied'),
	('estimated_value', 'estimated_value'), ('estimated value', 'estimated_value'),
	('est. value', 'estimated_value'),
	('estimated_equity', 'estimated_equity'), ('estimated equity', 'estimated_equity'),
	('est. equity', 'estimated_equity'),
	('years_owned', 'years_owned'), ('years owned', 'years_owned'),
	('last sale date', 'last_sale_date'),
	('assigned_broker_id', 'assigned_broker_id'),
	('verification_codes', 'verification_codes'), ('verification_codes.{n}', 'verification_codes')
) AS v (f, t);

CREATE FUNCTION ec.ingest_upload(body bytea, headers jsonb, source text, client_ip inet)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_ingest_upload';
COMMENT ON FUNCTION ec.ingest_upload(bytea, jsonb, text, inet) IS
	'Signed CSV or JSON upload: verify, parse (COPY machinery), map with the source profile, validate, stage, upsert; {status, reason, upload_id, counts, rejected_rows}';

CREATE FUNCTION ec.ingest_unsigned(body bytea, source text, content_type text DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_ingest_unsigned';
COMMENT ON FUNCTION ec.ingest_unsigned(bytea, text, text) IS
	'ec.ingest_upload without the signature check, for bodies the caller vouches for (operators, server-side pulls)';

CREATE FUNCTION ec.ingest_finish(upload_id bigint)
RETURNS jsonb
LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_ingest_finish';
COMMENT ON FUNCTION ec.ingest_finish(bigint) IS
	'Deduplicates the valid rows of an upload staged with ec.ingest_dedupe = deferred; answers as the upload would have';

-- Progress of uploads running now. An upload reports through PostgreSQL's
-- COPY progress slots (so it also shows in pg_stat_progress_copy, against
-- ec.leads_staging); params 7 and up are ours.
CREATE VIEW ec.ingest_progress AS
SELECT p.pid,
	   p.param7 AS upload_id,
	   CASE p.param8 WHEN 1 THEN 'verifying' WHEN 2 THEN 'parsing' WHEN 3 THEN 'staging'
		   WHEN 4 THEN 'deduplicating' WHEN 5 THEN 'queueing skip-traces' END AS phase,
	   p.param2 AS bytes_total,
	   p.param1 AS bytes_processed,
	   p.param9 AS rows_parsed,
	   p.param10 AS rows_rejected,
	   p.param11 AS rows_upserted,
	   a.query_start AS started_at,
	   a.usename AS user_name
FROM pg_catalog.pg_stat_get_progress_info('COPY') p
JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) p.pid
WHERE p.relid OPERATOR(pg_catalog.=) 'ec.leads_staging'::pg_catalog.regclass::pg_catalog.oid
  AND p.param7 OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW ec.ingest_progress IS
	'Uploads running now: phase, bytes and rows done (another session can watch a long upload)';

-- Staged rows are the record of what each upload contained and why rows were
-- refused; they are not needed once looked at.
CREATE FUNCTION ec.purge_staging(older_than interval DEFAULT '30 days')
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH old AS (
		SELECT u.id FROM ec.ingest_uploads u WHERE u.received_at < pg_catalog.now() - older_than
	), gone AS (
		DELETE FROM ec.leads_staging s USING old WHERE s.upload_id = old.id RETURNING 1
	)
	SELECT pg_catalog.count(*) FROM gone
$$;
COMMENT ON FUNCTION ec.purge_staging(interval) IS
	'Deletes the staged rows of uploads received longer ago than older_than; returns how many';
