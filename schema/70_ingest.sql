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

-- Skip-trace verification. Leads without a verified contact are sent to a
-- provider (Melissa, TLO, BatchData) chosen by ec.skiptrace_providers:
-- enabled ones, lowest priority first; when a provider fails or finds
-- nothing, the next one is tried. Requests go out through the HTTP queue
-- (ec.http_enqueue), never inside the upload's transaction; the answer comes
-- back through the queue's callback, ec.skiptrace_answer, and is merged into
-- the lead by ec.upsert_lead (provider codes -> email_verified /
-- phone_verified through ec.verification_code_map; the raw answer kept in
-- the lead's provider_payloads).
CREATE TABLE ec.skiptrace_providers (
	name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*$'),
	kind text NOT NULL CHECK (kind IN ('melissa', 'tlo', 'batchdata')),
	enabled boolean NOT NULL DEFAULT false,
	priority integer NOT NULL DEFAULT 100,
	url text NOT NULL CHECK (url ~ '^https?://'),
	api_key_id text CHECK (api_key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	auth_header text NOT NULL DEFAULT 'Authorization' CHECK (auth_header ~ '^[A-Za-z0-9-]{1,64}$'),
	auth_prefix text NOT NULL DEFAULT 'Bearer ' CHECK (pg_catalog.length(auth_prefix) <= 64),
	max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
	retrace_after interval NOT NULL DEFAULT '180 days',
	-- Melissa takes its licence as "CustomerID" in the body, not in a header
	CONSTRAINT skiptrace_providers_melissa_key CHECK (kind <> 'melissa' OR api_key_id IS NOT NULL)
);
COMMENT ON TABLE ec.skiptrace_providers IS
	'Skip-trace providers: which are on, in which order (priority, lowest first), where requests go, which API key (ec.keys, purpose api) the HTTP worker adds';
COMMENT ON COLUMN ec.skiptrace_providers.api_key_id IS
	'Key id in ec.keys (purpose api), sent in auth_header by the HTTP worker (Melissa: as CustomerID in the body); bind its URL in ec.http_api_key_urls';
COMMENT ON COLUMN ec.skiptrace_providers.retrace_after IS 'A lead traced by any provider within this time is not traced again';

-- Off until an operator adds the provider's key and turns it on (README).
INSERT INTO ec.skiptrace_providers (name, kind, priority, url, api_key_id, auth_header, auth_prefix) VALUES
	('batchdata', 'batchdata', 10, 'https://api.batchdata.com/api/v1/property/skip-trace', 'batchdata', 'Authorization', 'Bearer '),
	('melissa', 'melissa', 20, 'https://personator.melissadata.net/v3/WEB/ContactVerify/doContactVerify', 'melissa',
	 'CustomerID', ''),
	('tlo', 'tlo', 30, 'https://api.tlo.com/v1/person/search', 'tlo', 'Authorization', 'Bearer ');

-- Our codes for what BatchData and TLO say about a contact (they send
-- flags, not codes): the same map identity reads for Melissa's.
INSERT INTO ec.verification_code_map (provider, code, kind, meaning, verdict) VALUES
	('batchdata', 'BDPR', 'phone_status', 'Phone reachable (BatchData phoneNumbers[].reachable = true, not on a DNC list)', 'valid'),
	('batchdata', 'BDPU', 'phone_status', 'Phone not known to be reachable (reachable = false)', 'unknown'),
	('batchdata', 'BDPD', 'phone_status', 'Phone on a do-not-call list (dnc = true): kept apart, never called', 'unknown'),
	('batchdata', 'BDET', 'email_status', 'Email tested deliverable (emails[].tested = true)', 'valid'),
	('batchdata', 'BDEU', 'email_status', 'Email not tested (tested = false)', 'unknown'),
	('tlo', 'TLPV', 'phone_status', '[unverified] TLO phone marked verified/connected', 'valid'),
	('tlo', 'TLPU', 'phone_status', '[unverified] TLO phone without verification', 'unknown'),
	('tlo', 'TLEV', 'email_status', '[unverified] TLO email marked verified', 'valid'),
	('tlo', 'TLEU', 'email_status', '[unverified] TLO email without verification', 'unknown')
ON CONFLICT (provider, code) DO NOTHING;

CREATE TABLE ec.skiptrace_requests (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	lead_id bigint NOT NULL,
	upload_id bigint,
	provider text NOT NULL,
	step integer NOT NULL DEFAULT 1 CHECK (step >= 1),
	http_request_id bigint,
	state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'matched', 'no_match', 'failed')),
	detail jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	finished_at timestamptz,
	CHECK ((state = 'queued') = (finished_at IS NULL))
);
COMMENT ON TABLE ec.skiptrace_requests IS
	'Each skip-trace request of a lead: provider, step in the fallback order, the HTTP request, and what came of it';
