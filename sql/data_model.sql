-- The data model: constraints, the lifecycle enum and its transitions, the
-- added_to_campaign_at trigger, the contactable-leads view, append-only logs.
SET client_min_messages = warning;
\set VERBOSITY terse
INSERT INTO ec.brokers (name, auth_user_id) VALUES
	('Pacific Reverse', '00000000-0000-0000-0000-0000000000a1'),
	('Gulf Coast HECM', '00000000-0000-0000-0000-0000000000b2');
-- every other broker column has a default
SELECT name, status, daily_lead_cap, licensed_states FROM ec.brokers ORDER BY id;
INSERT INTO ec.brokers (name) VALUES ('  ');
INSERT INTO ec.brokers (name, daily_lead_cap) VALUES ('x', -1);
INSERT INTO ec.brokers (name, licensed_states) VALUES ('x', '{CA,florida}');

-- leads: wrong values are refused by the table itself
INSERT INTO ec.leads (property_state) VALUES ('California');
INSERT INTO ec.leads (property_zip) VALUES ('9410');
INSERT INTO ec.leads (mak) VALUES ('12345');
INSERT INTO ec.leads (phone) VALUES ('555-1234');
INSERT INTO ec.leads (owner_age) VALUES (7);
INSERT INTO ec.leads (addr_hash) VALUES ('\x00');
INSERT INTO ec.leads (campaign_status) VALUES ('New');
INSERT INTO ec.leads (consent) VALUES (true);
INSERT INTO ec.leads (estimated_value) VALUES (-1);

-- the dedupe keys are unique, and NULL never collides
INSERT INTO ec.leads (id, mak, apn, apn_key, addr_hash, property_state) VALUES
	(1, '1234567890', '0048-12-0031', 'FL:12115:0048120031', sha256('a'), 'FL'),
	(2, NULL, NULL, NULL, NULL, 'FL'),
	(3, NULL, NULL, NULL, NULL, 'FL');
INSERT INTO ec.leads (mak) VALUES ('1234567890');
INSERT INTO ec.leads (apn, apn_key) VALUES ('0048-12-0031', 'FL:12115:0048120031');
INSERT INTO ec.leads (addr_hash) VALUES (sha256('a'));
-- the same APN in another county is another parcel
INSERT INTO ec.leads (id, apn, apn_key) VALUES (4, '0048-12-0031', 'FL:12081:0048120031');

-- lifecycle: allowed moves pass, others are refused
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 1;
UPDATE ec.leads SET campaign_status = 'converted' WHERE id = 2;
UPDATE ec.leads SET campaign_status = 'replied' WHERE id = 1;
-- becoming active sets added_to_campaign_at
SELECT added_to_campaign_at IS NULL AS not_yet FROM ec.leads WHERE id = 1;
UPDATE ec.leads SET campaign_status = 'active' WHERE id = 1;
SELECT campaign_status, added_to_campaign_at > created_at AS dated FROM ec.leads WHERE id = 1;
SELECT added_to_campaign_at AS first_added FROM ec.leads WHERE id = 1 \gset
-- an update that leaves the status alone keeps the date
UPDATE ec.leads SET first_name = 'Margaret' WHERE id = 1;
SELECT updated_at > created_at AS touched FROM ec.leads WHERE id = 1;
SELECT added_to_campaign_at = :'first_added' AS unchanged FROM ec.leads WHERE id = 1;
-- do_not_contact is terminal
UPDATE ec.leads SET campaign_status = 'do_not_contact' WHERE id = 3;
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 3;
UPDATE ec.leads SET campaign_status = 'new' WHERE id = 3;
-- an active lead cannot lose its date
UPDATE ec.leads SET added_to_campaign_at = NULL WHERE id = 1;
-- consent is provable
UPDATE ec.leads SET consent = true WHERE id = 4;
UPDATE ec.leads SET consent = true, consented_at = now(), consent_method = 'form' WHERE id = 4;

-- the contactable-leads view: verified contact, new/queued/active, not opted out
INSERT INTO ec.leads (id, email, email_verified, campaign_status, assigned_broker_id, lead_score) VALUES
	(10, 'a@example.com', true, 'queued', 1, 80),
	(11, 'b@example.com', false, 'queued', 1, 90),
	(12, NULL, false, 'new', 1, 70),
	(13, 'd@example.com', true, 'new', 2, 60);
INSERT INTO ec.leads (id, phone, phone_verified, campaign_status, assigned_broker_id, lead_score) VALUES
	(14, '+19415553817', true, 'queued', 2, 50);
-- lead_score is computed from the row on insert (schema/80_campaign.sql); a direct write is still checked
UPDATE ec.leads SET lead_score = 101 WHERE id = 10;
INSERT INTO ec.leads (id, email, email_verified, assigned_broker_id, email_opt_out, email_opt_out_at) VALUES
	(15, 'e@example.com', true, 1, true, now());
INSERT INTO ec.leads (id, email, email_verified, assigned_broker_id) VALUES (16, 'f@example.com', true, 1);
UPDATE ec.leads SET campaign_status = 'do_not_contact' WHERE id = 16;
SELECT ec.refresh_contactable_leads() ->> 'status' AS refreshed;
SELECT id, assigned_broker_id, campaign_status, lead_score FROM ec.mv_contactable_leads ORDER BY id;
-- the feeder's question is answered from the view's index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ec.mv_contactable_leads
 WHERE assigned_broker_id = 1 AND campaign_status = 'queued' ORDER BY lead_score DESC, id LIMIT 250;
RESET enable_seqscan;

-- append-only logs: the pipeline may add, nobody but a superuser may change
INSERT INTO ec.pipeline_events (event_type, lead_id, duration_ms) VALUES ('dedupe_success', 1, 0.42);
INSERT INTO ec.pipeline_events (event_type) VALUES ('Dedupe Success');
SET ROLE ec_service;
INSERT INTO ec.pipeline_events (event_type, lead_id) VALUES ('email_sent', 1);
UPDATE ec.pipeline_events SET ok = false;
DELETE FROM ec.pipeline_events;
TRUNCATE ec.pipeline_events;
INSERT INTO ec.lead_consent_audit (lead_id, action, reason) VALUES (1, 'granted', 'ok');
DELETE FROM ec.lead_consent_audit;
-- the secret store is not readable by the pipeline role
SELECT count(*) FROM ec.keys;
RESET ROLE;
SELECT event_type, ok FROM ec.pipeline_events ORDER BY id;
