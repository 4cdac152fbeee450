-- Lead identity, part 4: a merge is written into the version of the lead
-- that was read as "UPDATE ec.leads SET <merged columns>, updated_at = now()
-- WHERE ctid = ... AND id = ... AND xmin = ..." writes it, without the
-- statement (src/identity/leadwrite.c), one lead at a time and a batch at a
-- time.  Whatever sits on ec.leads sees what the UPDATE would show it.
\set VERBOSITY terse
SELECT ec.upsert_leads('[
	{"property_address": "1 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "2 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "3 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "4 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}
	]', 'mwtest') - 'results' AS counts;

CREATE TABLE merge_audit (seq serial, what text, address text, detail text);
-- a row trigger: what it is shown, and a column it changes
CREATE FUNCTION merge_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_WHEN = 'BEFORE' AND NEW.property_address = '4 MERGE WAY' THEN
		INSERT INTO merge_audit (what, address) VALUES ('skipped', NEW.property_address);
		RETURN NULL;
	END IF;
	INSERT INTO merge_audit (what, address, detail)
		VALUES (TG_WHEN || ' ' || TG_OP, NEW.property_address,
				format('phone %s -> %s, age %s -> %s, score %s, updated %s', OLD.phone, NEW.phone, OLD.owner_age,
					   NEW.owner_age, CASE WHEN NEW.lead_score IS DISTINCT FROM OLD.lead_score THEN 'changed' ELSE 'same' END,
					   NEW.updated_at = now()));
	IF TG_WHEN = 'BEFORE' THEN
		NEW.last_name := coalesce(NEW.last_name, 'set by a trigger');
	END IF;
	RETURN NEW;
END $$;
-- column-specific triggers: one on a column the merges set, one on a column they do not
CREATE FUNCTION merge_audit_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO merge_audit (what, address) VALUES (TG_NAME, NEW.property_address);
	RETURN NEW;
END $$;
-- a statement trigger with transition tables
CREATE FUNCTION merge_audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO merge_audit (what, address, detail)
		SELECT TG_WHEN || ' statement', string_agg(n.property_address, ', ' ORDER BY n.property_address),
			   string_agg(coalesce(o.phone, '-') || ' -> ' || n.phone, ', ' ORDER BY n.property_address)
		FROM new_rows n JOIN old_rows o USING (id);
	RETURN NULL;
END $$;
CREATE TRIGGER zz_before BEFORE UPDATE ON ec.leads FOR EACH ROW EXECUTE FUNCTION merge_audit_row();
CREATE TRIGGER zz_after AFTER UPDATE ON ec.leads FOR EACH ROW EXECUTE FUNCTION merge_audit_row();
CREATE TRIGGER zz_of_phone BEFORE UPDATE OF phone ON ec.leads FOR EACH ROW EXECUTE FUNCTION merge_audit_column();
CREATE TRIGGER zz_of_mak BEFORE UPDATE OF mak ON ec.leads FOR EACH ROW EXECUTE FUNCTION merge_audit_column();
CREATE TRIGGER zz_statement AFTER UPDATE ON ec.leads REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION merge_audit_statement();

-- one lead: a new phone and an age (which the lead score reads)
SELECT r ->> 'action' AS action, r ->> 'matched_on' AS matched_on
FROM ec.upsert_lead('{"property_address": "1 Merge Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "phone": "512-555-0101", "owner_age": 71}', 'mwtest') r;
SELECT what, address, detail FROM merge_audit ORDER BY seq;
SELECT phone, owner_age, last_name, lead_score > 0 AS scored
FROM ec.leads WHERE property_address = '1 MERGE WAY';
TRUNCATE merge_audit;

-- a batch: two merges (one statement), one new lead
SELECT ec.upsert_leads('[
	{"property_address": "2 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "phone": "512-555-0102"},
	{"property_address": "3 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "phone": "512-555-0103", "owner_age": 80},
	{"property_address": "5 Merge Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}
	]', 'mwtest') - 'results' AS counts;
SELECT what, address, detail FROM merge_audit ORDER BY seq;
SELECT property_address, phone, owner_age, last_name FROM ec.leads
WHERE property_address IN ('2 MERGE WAY', '3 MERGE WAY') ORDER BY 1;
TRUNCATE merge_audit;

-- a BEFORE trigger that skips the row: the merge is not written, and after
-- a few rounds the lead is answered as rejected, as with the UPDATE
SELECT r ->> 'action' AS action, r ->> 'reason' AS reason
FROM ec.upsert_lead('{"property_address": "4 Merge Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "phone": "512-555-0104"}', 'mwtest') r;
SELECT phone FROM ec.leads WHERE property_address = '4 MERGE WAY';
SELECT what, count(*) FROM merge_audit GROUP BY 1 ORDER BY 1;

DROP TRIGGER zz_before ON ec.leads;
DROP TRIGGER zz_after ON ec.leads;
DROP TRIGGER zz_of_phone ON ec.leads;
DROP TRIGGER zz_of_mak ON ec.leads;
DROP TRIGGER zz_statement ON ec.leads;
DROP FUNCTION merge_audit_row(), merge_audit_column(), merge_audit_statement();
DROP TABLE merge_audit;

-- the CHECK applies to the merged row; a failed merge leaves the lead as it was
BEGIN;
ALTER TABLE ec.leads ADD CONSTRAINT mwtest_age CHECK (owner_age IS NULL OR owner_age < 90);
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "2 Merge Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "owner_age": 95}', 'mwtest') r;
ROLLBACK;
SELECT owner_age FROM ec.leads WHERE property_address = '2 MERGE WAY';

-- a new index applies from the next merge; a merge that changes an indexed
-- column gives its new row an entry
CREATE INDEX mwtest_age ON ec.leads (owner_age) WHERE sources @> '{mwtest}';
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "2 Merge Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "owner_age": 66}', 'mwtest') r;
SET enable_seqscan = off;
SELECT property_address FROM ec.leads WHERE owner_age = 66 AND sources @> '{mwtest}';
RESET enable_seqscan;
DROP INDEX ec.mwtest_age;

-- a trigger made between two merges of a session fires from the next one
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "2 Merge Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "owner_age": 67}', 'mwtest') r;
CREATE TABLE merge_seen (address text, age int);
CREATE FUNCTION merge_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO merge_seen VALUES (NEW.property_address, NEW.owner_age);
	RETURN NULL;
END $$;
CREATE TRIGGER zz_seen AFTER UPDATE ON ec.leads FOR EACH ROW EXECUTE FUNCTION merge_seen();
SELECT r ->> 'action' AS action
FROM ec.upsert_lead('{"property_address": "2 Merge Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "owner_age": 68}', 'mwtest') r;
SELECT * FROM merge_seen;
DROP TRIGGER zz_seen ON ec.leads;
DROP FUNCTION merge_seen();
DROP TABLE merge_seen;

-- under REPEATABLE READ a lead another session changed after the snapshot
-- is a serialization failure, as the UPDATE's; the lead stays as committed
-- (specs/identity_merge_rr.spec runs the two sessions)

DELETE FROM ec.leads WHERE sources @> '{mwtest}';