CREATE UNIQUE INDEX skiptrace_requests_open ON ec.skiptrace_requests (lead_id) WHERE state = 'queued';
CREATE INDEX skiptrace_requests_lead ON ec.skiptrace_requests (lead_id, created_at);
CREATE INDEX skiptrace_requests_http ON ec.skiptrace_requests (http_request_id);

-- The request body a provider of this kind expects for a lead. Melissa's
-- carries its licence as "CustomerID": the body holds key_placeholder there,
-- and the HTTP worker puts the key in its place when it sends the request
-- (so the key is in no table).
CREATE FUNCTION ec.skiptrace_body(kind text, l ec.leads, key_placeholder text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE kind
	WHEN 'batchdata' THEN jsonb_build_object('requests', jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
		'requestId', l.id::text,
		'propertyAddress', jsonb_build_object('street', concat_ws(' ', l.property_address, l.property_unit),
			'city', l.property_city, 'state', l.property_state, 'zip', l.property_zip),
		'name', jsonb_build_object('first', l.first_name, 'last', l.last_name)))))
	WHEN 'melissa' THEN jsonb_build_object(
		'TransmissionReference', 'lead-' || l.id,
		'CustomerID', coalesce(key_placeholder, ''),
		'Actions', 'Check,Verify,Append',
		'Columns', 'GrpAddressDetails,GrpNameDetails',
		'Records', jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
			'RecordID', l.id::text,
			'FullName', nullif(concat_ws(' ', l.first_name, l.last_name), ''),
			'AddressLine1', concat_ws(' ', l.property_address, l.property_unit),
			'City', l.property_city, 'State', l.property_state, 'PostalCode', l.property_zip,
			'EmailAddress', coalesce(l.email, l.emails[1]),
			'PhoneNumber', coalesce(l.phone, l.phones[1])))))
	ELSE jsonb_strip_nulls(jsonb_build_object(
		'reference', l.id::text,
		'firstName', l.first_name, 'lastName', l.last_name,
		'address', jsonb_build_object('line1', concat_ws(' ', l.property_address, l.property_unit),
			'city', l.property_city, 'state', l.property_state, 'zip', l.property_zip)))
	END
$$;
COMMENT ON FUNCTION ec.skiptrace_body(text, ec.leads, text) IS
	'Request body for a skip-trace provider kind (batchdata, melissa, tlo) about one lead (Melissa: key_placeholder as CustomerID)';

-- The header that asks the HTTP worker for a provider's key: a header of its
-- own, or (Melissa) the key in the body in place of a placeholder. The
-- placeholder is new for each call, so no lead's data can stand in for it.
CREATE FUNCTION ec.skiptrace_key_header(p ec.skiptrace_providers, key_placeholder text)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
	WHEN p.api_key_id IS NULL THEN '{}'::jsonb
	WHEN p.kind = 'melissa' THEN jsonb_build_object(p.auth_header,
		jsonb_build_object('api_key', p.api_key_id, 'in_body', key_placeholder))
	ELSE jsonb_build_object(p.auth_header, jsonb_build_object('api_key', p.api_key_id, 'prefix', p.auth_prefix))
	END
$$;
COMMENT ON FUNCTION ec.skiptrace_key_header(ec.skiptrace_providers, text) IS
	'The HTTP queue header that attaches a skip-trace provider''s API key when the request is sent';

