-- The contactable-leads refresh: incremental maintenance of
-- ec.mv_contactable_leads from the change log, always ending with exactly the
-- rows of its definition; every run recorded; a failure is an alert.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET ec.test_now = '2026-03-09 05:30 America/Los_Angeles';

-- rows of the definition missing from the table, and rows of the table not in the definition
CREATE FUNCTION pg_temp.drift() RETURNS TABLE (missing bigint, extra bigint) LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM (SELECT * FROM ec.contactable_leads_source EXCEPT SELECT * FROM ec.mv_contactable_leads) a),
		   (SELECT count(*) FROM (SELECT * FROM ec.mv_contactable_leads EXCEPT SELECT * FROM ec.contactable_leads_source) b)
$$;

SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;
INSERT INTO ec.brokers (id, name, auth_user_id) VALUES
	(831, 'Refresh Broker A', '83100000-0000-0000-0000-000000000831'), (832, 'Refresh Broker B', NULL);
INSERT INTO ec.leads (id, email, email_verified, phone, phone_verified, campaign_status, assigned_broker_id, owner_age, property_state)
SELECT 83000 + i, 'r' || i || '@example.com', i % 2 = 0, NULL, i % 3 = 0,
	   (ARRAY['new', 'queued', 'queued', 'active']::ec.campaign_status[])[i % 4 + 1], 831 + i % 2, 60 + i % 30, 'CA'
FROM generate_series(1, 60) i;
-- only contactable new leads are logged
SELECT count(*) AS logged FROM ec.contactable_changes;
SELECT * FROM pg_temp.drift();
SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;
SELECT * FROM pg_temp.drift();
SELECT count(*) AS logged_after FROM ec.contactable_changes;

-- every kind of change, then one refresh
UPDATE ec.leads SET first_name = 'Unrelated' WHERE id BETWEEN 83001 AND 83060;	-- logs nothing
SELECT count(*) AS logged_by_unrelated_update FROM ec.contactable_changes;
UPDATE ec.leads SET email_verified = true WHERE id = 83001;						-- becomes contactable
UPDATE ec.leads SET email_opt_out = true, email_opt_out_at = now() WHERE id = 83002;	-- unsubscribed
UPDATE ec.leads SET campaign_status = 'do_not_contact' WHERE id = 83003;			-- do not contact
UPDATE ec.leads SET campaign_status = 'active' WHERE id = 83006;					-- fed
UPDATE ec.leads SET assigned_broker_id = 832 WHERE id = 83008;					-- reassigned
UPDATE ec.leads SET owner_age = 85 WHERE id = 83012;								-- rescored
UPDATE ec.leads SET property_state = 'FL', consent = true, consented_at = now(), consent_method = 'form' WHERE id = 83014;
DELETE FROM ec.leads WHERE id = 83010;											-- deleted
INSERT INTO ec.leads (id, email, email_verified, campaign_status) VALUES (83100, 'new@example.com', true, 'new');
UPDATE ec.leads SET id = 83101 WHERE id = 83100;									-- key changed
INSERT INTO ec.leads (id, email, email_verified, campaign_status) VALUES (83012 + 1000, 'x@example.com', true, 'queued')
ON CONFLICT (id) DO NOTHING;
-- a broker's own change is logged although the broker cannot read the log
CREATE ROLE refresh_api;
GRANT ec_broker TO refresh_api;
SET ROLE refresh_api;
\set VERBOSITY terse
SELECT set_config('request.jwt.claims', '{"sub":"83100000-0000-0000-0000-000000000831"}', false) IS NOT NULL AS claims;
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 83004;
SELECT count(*) FROM ec.contactable_changes;
RESET ROLE;
\set VERBOSITY default
SELECT count(*) FROM ec.contactable_changes WHERE lead_id = 83004;
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims;
-- until the refresh the table is as stale as a materialized view
SELECT * FROM pg_temp.drift();
SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;
SELECT * FROM pg_temp.drift();
SELECT id, campaign_status, assigned_broker_id, lead_score, property_state, consent FROM ec.mv_contactable_leads
WHERE id IN (83001, 83002, 83003, 83004, 83006, 83008, 83010, 83012, 83014, 83100, 83101, 84012) ORDER BY id;
-- a refresh with nothing logged changes nothing
SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;

