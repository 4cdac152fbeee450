-- Step 8: the campaign layer. Each lead's HECM score, the schedule of the
-- daily jobs across the next DST change, the 05:30 contactable-leads refresh
-- and the 06:00 feeder (run here by hand for a Monday), what Instantly is
-- sent, idempotency, the 4-step sequence and the job record.
SET ec.instantly_base_url = 'http://127.0.0.1:9/instantly';	-- the demo sends nothing out
SET ec.consent_form_url = 'https://consent.example.com/c/{token}';
\echo
\echo '== Lead scores (HECM: age 62+, owner-occupied, equity share and amount, years owned, verified contacts)'
SELECT l.first_name || ' ' || l.last_name AS owner, l.owner_age AS age, l.owner_occupied AS occupied,
	   round(100 * l.estimated_equity / NULLIF(l.estimated_value, 0)) AS equity_pct, l.years_owned AS years,
	   l.lead_score AS score, (ec.lead_score_detail(l) ->> 'hecm_eligible')::boolean AS hecm_eligible
FROM ec.leads l ORDER BY l.lead_score DESC, l.id;

\echo '== The daily jobs in America/Los_Angeles: local times stay put across the DST change (UTC moves)'
SELECT j AS job, t AS utc, t AT TIME ZONE 'America/Los_Angeles' AS pacific,
	   to_char(t AT TIME ZONE 'America/Los_Angeles', 'Dy') AS day
FROM (VALUES ('refresh'), ('feeder')) x(j), LATERAL ec.job_schedule(j, '2026-10-30 00:00+00', 3) t
ORDER BY t;
\echo '== pg_cron lines for a scheduler in UTC (pg_cron 1.4) and in cron.timezone = America/Los_Angeles'
SELECT j AS job, ec.cron_schedules(j, 'UTC') AS utc_cron, ec.cron_schedules(j, 'America/Los_Angeles') AS pacific_cron
FROM (VALUES ('refresh'), ('feeder')) x(j);

-- the provider's verification codes as the identity step reads them (where no
-- earlier step did), and leads with a verified contact queued for the
-- campaign (the verification callback does this in the pipeline)
\o /dev/null
UPDATE ec.leads l
SET email_verified = EXISTS (SELECT FROM ec.verification_code_map m WHERE m.code = ANY (l.verification_codes)
							 AND m.kind = 'email_status' AND m.verdict = 'valid'),
	phone_verified = EXISTS (SELECT FROM ec.verification_code_map m WHERE m.code = ANY (l.verification_codes)
							 AND m.kind = 'phone_status' AND m.verdict = 'valid')
WHERE NOT EXISTS (SELECT FROM ec.leads v WHERE v.email_verified OR v.phone_verified);
UPDATE ec.leads SET campaign_status = 'queued' WHERE campaign_status = 'new' AND (email_verified OR phone_verified);
\o
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM ec.key_status WHERE purpose = 'consent' AND active) THEN
		PERFORM ec.add_key('consent', 'demo-consent', decode(md5('demo consent key') || md5('demo'), 'hex'));
	END IF;
END $$;

\echo '== 05:30 Monday 2026-03-09: the contactable-leads refresh (incremental: only changed leads are re-read)'
SET ec.test_now = '2026-03-09 05:30 America/Los_Angeles';
SELECT r ->> 'status' AS status, r ->> 'mode' AS mode, r ->> 'changed' AS changed_leads, r ->> 'inserted' AS contactable
FROM ec.refresh_contactable_leads() r;

\echo '== 06:00: the feeder (top N queued by score per broker, re-checked live, queued -> active, token, persona)'
SET ec.test_now = '2026-03-09 06:00 America/Los_Angeles';
SELECT r ->> 'status' AS status, r ->> 'brokers' AS brokers, r ->> 'fed' AS fed, r ->> 'requests' AS instantly_requests,
	   r ->> 'refused' AS brokers_refused
FROM ec.run_feeder() r;
SELECT b.name AS broker, c.rank, l.first_name || ' ' || l.last_name AS lead, l.lead_score AS score, c.persona,
	   l.campaign_status AS status
FROM ec.campaign_leads c JOIN ec.leads l ON l.id = c.lead_id JOIN ec.brokers b ON b.id = c.broker_id
ORDER BY b.name, c.rank;
\echo '== What Instantly will be sent (one add-leads request per broker, consent link per lead)'
SELECT r.idempotency_key, jsonb_array_length(b -> 'leads') AS leads, b ->> 'campaign_id' AS campaign,
	   left(b -> 'leads' -> 0 -> 'custom_variables' ->> 'consent_link', 48) || '...' AS first_consent_link,
	   b -> 'leads' -> 0 -> 'custom_variables' ->> 'persona' AS first_persona
FROM ec.http_requests r, LATERAL (SELECT convert_from(r.body, 'UTF8')::jsonb AS b) x
WHERE r.idempotency_key LIKE 'feeder-%' ORDER BY r.id;

\echo '== The same feeder again (a retry): nothing is fed twice'
SELECT r ->> 'fed' AS fed, r ->> 'already_fed' AS brokers_already_fed FROM ec.run_feeder() r;

\echo '== Instantly reports sends: the 4-step sequence per lead (day 1, 3, 5, 7)'
INSERT INTO ec.email_events (lead_id, broker_id, event_type, campaign_id, step, provider_event_key, occurred_at)
SELECT c.lead_id, c.broker_id, 'email_sent', c.campaign_id, s, 'demo-' || c.lead_id || '-' || s,
	   timestamptz '2026-03-09 09:00 America/Los_Angeles' + (2 * (s - 1)) * interval '1 day'
FROM ec.campaign_leads c, generate_series(1, 2) s WHERE c.rank = 1;
SELECT b.name AS broker, q.lead_id, q.sequence_step AS step, q.next_step, q.next_step_planned_on, q.state
FROM ec.lead_sequence q JOIN ec.brokers b ON b.id = q.broker_id ORDER BY b.name, q.lead_id;

\echo '== Job runs (start, end, duration, outcome) and alerts'
SELECT r.job, r.local_date, b.name AS broker, r.ok, r.duration_ms, r.error
FROM ec.job_runs r LEFT JOIN ec.brokers b ON b.id = r.broker_id ORDER BY r.id;
SELECT job, local_date, alert, error FROM ec.job_alerts;
RESET ec.test_now;
RESET ec.instantly_base_url;
RESET ec.consent_form_url;
