-- The baseline of bench/20_identity.sh: the same identity rules written the
-- plain way, in PL/pgSQL with pgcrypto-era SQL (regexp normalization,
-- sha256, INSERT ... ON CONFLICT), on a copy of ec.leads (bench.pl_leads).
-- It is measured in the same run as the C implementation; see bench/README.md.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE bench.pl_suffix (full_name text PRIMARY KEY, abbr text NOT NULL);
INSERT INTO bench.pl_suffix VALUES
	('STREET', 'ST'), ('AVENUE', 'AVE'), ('DRIVE', 'DR'), ('BOULEVARD', 'BLVD'), ('LANE', 'LN'),
	('COURT', 'CT'), ('ROAD', 'RD'), ('PLACE', 'PL'), ('CIRCLE', 'CIR'), ('TERRACE', 'TER'),
	('PARKWAY', 'PKWY'), ('HIGHWAY', 'HWY'), ('TRAIL', 'TRL'), ('SQUARE', 'SQ'), ('CROSSING', 'XING');

-- USPS-ish canonical one-line form, the way it is usually written in SQL
CREATE FUNCTION bench.pl_normalize(l1 text, l2 text, city text, st text, zip text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	a text;
	s record;
BEGIN
	a := upper(coalesce(l1, '') || ' ' || coalesce(l2, ''));
	a := regexp_replace(a, '[.,]', ' ', 'g');
	a := regexp_replace(a, '\s*(\m(APT|APARTMENT|UNIT|STE|SUITE)\M|#)\s*#?\s*0*', ' # ', 'g');
	a := regexp_replace(a, '\mNORTH\M', 'N', 'g');
	a := regexp_replace(a, '\mSOUTH\M', 'S', 'g');
	a := regexp_replace(a, '\mEAST\M', 'E', 'g');
	a := regexp_replace(a, '\mWEST\M', 'W', 'g');
	FOR s IN SELECT full_name, abbr FROM bench.pl_suffix LOOP
		a := regexp_replace(a, '\m' || s.full_name || '\M', s.abbr, 'g');
	END LOOP;
	a := btrim(regexp_replace(a, '\s+', ' ', 'g'));
	RETURN a || ', ' || upper(btrim(coalesce(city, ''))) || ', ' || upper(btrim(coalesce(st, ''))) || ' '
		|| left(regexp_replace(coalesce(zip, ''), '[^0-9]', '', 'g'), 5);
END
$$;

-- The same table as ec.leads: columns, defaults, CHECK constraints, indexes,
-- the foreign key, fill factor and the row triggers.  (The statement
-- triggers that keep the contactable-leads table current are left out: they
-- would write into ec's own table.  ec.leads pays for them, the baseline
-- does not.)
CREATE TABLE bench.pl_leads (LIKE ec.leads INCLUDING ALL EXCLUDING CONSTRAINTS) WITH (fillfactor = 85);
-- (LIKE cannot copy the whole-row reference of ec.leads' CHECK)
ALTER TABLE bench.pl_leads ADD CONSTRAINT leads_values_check CHECK (ec.leads_row_ok(pl_leads.*));
ALTER TABLE bench.pl_leads ADD FOREIGN KEY (assigned_broker_id) REFERENCES ec.brokers (id) ON DELETE SET NULL;
INSERT INTO bench.pl_leads SELECT * FROM ec.leads;
UPDATE bench.pl_leads SET addr_hash = sha256(convert_to(bench.pl_normalize(property_address, property_unit,
	property_city, property_state, property_zip), 'UTF8'));
SELECT setval(pg_get_serial_sequence('bench.pl_leads', 'id'), (SELECT max(id) FROM bench.pl_leads));
CREATE TRIGGER pl_status_change BEFORE UPDATE OF campaign_status ON bench.pl_leads
	FOR EACH ROW WHEN (OLD.campaign_status IS DISTINCT FROM NEW.campaign_status)
	EXECUTE FUNCTION ec.set_added_to_campaign_at();
CREATE TRIGGER pl_touch BEFORE UPDATE ON bench.pl_leads
	FOR EACH ROW WHEN (NEW.updated_at IS DISTINCT FROM pg_catalog.now())
	EXECUTE FUNCTION ec.touch_updated_at();
CREATE TRIGGER pl_score BEFORE INSERT OR UPDATE OF owner_age, owner_occupied, estimated_value, estimated_equity,
		years_owned, email_verified, phone_verified, assigned_broker_id ON bench.pl_leads
	FOR EACH ROW EXECUTE FUNCTION ec.leads_set_score();
CREATE TABLE bench.pl_events (LIKE ec.pipeline_events INCLUDING ALL EXCLUDING CONSTRAINTS);
ALTER TABLE bench.pl_events ADD CONSTRAINT pipeline_events_values_check CHECK (ec.pipeline_events_row_ok(pl_events.*));
VACUUM ANALYZE bench.pl_leads;

CREATE FUNCTION bench.pl_union(a text[], b text[]) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(array_agg(e ORDER BY o), '{}') FROM (
		SELECT e, min(o) AS o FROM unnest(coalesce(a, '{}') || coalesce(b, '{}')) WITH ORDINALITY AS u(e, o)
		WHERE e IS NOT NULL GROUP BY e) x
$$;

-- cascade MAK -> APN -> addr_hash, safe merges, verified/new -> queued, an event
CREATE FUNCTION bench.pl_upsert_lead(lead jsonb, source text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	h bytea;
	m text := nullif(btrim(lead->>'mak'), '');
	ak text;
	v_emails text[];
	v_phones text[];
	ev boolean := (lead->>'email_verified')::boolean;
	pv boolean := (lead->>'phone_verified')::boolean;
	rec record;
	lid bigint;
	action text;
	matched text;
BEGIN
	IF m !~ '^\d{10}$' THEN m := NULL; END IF;
	IF lead->>'apn' IS NOT NULL AND lead->>'county_fips' IS NOT NULL THEN
		ak := upper(lead->>'property_state') || ':' || (lead->>'county_fips') || ':'
			|| ltrim(regexp_replace(upper(lead->>'apn'), '[^A-Z0-9]', '', 'g'), '0');
	END IF;
	IF nullif(lead->>'property_address', '') IS NOT NULL THEN
		h := sha256(convert_to(bench.pl_normalize(lead->>'property_address', lead->>'property_unit', lead->>'property_city',
												  lead->>'property_state', lead->>'property_zip'), 'UTF8'));
	END IF;
	SELECT array_agg(lower(btrim(e))) INTO v_emails
		FROM jsonb_array_elements_text(coalesce(lead->'emails', '[]') || coalesce(jsonb_build_array(lead->'email'), '[]')) e
		WHERE e ~ '^[^@\s]+@[^@\s]+$';
	SELECT array_agg('+1' || right(regexp_replace(p, '\D', '', 'g'), 10)) INTO v_phones
		FROM jsonb_array_elements_text(coalesce(lead->'phones', '[]') || coalesce(jsonb_build_array(lead->'phone'), '[]')) p
		WHERE length(regexp_replace(p, '\D', '', 'g')) IN (10, 11);
	FOR i IN 1..5 LOOP
		matched := NULL;
		IF m IS NOT NULL THEN
			SELECT id, campaign_status INTO rec FROM bench.pl_leads WHERE mak = m;
			IF FOUND THEN matched := 'mak'; END IF;
		END IF;
		IF matched IS NULL AND ak IS NOT NULL THEN
			SELECT id, campaign_status INTO rec FROM bench.pl_leads WHERE apn_key = ak;
			IF FOUND THEN matched := 'apn'; END IF;
		END IF;
		IF matched IS NULL AND h IS NOT NULL THEN
			SELECT id, campaign_status INTO rec FROM bench.pl_leads WHERE addr_hash = h;
			IF FOUND THEN matched := 'addr_hash'; END IF;
		END IF;
		IF matched IS NULL THEN
			INSERT INTO bench.pl_leads (first_name, last_name, email, emails, phone, phones, property_address,
				property_unit, property_city, property_state, property_zip, county_fips, apn, apn_key, mak, addr_hash,
				email_verified, phone_verified, campaign_status, sources, provider_payloads)
			VALUES (lead->>'first_name', lead->>'last_name', v_emails[1], coalesce(v_emails, '{}'), v_phones[1],
				coalesce(v_phones, '{}'), upper(lead->>'property_address'), upper(lead->>'property_unit'),
				upper(lead->>'property_city'), upper(lead->>'property_state'), left(lead->>'property_zip', 5),
				lead->>'county_fips', lead->>'apn', ak, m, h, coalesce(ev, false), coalesce(pv, false),
				CASE WHEN coalesce(ev, false) OR coalesce(pv, false) THEN 'queued' ELSE 'new' END::ec.campaign_status,
				ARRAY[source], coalesce(jsonb_build_object(source, lead->'payload'), '{}'))
			ON CONFLICT DO NOTHING RETURNING id INTO lid;
			IF lid IS NOT NULL THEN
				action := 'inserted';
				EXIT;
			END IF;
			CONTINUE;
		END IF;
		UPDATE bench.pl_leads l SET
			first_name = coalesce(nullif(lead->>'first_name', ''), l.first_name),
			last_name = coalesce(nullif(lead->>'last_name', ''), l.last_name),
			email = coalesce(l.email, v_emails[1]),
			emails = bench.pl_union(l.emails, v_emails),
			phone = coalesce(l.phone, v_phones[1]),
			phones = bench.pl_union(l.phones, v_phones),
			email_verified = coalesce(ev, l.email_verified) OR l.email_verified,
			phone_verified = coalesce(pv, l.phone_verified) OR l.phone_verified,
			mak = coalesce(l.mak, m),
			sources = bench.pl_union(l.sources, ARRAY[source]),
			provider_payloads = l.provider_payloads || coalesce(jsonb_build_object(source, lead->'payload'), '{}'),
			campaign_status = CASE WHEN l.campaign_status = 'new' AND (coalesce(ev, false) OR coalesce(pv, false))
				THEN 'queued' ELSE l.campaign_status END,
			updated_at = now()
		WHERE l.id = rec.id;
		lid := rec.id;
		action := 'merged';
		EXIT;
	END LOOP;
	INSERT INTO bench.pl_events (event_type, ok, lead_id, duration_ms, detail)
	VALUES ('dedupe_success', true, lid, extract(epoch FROM clock_timestamp() - t0) * 1000,
			jsonb_build_object('action', action, 'matched_on', matched, 'source', source));
	RETURN jsonb_build_object('lead_id', lid, 'action', action, 'matched_on', matched, 'conflict', NULL);
END
$$;

CREATE FUNCTION bench.pl_upsert_leads(leads jsonb, source text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n bigint := 0;
	l jsonb;
BEGIN
	FOR l IN SELECT jsonb_array_elements(leads) LOOP
		PERFORM bench.pl_upsert_lead(l, source);
		n := n + 1;
	END LOOP;
	RETURN jsonb_build_object('count', n);
END
$$;
