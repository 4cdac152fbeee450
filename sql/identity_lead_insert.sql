-- Lead identity, part 5: a new lead of ec.upsert_lead is written as its
-- INSERT statement would write it, by a writer the session keeps
-- (EcRowInsertFire, src/common/bulk_insert.c): the triggers of ec.leads and
-- anyone else's fire as for the INSERT, and what changes on the table
-- between two calls applies from the next one.
\set VERBOSITY terse
CREATE TABLE insert_audit (seq serial, what text, address text, detail text);
CREATE FUNCTION insert_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_WHEN = 'BEFORE' AND NEW.property_address = '3 INSERT WAY' THEN
		INSERT INTO insert_audit (what, address) VALUES ('skipped', NEW.property_address);
		RETURN NULL;
	END IF;
	INSERT INTO insert_audit (what, address, detail)
		VALUES (TG_WHEN || ' ' || TG_OP, NEW.property_address,
				format('status %s, scored %s, last name %s', NEW.campaign_status, NEW.lead_score IS NOT NULL,
					   NEW.last_name));
	IF TG_WHEN = 'BEFORE' THEN
		NEW.last_name := coalesce(NEW.last_name, 'set by a trigger');
	END IF;
	RETURN NEW;
END $$;
CREATE FUNCTION insert_audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO insert_audit (what, address)
		SELECT TG_WHEN || ' statement', string_agg(property_address, ', ' ORDER BY property_address) FROM new_rows;
	RETURN NULL;
END $$;
CREATE TRIGGER zz_before BEFORE INSERT ON ec.leads FOR EACH ROW EXECUTE FUNCTION insert_audit_row();
CREATE TRIGGER zz_after AFTER INSERT ON ec.leads FOR EACH ROW EXECUTE FUNCTION insert_audit_row();
CREATE TRIGGER zz_statement AFTER INSERT ON ec.leads REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION insert_audit_statement();

-- a new lead, verified: queued, scored, and the triggers see it so
SELECT r ->> 'action' AS action, r ->> 'campaign_status' AS status
FROM ec.upsert_lead('{"property_address": "1 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "owner_age": 70, "email": "one@example.com", "email_verified": true}', 'iwtest') r;
SELECT what, address, detail FROM insert_audit ORDER BY seq;
SELECT property_address, last_name, campaign_status, lead_score > 0 AS scored, added_to_campaign_at IS NULL AS not_active
FROM ec.leads WHERE property_address = '1 INSERT WAY';
TRUNCATE insert_audit;

-- the contactable change log (ec.leads' AFTER INSERT statement trigger)
-- has the new contactable lead, so the next refresh reads it
SELECT count(*) AS logged FROM ec.contactable_changes
WHERE lead_id = (SELECT id FROM ec.leads WHERE property_address = '1 INSERT WAY');

-- within one transaction, two leads: each call is a statement of its own
BEGIN;
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "2 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "2 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "phone": "512-555-0102"}', 'iwtest') r;
COMMIT;
SELECT what, address FROM insert_audit ORDER BY seq;
TRUNCATE insert_audit;

-- a BEFORE trigger that skips the row: no lead, and after a few rounds the
-- answer is rejected, as with the INSERT
SELECT r ->> 'action' AS action, r ->> 'reason' AS reason
FROM ec.upsert_lead('{"property_address": "3 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
SELECT count(*) AS leads FROM ec.leads WHERE property_address = '3 INSERT WAY';
SELECT what, count(*) FROM insert_audit GROUP BY 1 ORDER BY 1;
TRUNCATE insert_audit;

-- a trigger dropped between calls no longer fires
DROP TRIGGER zz_after ON ec.leads;
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "4 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
SELECT what, address FROM insert_audit ORDER BY seq;
DROP TRIGGER zz_before ON ec.leads;
DROP TRIGGER zz_statement ON ec.leads;
DROP FUNCTION insert_audit_row(), insert_audit_statement();
DROP TABLE insert_audit;

-- a new CHECK and a changed default apply from the next call
BEGIN;
ALTER TABLE ec.leads ADD CONSTRAINT iwtest_zip CHECK (property_zip <> '78799');
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "5 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78799"}', 'iwtest') r;
ROLLBACK;
ALTER TABLE ec.leads ALTER COLUMN call_attempt_count SET DEFAULT 2;
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "6 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
ALTER TABLE ec.leads ALTER COLUMN call_attempt_count SET DEFAULT 0;
SELECT property_address, call_attempt_count FROM ec.leads WHERE property_address = '6 INSERT WAY';

-- a deferred unique key: checked at the end of the transaction, as the INSERT's
ALTER TABLE ec.leads ADD COLUMN iwtest_key int;
ALTER TABLE ec.leads ADD CONSTRAINT iwtest_key UNIQUE (iwtest_key) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE ec.leads ALTER COLUMN iwtest_key SET DEFAULT 7;
BEGIN;
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "7 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "8 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
COMMIT;
SELECT count(*) AS leads FROM ec.leads WHERE property_address IN ('7 INSERT WAY', '8 INSERT WAY');
ALTER TABLE ec.leads DROP COLUMN iwtest_key;

-- the broker's foreign key is checked at the statement's end
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "9 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "assigned_broker_id": 987654}', 'iwtest') r;

-- (identity drops an unknown broker before writing, with a warning; a
-- trigger that sets one shows the foreign key's own check at work)
CREATE FUNCTION iwtest_broker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.assigned_broker_id := 987654;
	RETURN NEW;
END $$;
CREATE TRIGGER zz_broker BEFORE INSERT ON ec.leads FOR EACH ROW EXECUTE FUNCTION iwtest_broker();
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "10 Insert Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'iwtest') r;
DROP TRIGGER zz_broker ON ec.leads;
DROP FUNCTION iwtest_broker();
SELECT count(*) AS leads FROM ec.leads WHERE property_address = '10 INSERT WAY';

DELETE FROM ec.leads WHERE sources @> '{iwtest}';
