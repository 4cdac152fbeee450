-- Privileges, granted last so that every piece's objects are covered.
-- PUBLIC (and so anon) gets nothing in ec. The broker privileges go to
-- ec_broker and, where it exists, to Supabase's authenticated; the pipeline's
-- to ec_service and service_role (both API roles are NOINHERIT there).

REVOKE ALL ON ALL TABLES IN SCHEMA ec FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ec FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ec FROM PUBLIC;

DO $grants$
DECLARE
	r text;
BEGIN
	-- The pipeline: every table but the secret store (read through functions).
	FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ('ec_service', 'service_role') LOOP
		EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA ec TO %I', r);
		EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ec TO %I', r);
		EXECUTE pg_catalog.format('REVOKE ALL ON ec.keys FROM %I', r);
		EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ec TO %I', r);
		EXECUTE pg_catalog.format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ec TO %I', r);
	END LOOP;

	-- A broker: its own rows (row security decides which). Consent,
	-- verification, score and dedupe keys are written only by the pipeline.
	FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ('ec_broker', 'authenticated') LOOP
		EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA ec TO %I', r);
		EXECUTE pg_catalog.format($g$GRANT SELECT ON ec.brokers, ec.broker_phone_numbers, ec.lead_number_assignments,
			ec.calls, ec.email_events, ec.billing_events, ec.invoices, ec.pricing_tiers, ec.pipeline_events,
			ec.job_runs, ec.lead_consent_audit, ec.campaign_status_transitions, ec.broker_funnel, ec.leads TO %I$g$, r);
		EXECUTE pg_catalog.format('GRANT UPDATE (name, email, webhook_url) ON ec.brokers TO %I', r);
		EXECUTE pg_catalog.format($g$GRANT INSERT (first_name, last_name, email, emails, phone, phones, property_address,
			property_unit, property_city, property_state, property_zip, county_fips, owner_age, owner_occupied,
			estimated_value, estimated_equity, years_owned, extra, assigned_broker_id) ON ec.leads TO %I$g$, r);
		EXECUTE pg_catalog.format($g$GRANT UPDATE (first_name, last_name, email, emails, phone, phones, owner_age,
			owner_occupied, estimated_value, estimated_equity, years_owned, extra, campaign_status)
			ON ec.leads TO %I$g$, r);
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION ec.jwt_sub(), ec.current_broker_id() TO %I', r);
		-- the CHECK constraints of the leads a broker writes call these
		EXECUTE pg_catalog.format($g$GRANT EXECUTE ON FUNCTION ec.is_email(text), ec.is_us_phone(text),
			ec.is_state_code(text), ec.is_digits5(text), ec.is_digits10(text), ec.is_owner_age(integer),
			ec.is_years_owned(integer), ec.is_score(numeric), ec.is_nonnegative(numeric), ec.is_nonnegative(integer),
			ec.is_sha256(bytea), ec.is_jsonb_object(jsonb), ec.leads_values_ok(text, text, text, text, text, text,
			bytea, integer, numeric, integer, jsonb, jsonb, numeric, integer, boolean, timestamptz, ec.consent_method,
			ec.campaign_status, timestamptz, text, text, boolean, timestamptz), ec.leads_row_ok(record) TO %I$g$, r);
	END LOOP;
END
$grants$;
