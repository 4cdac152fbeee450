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
-- the leads of this file go again (the next suites count leads)
DELETE FROM ec.leads WHERE sources = '{evtest}';
