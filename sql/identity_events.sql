-- Lead identity, part 3: the pipeline_events rows of ec.upsert_leads.  A
-- batch's events are appended as COPY appends rows (column defaults, CHECKs,
-- every index); when an INSERT trigger (or row security) must see them they
-- go through SQL instead.  Either way each lead has its row.
\set VERBOSITY terse
SELECT coalesce(max(id), 0) AS first_event FROM ec.pipeline_events \gset

-- three new properties, one of them verified (a campaign_queued event too)
SELECT ec.upsert_leads('[
	{"property_address": "1 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "2 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "email": "two@example.com", "email_verified": true},
	{"property_address": "3 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}
	]', 'evtest') - 'results' AS counts;
SELECT e.event_type, e.ok, l.property_address, e.duration_ms >= 0 AS has_ms, e.detail ->> 'action' AS action,
	e.detail ->> 'source' AS source, e.created_at <= now() AS stamped, e.upload_id
FROM ec.pipeline_events e JOIN ec.leads l ON l.id = e.lead_id
WHERE e.id > :first_event ORDER BY e.id;
-- ids from the log's own identity, in order, none skipped by the writer
SELECT count(*) AS events, max(id) - min(id) + 1 AS id_span FROM ec.pipeline_events WHERE id > :first_event;
-- found through the per-lead index
SET enable_seqscan = off;
SELECT count(*) AS by_lead FROM ec.pipeline_events
WHERE lead_id = (SELECT id FROM ec.leads WHERE property_address = '2 EVENT WAY');
RESET enable_seqscan;

-- a user's audit trigger on the log sees every row
SELECT coalesce(max(id), 0) AS second_event FROM ec.pipeline_events \gset
CREATE TABLE event_audit (event_type text);
CREATE FUNCTION event_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO event_audit VALUES (NEW.event_type);
	RETURN NEW;
END $$;
CREATE TRIGGER event_audit AFTER INSERT ON ec.pipeline_events FOR EACH ROW EXECUTE FUNCTION event_audit();
SELECT ec.upsert_leads('[
	{"property_address": "4 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "5 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "1 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "first_name": "Eve"}
	]', 'evtest') - 'results' AS counts;
SELECT event_type, count(*) FROM event_audit GROUP BY 1 ORDER BY 1;
SELECT count(*) AS logged FROM ec.pipeline_events WHERE id > :second_event;
DROP TRIGGER event_audit ON ec.pipeline_events;
DROP FUNCTION event_audit();
DROP TABLE event_audit;
-- A batch's new leads are written as COPY writes rows, with ec.leads' own
-- triggers (score, lifecycle, the contactable change log, the broker's
-- foreign key) and anyone else's fired as an INSERT statement fires them.
-- (A BEFORE trigger that skips a row leaves its lead rejected, after the
-- one-lead way has tried again a few times, as an INSERT would leave it.)
CREATE TABLE lead_audit (seq serial, what text, address text, status text, scored boolean);
CREATE FUNCTION lead_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.property_address = '9 EVENT WAY' THEN
		INSERT INTO lead_audit (what, address) VALUES ('skipped', NEW.property_address);
		RETURN NULL;
	END IF;
	INSERT INTO lead_audit (what, address, status, scored)
		VALUES (TG_WHEN || ' ' || TG_OP, NEW.property_address, NEW.campaign_status, NEW.lead_score IS NOT NULL);
	RETURN NEW;
END $$;
CREATE FUNCTION lead_audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO lead_audit (what, address)
		SELECT TG_WHEN || ' statement', string_agg(property_address, ', ' ORDER BY property_address) FROM new_rows;
	RETURN NULL;
END $$;
CREATE TRIGGER zz_audit BEFORE INSERT ON ec.leads FOR EACH ROW EXECUTE FUNCTION lead_audit_row();
CREATE TRIGGER zz_audit_after AFTER INSERT ON ec.leads FOR EACH ROW EXECUTE FUNCTION lead_audit_row();
CREATE TRIGGER zz_audit_statement AFTER INSERT ON ec.leads REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION lead_audit_statement();
SELECT coalesce(max(id), 0) AS third_event FROM ec.pipeline_events \gset
SELECT ec.upsert_leads('[
	{"property_address": "7 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701",
	 "owner_age": 70, "phone": "512-555-0107", "phone_verified": true},
	{"property_address": "8 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"},
	{"property_address": "9 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}
	]', 'evtest') - 'results' AS counts;
SELECT what, address, status, scored FROM lead_audit ORDER BY seq;
SELECT property_address, campaign_status, lead_score > 0 AS scored FROM ec.leads
WHERE property_address IN ('7 EVENT WAY', '8 EVENT WAY', '9 EVENT WAY') ORDER BY 1;
SELECT event_type, detail ->> 'action' AS action, detail ->> 'reason' AS reason, count(*)
FROM ec.pipeline_events WHERE id > :third_event GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- the broker's foreign key holds on this path too
SELECT (ec.upsert_leads('[{"property_address": "10 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "assigned_broker_id": 987654}]', 'evtest') -> 'results' -> 0 -> 'warnings') AS warnings;
DROP TRIGGER zz_audit ON ec.leads;
DROP TRIGGER zz_audit_after ON ec.leads;
DROP TRIGGER zz_audit_statement ON ec.leads;
DROP FUNCTION lead_audit_row(), lead_audit_statement();
DROP TABLE lead_audit;

-- a caller under row security (and with INSERT on some columns only): the
-- leads go through SQL, where the policies and column grants apply
CREATE ROLE lead_loader;
GRANT USAGE ON SCHEMA ec TO lead_loader;
GRANT SELECT, UPDATE ON ec.leads TO lead_loader;
GRANT SELECT ON ec.brokers TO lead_loader;
GRANT INSERT (property_address, property_city, property_state, property_zip, addr_hash) ON ec.leads TO lead_loader;
GRANT INSERT ON ec.pipeline_events TO lead_loader;
GRANT EXECUTE ON FUNCTION ec.upsert_leads(jsonb, text), ec.current_broker_id(), ec.jwt_sub() TO lead_loader;
SET ROLE lead_loader;
SELECT ec.upsert_leads('[{"property_address": "11 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}]', 'evtest') - 'results' AS counts;
RESET ROLE;
REVOKE ALL ON ec.leads, ec.pipeline_events, ec.brokers FROM lead_loader;
REVOKE ALL ON FUNCTION ec.upsert_leads(jsonb, text), ec.current_broker_id(), ec.jwt_sub() FROM lead_loader;
REVOKE ALL ON SCHEMA ec FROM lead_loader;
DROP ROLE lead_loader;

-- the one-lead lookup sees what the transaction wrote before, even earlier in
-- the same statement
BEGIN;
SELECT ec.upsert_lead('{"property_address": "12 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evtest') ->> 'action' AS first;
SELECT ec.upsert_lead('{"property_address": "12 EVENT WAY", "property_city": "AUSTIN", "property_state": "Texas",
	"property_zip": "78701-0001", "first_name": "Zed"}', 'evtest') ->> 'action' AS second;
SELECT ec.upsert_lead(x, 'evtest') ->> 'action' AS action
FROM (VALUES (1, '{"property_address": "13 Event Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}'::jsonb),
	(2, '{"property_address": "13 Event Wy", "property_city": "Austin", "property_state": "TX", "property_zip": "78701", "first_name": "Yan"}'))
	v (n, x) ORDER BY n;
SELECT property_address, first_name FROM ec.leads WHERE property_address IN ('12 EVENT WAY', '13 EVENT WAY') ORDER BY 1;
COMMIT;

-- A one-lead call's events are written by a writer the session keeps (the
-- table's setup built once): the rows are those an INSERT writes, and a
-- change of the table, its indexes or its CHECKs reaches it at once.
SELECT coalesce(max(id), 0) AS third_event FROM ec.pipeline_events \gset
BEGIN;
SELECT ec.upsert_lead('{"property_address": "14 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "email": "fourteen@example.com", "email_verified": true}', 'evtest') ->> 'action' AS action;
SELECT e.event_type, e.ok, e.detail, e.duration_ms >= 0 AS has_ms, e.created_at = now() AS stamped,
	e.lead_id = l.id AS its_lead
FROM ec.pipeline_events e JOIN ec.leads l ON l.property_address = '14 EVENT WAY'
WHERE e.id > :third_event ORDER BY e.id;
COMMIT;
-- a new index gets the next rows
CREATE INDEX pipeline_events_evtest ON ec.pipeline_events (event_type, lead_id);
SELECT ec.upsert_lead('{"property_address": "15 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evtest') ->> 'action' AS action;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS by_new_index FROM ec.pipeline_events
WHERE event_type = 'dedupe_success' AND lead_id = (SELECT id FROM ec.leads WHERE property_address = '15 EVENT WAY');
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX ec.pipeline_events_evtest;
-- a new CHECK applies to the next row, with the executor's error; the call after
-- the failed one writes as before
ALTER TABLE ec.pipeline_events ADD CONSTRAINT evtest_no_dedupe CHECK (event_type <> 'dedupe_success') NOT VALID;
SELECT ec.upsert_lead('{"property_address": "16 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evtest') ->> 'action' AS action;
ALTER TABLE ec.pipeline_events DROP CONSTRAINT evtest_no_dedupe;
SELECT ec.upsert_lead('{"property_address": "16 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evtest') ->> 'action' AS action;
-- a changed default is the next row's
ALTER TABLE ec.pipeline_events ALTER COLUMN upload_id SET DEFAULT -1;
SELECT ec.upsert_lead('{"property_address": "17 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evtest') ->> 'action' AS action;
ALTER TABLE ec.pipeline_events ALTER COLUMN upload_id DROP DEFAULT;
SELECT l.property_address, e.upload_id FROM ec.pipeline_events e JOIN ec.leads l ON l.id = e.lead_id
WHERE e.id > :third_event AND l.property_address IN ('16 EVENT WAY', '17 EVENT WAY') ORDER BY e.id;
-- a deferred unique key on the log sends the rows through SQL too: it is
-- checked at the end of the transaction
ALTER TABLE ec.pipeline_events ADD COLUMN evtest_key int UNIQUE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE ec.pipeline_events ALTER COLUMN evtest_key SET DEFAULT 1;
BEGIN;
SELECT ec.upsert_lead('{"property_address": "19 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "email": "nineteen@example.com", "email_verified": true}', 'evtest') ->> 'action' AS action;
COMMIT;
ALTER TABLE ec.pipeline_events DROP COLUMN evtest_key;
-- an INSERT trigger on the log sends the rows through SQL again: it sees them
CREATE TABLE event_audit (event_type text, lead_id bigint);
CREATE FUNCTION event_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO event_audit VALUES (NEW.event_type, NEW.lead_id);
	RETURN NEW;
END $$;
CREATE TRIGGER event_audit AFTER INSERT ON ec.pipeline_events FOR EACH ROW EXECUTE FUNCTION event_audit();
SELECT ec.upsert_lead('{"property_address": "18 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evtest') ->> 'action' AS action;
SELECT event_type, lead_id = (SELECT id FROM ec.leads WHERE property_address = '18 EVENT WAY') AS its_lead FROM event_audit;
DROP TRIGGER event_audit ON ec.pipeline_events;
DROP FUNCTION event_audit();
DROP TABLE event_audit;
-- every call's rows, ids in order (the failed call's is skipped, as an
-- INSERT's would be)
SELECT count(*) AS events, max(id) - min(id) + 1 AS id_span FROM ec.pipeline_events
WHERE id > :third_event AND event_type IN ('dedupe_success', 'campaign_queued');

-- a deferred check on the log (a DBA's exclusion constraint here) is the
-- AFTER event an INSERT queues: the event writer leaves such a table to
-- SQL, and the check fails at COMMIT, not at the call
ALTER TABLE ec.pipeline_events ADD CONSTRAINT events_one_dedupe EXCLUDE USING btree (lead_id WITH =)
	WHERE (event_type = 'dedupe_success' AND detail ->> 'source' = 'evdefer') DEFERRABLE INITIALLY DEFERRED;
BEGIN;
SELECT ec.upsert_lead('{"property_address": "19 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}', 'evdefer') ->> 'action' AS action;
SELECT ec.upsert_lead('{"property_address": "19 Event Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "first_name": "Ada"}', 'evdefer') ->> 'action' AS action;
COMMIT;
-- nothing of the transaction stays
SELECT count(*) AS leads FROM ec.leads WHERE property_address = '19 EVENT WAY';
ALTER TABLE ec.pipeline_events DROP CONSTRAINT events_one_dedupe;

-- A bulk call's events are written together at its end, ordered by lead:
-- 1,300 stored properties, then a call of 2,600 leads (three batches) that
-- respells each of them between new ones.  Every lead has its one event, with
-- its answer's action, and the whole call's rows follow lead ids.
SELECT ec.upsert_leads((SELECT jsonb_agg(jsonb_build_object('property_address', i || ' Order Way',
	'property_city', 'Austin', 'property_state', 'TX', 'property_zip', '78701') ORDER BY i)
	FROM generate_series(1, 1300) i), 'evtest') -> 'inserted' AS inserted;
SELECT coalesce(max(id), 0) AS order_event FROM ec.pipeline_events \gset
CREATE TEMP TABLE order_call AS
SELECT ec.upsert_leads((SELECT jsonb_agg(CASE WHEN i % 2 = 1
		THEN jsonb_build_object('property_address', (i + 1) / 2 || ' order wy', 'property_city', 'austin',
			'property_state', 'Texas', 'property_zip', '78701-1234', 'first_name', 'Ord')
		ELSE jsonb_build_object('property_address', 2000 + i || ' Order Way', 'property_city', 'Austin',
			'property_state', 'TX', 'property_zip', '78701') END ORDER BY i)
	FROM generate_series(1, 2600) i), 'evtest') AS answer;
SELECT answer -> 'merged' AS merged, answer -> 'inserted' AS inserted FROM order_call;
SELECT count(*) AS events, count(DISTINCT e.lead_id) AS leads,
	count(*) FILTER (WHERE e.detail ->> 'action' = r.value ->> 'action') AS same_action
FROM ec.pipeline_events e
JOIN (SELECT value FROM order_call, jsonb_array_elements(answer -> 'results')) r
	ON (r.value ->> 'lead_id')::bigint = e.lead_id
WHERE e.id > :order_event;
SELECT bool_and(lead_id > prev) AS in_lead_order
FROM (SELECT lead_id, lag(lead_id) OVER (ORDER BY id) AS prev FROM ec.pipeline_events WHERE id > :order_event) x
WHERE prev IS NOT NULL;
DROP TABLE order_call;

-- the leads of this file go again (the next suites count leads)
DELETE FROM ec.leads WHERE sources = '{evtest}';
