-- Views: the feeder's materialized view and what the dashboard reads.

-- Leads a campaign may contact: a verified contact, status new/queued/active,
-- not opted out of email (do_not_contact is excluded by the status list).
-- Consent is NOT a filter here: consent is captured through the link the email
-- campaign sends, so requiring it would keep every lead out of the campaign.
-- The voice layer requires consent = TRUE (TCPA) on the live table.
-- Brokers never read it directly: a materialized view has no row security.
CREATE MATERIALIZED VIEW ec.mv_contactable_leads AS
SELECT l.id,
	   l.assigned_broker_id,
	   l.lead_score,
	   l.campaign_status,
	   l.email_verified,
	   l.phone_verified,
	   l.consent,
	   l.property_state
FROM ec.leads l
WHERE (l.email_verified OR l.phone_verified)
  AND l.campaign_status IN ('new', 'queued', 'active')
  AND NOT l.email_opt_out;
COMMENT ON MATERIALIZED VIEW ec.mv_contactable_leads IS
	'Leads with a verified contact, status new/queued/active, not opted out; refreshed daily before the feeder';
CREATE UNIQUE INDEX mv_contactable_leads_id ON ec.mv_contactable_leads (id);
CREATE INDEX mv_contactable_leads_feed ON ec.mv_contactable_leads (assigned_broker_id, lead_score DESC, id)
	WHERE campaign_status = 'queued';

-- Funnel per broker: rows of the broker's own leads only (security_invoker
-- makes the view obey the leads table's row security).
CREATE VIEW ec.broker_funnel WITH (security_invoker = true) AS
SELECT l.assigned_broker_id AS broker_id,
	   l.campaign_status,
	   pg_catalog.count(*) AS leads,
	   pg_catalog.count(*) FILTER (WHERE l.consent) AS consented,
	   pg_catalog.max(l.updated_at) AS last_change
FROM ec.leads l
GROUP BY l.assigned_broker_id, l.campaign_status;
COMMENT ON VIEW ec.broker_funnel IS 'Leads per lifecycle status for the calling broker (row security applies)';
