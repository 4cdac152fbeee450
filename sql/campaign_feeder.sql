-- The campaign feeder: the top N queued leads of each broker by score,
-- re-checked on the live table, queued -> active, a consent token each, a
-- persona each (deterministic), per-broker caps, idempotent per broker and
-- local date, every run recorded; the 4-step sequence from send events.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET ec.test_now = '2026-03-09 08:00 America/Los_Angeles';
SELECT ec.add_key('consent', 'feeder-test', decode(repeat('5a', 32), 'hex'));

INSERT INTO ec.brokers (id, name, daily_lead_cap, instantly_campaign_id, status) VALUES
	(851, 'Feeder A', 3, 'camp-851', 'active'),
	(852, 'Feeder B', 2, 'camp-852', 'active'),
	(853, 'Feeder C (paused)', 5, 'camp-853', 'paused'),
	(854, 'Feeder D (no campaign)', 5, NULL, 'active');
-- broker B signs with its own two personas
INSERT INTO ec.personas (broker_id, slot, name) VALUES (852, 0, 'Bea'), (852, 1, 'Bo');
-- 8 leads each for A and B: owner age sets the score (older first)
INSERT INTO ec.leads (id, email, email_verified, campaign_status, assigned_broker_id, owner_age, owner_occupied)
SELECT 85000 + b * 10 + i, 'f' || b || '-' || i || '@example.com', true, 'queued', 850 + b, 62 + i * 2, true
FROM generate_series(1, 2) b, generate_series(1, 8) i;
INSERT INTO ec.leads (id, email, email_verified, campaign_status, assigned_broker_id) VALUES
	(85031, 'c@example.com', true, 'queued', 853), (85041, 'd@example.com', true, 'queued', 854),
	(85019, NULL, false, 'queued', 851);				-- not contactable: no verified contact
UPDATE ec.leads SET phone = '+19415550019', phone_verified = true WHERE id = 85019;	-- contactable by phone, no email
SELECT ec.refresh_contactable_leads() ->> 'status' AS refreshed;
-- after the 05:30 refresh: A's best lead unsubscribes, B's best asks not to be contacted
UPDATE ec.leads SET email_opt_out = true, email_opt_out_at = now() WHERE id = 85018;
UPDATE ec.leads SET campaign_status = 'do_not_contact' WHERE id = 85028;
SELECT m.assigned_broker_id, m.id, m.lead_score FROM ec.mv_contactable_leads m
WHERE m.assigned_broker_id IN (851, 852) AND m.campaign_status = 'queued' ORDER BY 1, 3 DESC, 2;

SET ec.consent_form_url = 'https://consent.example.com/c/{token}';
SET ec.instantly_base_url = 'http://127.0.0.1:9/instantly';
SELECT ec.run_feeder('2026-03-09') - 'duration_ms' AS feed;
-- the right leads, in order, within each cap; the opted-out and do-not-contact ones skipped
SELECT c.broker_id, c.rank, c.lead_id, l.lead_score, l.campaign_status, l.added_to_campaign_at IS NOT NULL AS dated,
	   c.persona, c.campaign_id, c.local_date
FROM ec.campaign_leads c JOIN ec.leads l ON l.id = c.lead_id ORDER BY c.broker_id, c.rank;
-- personas: deterministic per lead, from the broker's own set or the default 45
SELECT count(*) AS default_personas FROM ec.personas WHERE broker_id IS NULL;
SELECT bool_and(c.persona = CASE WHEN c.broker_id = 852 THEN (ARRAY['Bea', 'Bo'])[ec.persona_slot(c.lead_id, 2) + 1]
								 ELSE (SELECT name FROM ec.personas WHERE broker_id IS NULL
									   AND slot = ec.persona_slot(c.lead_id, 45)) END) AS deterministic
FROM ec.campaign_leads c;
-- the Instantly requests: one per broker (up to 1,000 leads each), with each
-- lead's persona and consent link; keyed per broker and local date
SELECT r.url, r.idempotency_key, r.purpose, jsonb_array_length(b -> 'leads') AS leads, b ->> 'campaign_id' AS campaign,
	   (SELECT array_agg(l ->> 'email' ORDER BY o) FROM jsonb_array_elements(b -> 'leads') WITH ORDINALITY x(l, o)) AS emails
FROM ec.http_requests r, LATERAL (SELECT convert_from(r.body, 'UTF8')::jsonb AS b) j
WHERE r.idempotency_key LIKE 'feeder-%' ORDER BY r.id;
SELECT l -> 'custom_variables' ->> 'lead_id' AS lead_id, l -> 'custom_variables' ->> 'persona' AS persona,
	   (l -> 'custom_variables' ->> 'consent_link') ~ '^https://consent\.example\.com/c/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' AS consent_link,
	   (ec.verify_consent_token(substr(l -> 'custom_variables' ->> 'consent_link', 31)) ->> 'status') AS token_status
FROM ec.http_requests r, jsonb_array_elements(convert_from(r.body, 'UTF8')::jsonb -> 'leads') l
WHERE r.idempotency_key LIKE 'feeder-%' ORDER BY 1;
SELECT count(*) = count(http_request_id) AS every_lead_has_its_request FROM ec.campaign_leads;
-- one consent token per fed lead
SELECT count(*) AS tokens, count(DISTINCT t.lead_id) AS leads FROM ec.consent_tokens t
JOIN ec.campaign_leads c ON c.lead_id = t.lead_id;
SELECT ec.consent_link('abc');
SET ec.consent_form_url = 'https://consent.example.com/form?src=email';
SELECT ec.consent_link('abc');
RESET ec.consent_form_url;
SELECT ec.consent_link('abc') IS NULL AS no_link;
-- the funnel events
SELECT event_type, broker_id, count(*) FROM ec.pipeline_events WHERE event_type = 'campaign_queued' GROUP BY 1, 2 ORDER BY 2;

