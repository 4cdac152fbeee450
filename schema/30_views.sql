-- Views: the feeder's materialized view and what the dashboard reads.

-- Leads a campaign may contact: a verified contact, status new/queued/active,
-- not opted out of email (do_not_contact is excluded by the status list).
-- Consent is NOT a filter here: consent is captured through the link the email
-- campaign sends, so requiring it would keep every lead out of the campaign.
-- The voice layer requires consent = TRUE (TCPA) on the live table.
--
-- ec.contactable_leads_source is the definition; ec.mv_contactable_leads
-- shows its rows as of the last refresh. It is not a materialized view:
-- REFRESH MATERIALIZED VIEW CONCURRENTLY recomputes and diffs every row
-- (about 9 s at 1M leads). Instead row triggers on ec.leads log the ids
-- of leads whose contactable columns changed (ec.contactable_changes), and
-- ec.refresh_contactable_leads() (schema/80_campaign.sql) re-reads only those
-- into the table the view shows. When many leads changed (a bulk load) it
-- fills the other of two tables (contactable_leads_a / _b) without indexes,
-- indexes it, and points the view at it: readers are never blocked for the
-- rebuild. After a refresh it holds exactly the rows of the definition;
-- between refreshes it is as stale as a materialized view would be.
-- docs/campaign.md has the measurements. Brokers never read it (no grant).
CREATE VIEW ec.contactable_leads_source AS
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
COMMENT ON VIEW ec.contactable_leads_source IS
	'Definition of the contactable leads (verified contact, new/queued/active, not opted out), read live';

CREATE TABLE ec.contactable_leads_a (
	id bigint NOT NULL,
	assigned_broker_id bigint,
	lead_score numeric(6, 2) NOT NULL,
	campaign_status ec.campaign_status NOT NULL,
	email_verified boolean NOT NULL,
	phone_verified boolean NOT NULL,
	consent boolean NOT NULL,
	property_state text
);
CREATE TABLE ec.contactable_leads_b (LIKE ec.contactable_leads_a);
CREATE UNIQUE INDEX contactable_leads_a_id ON ec.contactable_leads_a (id);
CREATE INDEX contactable_leads_a_feed ON ec.contactable_leads_a (assigned_broker_id, lead_score DESC, id)
	WHERE campaign_status = 'queued';
CREATE UNIQUE INDEX contactable_leads_b_id ON ec.contactable_leads_b (id);
CREATE INDEX contactable_leads_b_feed ON ec.contactable_leads_b (assigned_broker_id, lead_score DESC, id)
	WHERE campaign_status = 'queued';
COMMENT ON TABLE ec.contactable_leads_a IS 'Contactable leads, one of two tables ec.mv_contactable_leads shows in turn';
COMMENT ON TABLE ec.contactable_leads_b IS 'Contactable leads, one of two tables ec.mv_contactable_leads shows in turn';

-- Which of the two the view shows (changed with the view, in one transaction).
CREATE TABLE ec.contactable_state (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	active text NOT NULL CHECK (active IN ('contactable_leads_a', 'contactable_leads_b')),
	rebuilt_at timestamptz
);
COMMENT ON TABLE ec.contactable_state IS 'Which table ec.mv_contactable_leads shows now';
INSERT INTO ec.contactable_state (active) VALUES ('contactable_leads_a');

CREATE VIEW ec.mv_contactable_leads AS
SELECT id, assigned_broker_id, lead_score, campaign_status, email_verified, phone_verified, consent, property_state
FROM ec.contactable_leads_a;
COMMENT ON VIEW ec.mv_contactable_leads IS
	'Contactable leads as of the last refresh (ec.refresh_contactable_leads): the rows of ec.contactable_leads_source';

-- Ids of leads whose contactable columns changed since the last refresh
-- (duplicates allowed: the refresh reads them once and deletes them).
CREATE TABLE ec.contactable_changes (
	lead_id bigint NOT NULL
);
COMMENT ON TABLE ec.contactable_changes IS
	'Leads changed since the last refresh of ec.mv_contactable_leads (written by triggers on ec.leads)';

-- One row trigger per event. The function is C (src/identity/contactable_log.c):
-- it reads the contactable columns of the row versions the executor hands it
-- and writes only when there is something to log, so a statement that
-- changes no contactable column logs nothing and copies nothing (statement
-- triggers over transition tables made every statement writing a lead copy
-- each old and new row into tuplestores). It logs as its owner: a broker
-- changing its own lead's status has no right to the log, yet its change
-- must be logged.
--   INSERT: a new row that is contactable; DELETE: an old row that was;
--   UPDATE: both ids when the id changed; else the id when
--   (assigned_broker_id, lead_score, campaign_status, email_verified,
--   phone_verified, consent, property_state, email_opt_out) differ while
--   the old or the new row is contactable.
CREATE FUNCTION ec.log_contactable_changes() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ec_log_contactable_changes';
CREATE FUNCTION ec.log_contactable_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	TRUNCATE ec.contactable_leads_a, ec.contactable_leads_b, ec.contactable_changes;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION ec.log_contactable_changes() IS
	'Trigger: logs leads whose contactable columns changed (inserted, updated, deleted) for the next refresh';
COMMENT ON FUNCTION ec.log_contactable_truncate() IS 'Trigger: an emptied leads table empties the contactable leads';
CREATE TRIGGER leads_contactable_insert AFTER INSERT ON ec.leads
	FOR EACH ROW EXECUTE FUNCTION ec.log_contactable_changes();
CREATE TRIGGER leads_contactable_update AFTER UPDATE ON ec.leads
	FOR EACH ROW EXECUTE FUNCTION ec.log_contactable_changes();
CREATE TRIGGER leads_contactable_delete AFTER DELETE ON ec.leads
	FOR EACH ROW EXECUTE FUNCTION ec.log_contactable_changes();
CREATE TRIGGER leads_contactable_truncate AFTER TRUNCATE ON ec.leads
	FOR EACH STATEMENT EXECUTE FUNCTION ec.log_contactable_truncate();

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
