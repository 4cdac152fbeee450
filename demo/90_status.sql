-- Last step: what is in the pipeline now.
\echo
\echo '== Leads per broker and lifecycle status'
SELECT b.name AS broker, l.campaign_status AS status, count(*) AS leads,
	   count(*) FILTER (WHERE l.email_verified) AS email_verified,
	   count(*) FILTER (WHERE l.phone_verified) AS phone_verified,
	   count(*) FILTER (WHERE l.consent) AS consented
FROM ec.leads l LEFT JOIN ec.brokers b ON b.id = l.assigned_broker_id
GROUP BY 1, 2 ORDER BY 1, 2;

\echo '== Contactable leads (ec.mv_contactable_leads)'
\o /dev/null
SELECT ec.refresh_contactable_leads();
\o
SELECT b.name AS broker, count(*) AS contactable, count(*) FILTER (WHERE m.campaign_status = 'queued') AS queued_for_feeder
FROM ec.mv_contactable_leads m JOIN ec.brokers b ON b.id = m.assigned_broker_id GROUP BY 1 ORDER BY 1;

\echo '== What a broker sees through the API (row security: Gulf Coast HECM Partners)'
BEGIN;
CREATE ROLE demo_api NOLOGIN;
GRANT ec_broker TO demo_api;
SET LOCAL ROLE demo_api;
SELECT FROM set_config('request.jwt.claims', '{"sub":"5b0c1f5e-8a8e-4a43-9d55-6f1f7c2a0002","role":"authenticated"}', true) \g /dev/null
SELECT id, first_name, last_name, property_city, campaign_status FROM ec.leads ORDER BY id;
ROLLBACK;

\echo '== Pipeline events and dead letters'
SELECT event_type, count(*) AS events, count(*) FILTER (WHERE NOT ok) AS failed,
	   round(avg(duration_ms), 3) AS avg_ms
FROM ec.pipeline_events GROUP BY 1 ORDER BY 1;
SELECT ec.dlq_depth() AS open_dead_letters;