-- the full rebuild agrees (and repairs a table someone damaged); it fills the
-- other table and points the view at it
SELECT ec.contactable_table();
DELETE FROM ec.contactable_leads_a WHERE id = 83004;
UPDATE ec.contactable_leads_a SET lead_score = 1 WHERE id = 83016;
INSERT INTO ec.contactable_leads_a VALUES (99999, NULL, 0, 'queued', true, false, false, NULL);
SELECT * FROM pg_temp.drift();
SELECT * FROM ec.rebuild_contactable_leads();
SELECT ec.contactable_table(), (SELECT count(*) FROM ec.contactable_leads_a) AS old_emptied;
SELECT * FROM pg_temp.drift();
-- the feeder's question is answered from the shown table's index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ec.mv_contactable_leads
 WHERE assigned_broker_id = 831 AND campaign_status = 'queued' ORDER BY lead_score DESC, id LIMIT 250;
RESET enable_seqscan;
-- a bulk change (more than max(50000, a tenth of the rows)) takes the rebuild path
UPDATE ec.leads SET campaign_status = 'queued' WHERE id BETWEEN 83001 AND 83060 AND campaign_status = 'new';
INSERT INTO ec.contactable_changes SELECT g FROM generate_series(1, 50001) g;
SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;
SELECT ec.contactable_table();
SELECT * FROM pg_temp.drift();

-- each run is recorded: one ok row per local date (a second run updates it), and an event
SELECT job, local_date, broker_id, ok, error, detail ->> 'runs' AS runs, duration_ms >= 0 AS timed
FROM ec.job_runs WHERE job = 'refresh' ORDER BY id;
SELECT event_type, ok, broker_id, detail ->> 'local_date' AS local_date FROM ec.pipeline_events
WHERE event_type = 'mv_refresh' ORDER BY id;

-- a failing refresh: answered, recorded, alerted, and the log kept for the next run
ALTER TABLE ec.contactable_leads_a ADD CONSTRAINT refresh_test_breaker CHECK (property_state IS DISTINCT FROM 'ZZ');
UPDATE ec.leads SET property_state = 'ZZ' WHERE id = 83012;
SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;
SELECT job, local_date, ok, error FROM ec.job_runs WHERE NOT ok;
SELECT event_type, ok, detail ->> 'error' AS error FROM ec.pipeline_events WHERE event_type = 'mv_refresh' AND NOT ok;
SELECT job, local_date, alert, error FROM ec.job_alerts WHERE job = 'refresh';
SELECT count(*) AS still_logged FROM ec.contactable_changes;
ALTER TABLE ec.contactable_leads_a DROP CONSTRAINT refresh_test_breaker;
SELECT ec.refresh_contactable_leads() - 'duration_ms' AS refresh;
SELECT * FROM pg_temp.drift();
SELECT job, local_date, alert FROM ec.job_alerts WHERE job = 'refresh';
-- a refresh missed today is an alert too (15 minutes after the slot)
SET ec.test_now = '2026-03-10 05:44 America/Los_Angeles';
SELECT job, local_date, alert, since FROM ec.job_alerts WHERE job = 'refresh';
SET ec.test_now = '2026-03-10 05:45 America/Los_Angeles';
SELECT job, local_date, alert, since FROM ec.job_alerts WHERE job = 'refresh';

-- emptying the leads empties the contactable leads
SET client_min_messages = warning;
TRUNCATE ec.leads CASCADE;
RESET client_min_messages;
SELECT count(*) AS contactable, (SELECT count(*) FROM ec.contactable_changes) AS logged FROM ec.mv_contactable_leads;
DROP OWNED BY refresh_api;
DROP ROLE refresh_api;
DELETE FROM ec.brokers WHERE id IN (831, 832);
RESET ec.test_now;
-- leave the shared database as found (a superuser may remove log rows)
DELETE FROM ec.pipeline_events WHERE event_type = 'mv_refresh';
DELETE FROM ec.job_runs;