-- Queue one lead's request to one provider (the HTTP queue sends it after commit).
CREATE FUNCTION ec.skiptrace_send(lead_id bigint, provider text, step integer DEFAULT 1, upload_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p ec.skiptrace_providers;
	l ec.leads;
	sr_id bigint;
	headers jsonb := '{"Content-Type": "application/json", "Accept": "application/json"}';
	ph text := '{{api_key:' || gen_random_uuid() || '}}';
	req bigint;
BEGIN
	SELECT * INTO p FROM ec.skiptrace_providers sp WHERE sp.name = skiptrace_send.provider;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'skip-trace provider "%" does not exist', provider USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO l FROM ec.leads x WHERE x.id = skiptrace_send.lead_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'lead % does not exist', lead_id USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO ec.skiptrace_requests (lead_id, upload_id, provider, step)
	VALUES (l.id, skiptrace_send.upload_id, p.name, step) RETURNING id INTO sr_id;
	headers := headers || ec.skiptrace_key_header(p, ph);
	req := ec.http_enqueue('POST', p.url, headers, convert_to(ec.skiptrace_body(p.kind, l, ph)::text, 'UTF8'),
		'skiptrace', 'skiptrace-' || sr_id, p.max_attempts, now(), 'ec.skiptrace_answer'::regproc);
	UPDATE ec.skiptrace_requests SET http_request_id = req WHERE id = sr_id;
	RETURN sr_id;
END
$$;
COMMENT ON FUNCTION ec.skiptrace_send(bigint, text, integer, bigint) IS
	'Queue a skip-trace request for a lead to a provider through the HTTP queue; returns the skiptrace_requests id';

-- The router: leads without a verified contact, not traced lately, not
-- do_not_contact, to the first enabled provider.  One statement for all of
-- them (an upload's leads can be a hundred thousand): each request row's id
-- is drawn first, so that its HTTP request (idempotency key skiptrace-<id>)
-- is queued as the row is written; ec.skiptrace_send, one lead at a time,
-- remains for the fallback to the next provider.
CREATE FUNCTION ec.skiptrace_queue(lead_ids bigint[], upload_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p ec.skiptrace_providers;
	headers jsonb := '{"Content-Type": "application/json", "Accept": "application/json"}';
	ph text := '{{api_key:' || gen_random_uuid() || '}}';
	n integer;
BEGIN
	SELECT * INTO p FROM ec.skiptrace_providers WHERE enabled ORDER BY priority, name LIMIT 1;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	headers := headers || ec.skiptrace_key_header(p, ph);
	INSERT INTO ec.skiptrace_requests (id, lead_id, upload_id, provider, step, http_request_id)
	SELECT s.id, (s.l).id, skiptrace_queue.upload_id, p.name, 1,
		   ec.http_enqueue('POST', p.url, headers, convert_to(ec.skiptrace_body(p.kind, s.l, ph)::text, 'UTF8'),
			   'skiptrace', 'skiptrace-' || s.id, p.max_attempts, now(), 'ec.skiptrace_answer'::regproc)
	FROM (SELECT nextval(pg_get_serial_sequence('ec.skiptrace_requests', 'id')) AS id, t.l
		  FROM (SELECT l FROM ec.leads l
				WHERE l.id = ANY (lead_ids)
				  AND NOT l.email_verified AND NOT l.phone_verified
				  AND l.campaign_status <> 'do_not_contact'
				  AND NOT EXISTS (SELECT FROM ec.skiptrace_requests r
								  WHERE r.lead_id = l.id
									AND (r.state = 'queued' OR r.created_at > now() - p.retrace_after))
				ORDER BY l.id) t) s;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ec.skiptrace_queue(bigint[], bigint) IS
	'Queue skip-trace requests for the leads among lead_ids without a verified contact (first enabled provider); returns how many';

-- What a provider's answer says: {matched, emails, phones, dnc_phones, codes, mak}.
CREATE FUNCTION ec.skiptrace_parse(kind text, answer jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r jsonb;
	codes text[] := '{}';
	emails text[] := '{}';
	phones text[] := '{}';
	dnc text[] := '{}';
	e jsonb;
BEGIN
	IF kind = 'batchdata' THEN
		r := answer -> 'results' -> 'persons' -> 0;
		IF r IS NULL OR jsonb_typeof(r) <> 'object' OR (r -> 'meta' ->> 'matched') = 'false' THEN
			RETURN '{"matched": false}';
		END IF;
		FOR e IN SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'phoneNumbers') = 'array' THEN r -> 'phoneNumbers' ELSE '[]' END) LOOP
			CONTINUE WHEN e ->> 'number' IS NULL;
			IF (e ->> 'dnc') = 'true' OR (e ->> 'tcpa') = 'true' THEN
				dnc := dnc || (e ->> 'number');
				codes := codes || 'BDPD'::text;
			ELSE
				phones := phones || (e ->> 'number');
				codes := codes || CASE WHEN (e ->> 'reachable') = 'true' THEN 'BDPR' ELSE 'BDPU' END;
			END IF;
		END LOOP;
		FOR e IN SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'emails') = 'array' THEN r -> 'emails' ELSE '[]' END) LOOP
			CONTINUE WHEN e ->> 'email' IS NULL;
			emails := emails || (e ->> 'email');
			codes := codes || CASE WHEN (e ->> 'tested') = 'true' THEN 'BDET' ELSE 'BDEU' END;
		END LOOP;
	ELSIF kind = 'melissa' THEN
		r := answer -> 'Records' -> 0;
		IF r IS NULL OR jsonb_typeof(r) <> 'object' THEN
			RETURN '{"matched": false}';
		END IF;
		codes := ARRAY(SELECT DISTINCT btrim(c) FROM unnest(string_to_array(coalesce(r ->> 'Results', ''), ',')) c
					   WHERE btrim(c) ~ '^[A-Z0-9]{2,8}$' ORDER BY 1);
		IF nullif(r ->> 'EmailAddress', '') IS NOT NULL THEN emails := ARRAY[r ->> 'EmailAddress']; END IF;
		IF nullif(r ->> 'PhoneNumber', '') IS NOT NULL THEN phones := ARRAY[r ->> 'PhoneNumber']; END IF;
		IF NOT (codes && ARRAY['ES01', 'PS01', 'PS03', 'PS06', 'PS07', 'PS08', 'PS09', 'PS10', 'PS11', 'PS12', 'AS01']) THEN
			RETURN jsonb_build_object('matched', false, 'codes', codes);
		END IF;
		RETURN jsonb_strip_nulls(jsonb_build_object('matched', true, 'codes', codes, 'emails', emails, 'phones', phones,
			'mak', CASE WHEN r ->> 'AddressKey' ~ '^[0-9]{10}$' THEN r ->> 'AddressKey' END));
	ELSE
		r := CASE WHEN jsonb_typeof(answer -> 'results') = 'array' THEN answer -> 'results' -> 0 ELSE answer END;
		IF r IS NULL OR jsonb_typeof(r) <> 'object' THEN
			RETURN '{"matched": false}';
		END IF;
		FOR e IN SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'phones') = 'array' THEN r -> 'phones' ELSE '[]' END) LOOP
			CONTINUE WHEN e ->> 'number' IS NULL;
			phones := phones || (e ->> 'number');
			codes := codes || CASE WHEN (e ->> 'verified') = 'true' THEN 'TLPV' ELSE 'TLPU' END;
		END LOOP;
		FOR e IN SELECT * FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r -> 'emails') = 'array' THEN r -> 'emails' ELSE '[]' END) LOOP
			CONTINUE WHEN e ->> 'address' IS NULL;
			emails := emails || (e ->> 'address');
			codes := codes || CASE WHEN (e ->> 'verified') = 'true' THEN 'TLEV' ELSE 'TLEU' END;
		END LOOP;
	END IF;
	IF cardinality(phones) + cardinality(emails) + cardinality(dnc) = 0 THEN
		RETURN '{"matched": false}';
	END IF;
	RETURN jsonb_build_object('matched', true,
		'codes', ARRAY(SELECT DISTINCT unnest(codes) ORDER BY 1), 'emails', emails, 'phones', phones, 'dnc_phones', dnc);
