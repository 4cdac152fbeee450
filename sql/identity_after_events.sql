-- Lead identity, part 7: the AFTER ROW events of the kept writers
-- (src/common/bulk_insert.c, EcAfterRowSkipBegin). An event that would do
-- nothing is not queued: a foreign key's check of a NULL or unchanged key,
-- a referenced key's action when the key did not change, the contactable
-- change log when it would log nothing. Everything else fires as for the
-- INSERT or UPDATE statement, WHEN clauses included.
\set VERBOSITY terse
INSERT INTO ec.brokers (id, name) VALUES (7701, 'After Events Broker');
CREATE TABLE ae_log (seq serial, what text, address text);
CREATE FUNCTION ae_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ae_log (what, address) VALUES (TG_NAME || ' ' || TG_OP, NEW.property_address);
	RETURN NULL;
END $$;
-- two user triggers with WHEN clauses (the insert one named to sort right after
-- leads_insert_active, the BEFORE trigger with a WHEN of its own: a list that
-- leaves one event out must not take that WHEN for this one)
CREATE TRIGGER leads_insert_audit AFTER INSERT ON ec.leads FOR EACH ROW
	WHEN (NEW.property_zip = '78702') EXECUTE FUNCTION ae_log_row();
CREATE TRIGGER zz_ae_update AFTER UPDATE ON ec.leads FOR EACH ROW
	WHEN (NEW.years_owned > 10) EXECUTE FUNCTION ae_log_row();

SELECT count(*) AS logged_before FROM ec.contactable_changes \gset

-- new leads, one at a time and in a batch: verified ones are logged as
-- contactable, the others are not; the WHEN of the insert trigger holds
-- for the 78702 ones only
SELECT ec.upsert_lead('{"property_address": "1 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "email": "a1@example.com", "email_verified": true}', 'aetest') ->> 'action' AS one;
SELECT ec.upsert_lead('{"property_address": "2 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78702"}', 'aetest') ->> 'action' AS two;
SELECT ec.upsert_leads('[
	{"property_address": "3 After Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78702",
	 "email": "a3@example.com", "email_verified": true},
	{"property_address": "4 After Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "5 After Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "assigned_broker_id": 7701}]', 'aetest') ->> 'inserted' AS batch;
SELECT what, address FROM ae_log ORDER BY seq;
SELECT l.property_address FROM ec.contactable_changes c JOIN ec.leads l ON l.id = c.lead_id
WHERE l.sources @> '{aetest}' ORDER BY 1;
TRUNCATE ae_log;

-- merges: a new phone on a lead that is not contactable logs nothing; a
-- verified email makes one contactable (logged); a change of a contactable
-- lead's score is logged; the update trigger's WHEN holds where years_owned > 10
DELETE FROM ec.contactable_changes WHERE lead_id IN (SELECT id FROM ec.leads WHERE sources @> '{aetest}');
SELECT ec.upsert_lead('{"property_address": "4 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "phone": "(512) 555-0104", "years_owned": 4}', 'aetest') ->> 'action' AS four;
SELECT ec.upsert_lead('{"property_address": "2 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78702", "email": "a2@example.com", "email_verified": true, "years_owned": 12}', 'aetest') ->> 'action' AS two;
SELECT ec.upsert_leads('[
	{"property_address": "1 After Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "owner_age": 80, "years_owned": 30},
	{"property_address": "5 After Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "phone": "(512) 555-0105"}]', 'aetest') ->> 'merged' AS batch;
SELECT what, address FROM ae_log ORDER BY seq;
SELECT l.property_address FROM ec.contactable_changes c JOIN ec.leads l ON l.id = c.lead_id
WHERE l.sources @> '{aetest}' ORDER BY 1;

-- the broker's foreign key is still checked when a merge sets a broker (a
-- BEFORE trigger stands in for a caller that sets one identity would refuse)
CREATE FUNCTION ae_broker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.property_address = '4 AFTER WAY' THEN
		NEW.assigned_broker_id := (SELECT value::bigint FROM ae_setting);
	END IF;
	RETURN NEW;
END $$;
CREATE TABLE ae_setting (value text);
INSERT INTO ae_setting VALUES ('987654');
CREATE TRIGGER zz_ae_broker BEFORE UPDATE ON ec.leads FOR EACH ROW EXECUTE FUNCTION ae_broker();
SELECT ec.upsert_lead('{"property_address": "4 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "years_owned": 5}', 'aetest') ->> 'action' AS unknown_broker;
SELECT ec.upsert_leads('[{"property_address": "4 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "years_owned": 5}]', 'aetest') ->> 'merged' AS unknown_broker_batch;
UPDATE ae_setting SET value = '7701';
SELECT ec.upsert_lead('{"property_address": "4 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "years_owned": 6}', 'aetest') ->> 'action' AS known_broker;
SELECT property_address, assigned_broker_id, years_owned FROM ec.leads WHERE sources @> '{aetest}' ORDER BY 1;

-- a lead referenced by another table keeps its reference through merges
INSERT INTO ec.consent_tokens (lead_id, key_id, nonce_hash, expires_at)
SELECT id, 'aetest', sha256('ae-nonce'), now() + interval '7 days' FROM ec.leads WHERE property_address = '1 AFTER WAY';
SELECT ec.upsert_lead('{"property_address": "1 After Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "years_owned": 31}', 'aetest') ->> 'action' AS referenced;
SELECT count(*) AS tokens FROM ec.consent_tokens t JOIN ec.leads l ON l.id = t.lead_id
WHERE l.property_address = '1 AFTER WAY';

DROP TRIGGER zz_ae_broker ON ec.leads;
DROP TRIGGER leads_insert_audit ON ec.leads;
DROP TRIGGER zz_ae_update ON ec.leads;
DROP FUNCTION ae_broker(), ae_log_row();
DROP TABLE ae_setting, ae_log;
DELETE FROM ec.consent_tokens WHERE lead_id IN (SELECT id FROM ec.leads WHERE sources @> '{aetest}');
DELETE FROM ec.contactable_changes WHERE lead_id IN (SELECT id FROM ec.leads WHERE sources @> '{aetest}');
DELETE FROM ec.leads WHERE sources @> '{aetest}';
DELETE FROM ec.brokers WHERE id = 7701;
