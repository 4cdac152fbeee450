-- Row Level Security. Every table in ec has it enabled (the loop below);
-- ec_service is unrestricted, a broker reaches only its own rows. The broker
-- policies are TO PUBLIC because their condition is the broker identity itself
-- (the JWT subject): a role without table privileges gets nothing from them,
-- and Supabase's NOINHERIT API roles are covered without membership.

-- Brokers: a broker sees and renames itself.
CREATE POLICY broker_self ON ec.brokers FOR SELECT TO PUBLIC
	USING (auth_user_id = ec.jwt_sub());
CREATE POLICY broker_self_update ON ec.brokers FOR UPDATE TO PUBLIC
	USING (auth_user_id = ec.jwt_sub()) WITH CHECK (auth_user_id = ec.jwt_sub());

-- Leads: SELECT / INSERT / UPDATE own leads (the seed); no DELETE.
CREATE POLICY broker_leads_select ON ec.leads FOR SELECT TO PUBLIC
	USING (assigned_broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_leads_insert ON ec.leads FOR INSERT TO PUBLIC
	WITH CHECK (assigned_broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_leads_update ON ec.leads FOR UPDATE TO PUBLIC
	USING (assigned_broker_id = (SELECT ec.current_broker_id()))
	WITH CHECK (assigned_broker_id = (SELECT ec.current_broker_id()));

-- Broker-owned rows, read-only for the broker.
CREATE POLICY broker_own ON ec.broker_phone_numbers FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.lead_number_assignments FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.calls FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.email_events FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.billing_events FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.invoices FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.pipeline_events FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
CREATE POLICY broker_own ON ec.job_runs FOR SELECT TO PUBLIC
	USING (broker_id = (SELECT ec.current_broker_id()));
-- Prices: the broker's own list and the default list.
CREATE POLICY broker_own ON ec.pricing_tiers FOR SELECT TO PUBLIC
	USING (broker_id IS NULL OR broker_id = (SELECT ec.current_broker_id()));
-- Consent evidence of the broker's own leads (the subquery obeys leads' policy).
CREATE POLICY broker_own ON ec.lead_consent_audit FOR SELECT TO PUBLIC
	USING (EXISTS (SELECT FROM ec.leads l WHERE l.id = lead_consent_audit.lead_id));

-- Every table: row security on, the service role unrestricted.
DO $rls$
DECLARE
	t regclass;
BEGIN
	FOR t IN SELECT c.oid::regclass FROM pg_catalog.pg_class c
			 WHERE c.relnamespace = 'ec'::regnamespace AND c.relkind IN ('r', 'p')
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format('CREATE POLICY service_all ON %s TO ec_service USING (true) WITH CHECK (true)', t);
	END LOOP;
END
$rls$;

-- The lifecycle table is public knowledge for a broker (its trigger reads it).
CREATE POLICY broker_read ON ec.campaign_status_transitions FOR SELECT TO PUBLIC USING (true);