END
$$;
COMMENT ON FUNCTION ec.skiptrace_parse(text, jsonb) IS
	'A skip-trace answer of a provider kind as {matched, codes, emails, phones, dnc_phones, mak}';

-- The HTTP queue's callback: merge a match into the lead (ec.upsert_lead's
-- rules), else try the next enabled provider.
CREATE FUNCTION ec.skiptrace_answer(request_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	sr ec.skiptrace_requests;
	p ec.skiptrace_providers;
	http_state text;
	resp record;
	answer jsonb;
	parsed jsonb := '{"matched": false}';
	l ec.leads;
	merged jsonb;
	next_provider text;
BEGIN
	SELECT * INTO sr FROM ec.skiptrace_requests r WHERE r.http_request_id = skiptrace_answer.request_id FOR UPDATE;
	IF NOT FOUND OR sr.state <> 'queued' THEN
		RETURN;					-- not ours, or already handled (a callback may run twice)
	END IF;
	SELECT * INTO p FROM ec.skiptrace_providers WHERE name = sr.provider;
	SELECT h.state::text INTO http_state FROM ec.http_requests h WHERE h.id = request_id;
	SELECT x.status, x.body INTO resp FROM ec.http_responses x
	 WHERE x.request_id = skiptrace_answer.request_id ORDER BY x.attempt DESC LIMIT 1;

	IF http_state = 'succeeded' AND resp.body IS NOT NULL THEN
		BEGIN
			answer := convert_from(resp.body, 'UTF8')::jsonb;
			parsed := ec.skiptrace_parse(coalesce(p.kind, sr.provider), answer);
		EXCEPTION WHEN data_exception OR invalid_text_representation OR character_not_in_repertoire THEN
			parsed := '{"matched": false, "error": "unreadable_answer"}';
		END;
	END IF;

	IF (parsed ->> 'matched')::boolean THEN
		SELECT * INTO l FROM ec.leads x WHERE x.id = sr.lead_id;
		merged := ec.upsert_lead(jsonb_strip_nulls(jsonb_build_object(
			'property_address', l.property_address, 'property_unit', l.property_unit,
			'property_city', l.property_city, 'property_state', l.property_state, 'property_zip', l.property_zip,
			'county_fips', l.county_fips, 'apn', l.apn, 'mak', coalesce(l.mak, parsed ->> 'mak'),
			'emails', parsed -> 'emails', 'phones', parsed -> 'phones',
			'verification_codes', parsed -> 'codes', 'payload', answer,
			'skiptrace_dnc_phones', CASE WHEN jsonb_array_length(coalesce(parsed -> 'dnc_phones', '[]')) > 0
				THEN parsed -> 'dnc_phones' END)), sr.provider);
		UPDATE ec.skiptrace_requests SET state = 'matched', finished_at = now(),
			detail = jsonb_build_object('codes', parsed -> 'codes', 'upsert', merged - 'results')
		 WHERE id = sr.id;
		INSERT INTO ec.pipeline_events (event_type, ok, lead_id, upload_id, detail)
		VALUES ('skiptrace_matched', true, sr.lead_id, sr.upload_id,
				jsonb_build_object('provider', sr.provider, 'codes', parsed -> 'codes'));
		RETURN;
	END IF;

	UPDATE ec.skiptrace_requests SET state = CASE WHEN http_state = 'succeeded' THEN 'no_match' ELSE 'failed' END,
		finished_at = now(), detail = jsonb_build_object('http_state', http_state, 'status', resp.status) || (parsed - 'matched')
	 WHERE id = sr.id;
	-- fall back: the next enabled provider this lead has not been sent to in this chain
	SELECT sp.name INTO next_provider FROM ec.skiptrace_providers sp
	 WHERE sp.enabled AND (sp.priority, sp.name) > (coalesce(p.priority, 0), sr.provider)
	   AND NOT EXISTS (SELECT FROM ec.skiptrace_requests r2 WHERE r2.lead_id = sr.lead_id
					   AND r2.provider = sp.name AND r2.created_at >= sr.created_at - sp.retrace_after)
	 ORDER BY sp.priority, sp.name LIMIT 1;
	IF next_provider IS NOT NULL THEN
		PERFORM ec.skiptrace_send(sr.lead_id, next_provider, sr.step + 1, sr.upload_id);
	ELSE
		INSERT INTO ec.pipeline_events (event_type, ok, lead_id, upload_id, detail)
		VALUES ('skiptrace_exhausted', false, sr.lead_id, sr.upload_id, jsonb_build_object('last_provider', sr.provider));
	END IF;
END
$$;
COMMENT ON FUNCTION ec.skiptrace_answer(bigint) IS
	'HTTP queue callback of a skip-trace request: merge a match into the lead via ec.upsert_lead, else try the next provider';