-- idempotent: by hand again, or a retry, feeds nothing more
SELECT ec.run_feeder('2026-03-09') - 'duration_ms' AS feed_again;
SELECT ec.feed_broker(851, '2026-03-09');
SELECT count(*) AS fed_leads FROM ec.campaign_leads;
SELECT job, local_date, broker_id, ok, error, detail - 'runs' AS detail FROM ec.job_runs WHERE job = 'feeder' ORDER BY broker_id NULLS LAST, id;
-- the broker that cannot be fed is an alert
SELECT job, local_date, broker_id, alert, error FROM ec.job_alerts WHERE job = 'feeder' ORDER BY broker_id NULLS LAST;

-- a failing feed (no consent key) changes nothing, is recorded, and the next run feeds
SELECT ec.retire_key('consent', 'feeder-test');
SELECT ec.run_feeder('2026-03-10') - 'duration_ms' AS feed_without_key;
SELECT broker_id, ok, error FROM ec.job_runs WHERE job = 'feeder' AND local_date = '2026-03-10' ORDER BY broker_id NULLS LAST, id;
SELECT count(*) AS active FROM ec.leads WHERE campaign_status = 'active';
SELECT ec.add_key('consent', 'feeder-test-2', decode(repeat('6b', 32), 'hex'));
SELECT ec.refresh_contactable_leads() ->> 'status' AS refreshed;
SELECT ec.run_feeder('2026-03-10') - 'duration_ms' AS feed_with_key;
SELECT c.broker_id, c.rank, c.lead_id, c.local_date FROM ec.campaign_leads c WHERE c.local_date = '2026-03-10'
ORDER BY c.broker_id, c.rank;

-- a lead fed again (unreachable -> queued) keeps its persona
SELECT persona AS persona_before FROM ec.campaign_leads WHERE lead_id = 85017;
UPDATE ec.leads SET campaign_status = 'unreachable' WHERE id = 85017;
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 85017;
UPDATE ec.personas SET name = 'Renamed ' || name WHERE broker_id IS NULL;
SELECT ec.refresh_contactable_leads() ->> 'status' AS refreshed;
SELECT ec.feed_broker(851, '2026-03-11') - 'duration_ms' AS feed;
SELECT lead_id, persona, times_fed, local_date FROM ec.campaign_leads WHERE lead_id = 85017;
UPDATE ec.personas SET name = substr(name, 9) WHERE broker_id IS NULL;

-- the 4-step sequence (day 1, 3, 5, 7) as Instantly reports sends
INSERT INTO ec.email_events (lead_id, broker_id, event_type, campaign_id, step, provider_event_key, occurred_at) VALUES
	(85016, 851, 'email_sent', 'camp-851', 1, 'ev-1', '2026-03-09 15:00+00'),
	(85016, 851, 'email_sent', 'camp-851', 2, 'ev-2', '2026-03-11 15:00+00'),
	(85015, 851, 'email_sent', 'camp-851', 1, 'ev-3', '2026-03-09 15:05+00'),
	(85015, 851, 'email_opened', 'camp-851', NULL, 'ev-4', '2026-03-09 16:00+00');
INSERT INTO ec.email_events (lead_id, broker_id, event_type, campaign_id, step, provider_event_key, occurred_at) VALUES
	(85016, 851, 'email_sent', 'camp-851', 3, 'ev-5', '2026-03-13 15:00+00'),
	(85016, 851, 'email_sent', 'camp-851', 4, 'ev-6', '2026-03-15 15:00+00'),
	(85016, 851, 'email_sent', 'camp-851', 1, 'ev-7', '2026-03-09 14:00+00');		-- a late duplicate report
SELECT lead_id, fed_on, sequence_step, step1_sent_at, step2_sent_at, step4_sent_at, next_step, next_step_planned_on, state
FROM ec.lead_sequence WHERE lead_id IN (85015, 85016, 85014) ORDER BY lead_id;

-- misuse
SELECT ec.feed_broker(999999, '2026-03-09');
SELECT ec.persona_slot(85016, 45) = ec.persona_slot(85016, 45) AS stable, ec.persona_slot(1, 1);

-- leave the shared database as found
DELETE FROM ec.campaign_leads;
DELETE FROM ec.http_requests WHERE idempotency_key LIKE 'feeder-%';
DELETE FROM ec.email_events;
DELETE FROM ec.consent_tokens;
DELETE FROM ec.leads WHERE id BETWEEN 85000 AND 85099;
DELETE FROM ec.personas WHERE broker_id IS NOT NULL;
DELETE FROM ec.brokers WHERE id BETWEEN 851 AND 854;
SELECT ec.refresh_contactable_leads() ->> 'status' AS refreshed;
DELETE FROM ec.pipeline_events;
DELETE FROM ec.job_runs;
DELETE FROM ec.keys WHERE key_id LIKE 'feeder-test%';
RESET ec.test_now;
RESET ec.instantly_base_url;
