-- Step 0: the bundled sample (demo/sample/*.csv): three brokers and their
-- leads, as an operator would load them.
\echo
\echo '== Sample brokers and leads'
CREATE TEMP TABLE sample_brokers (name text, auth_user_id uuid, email text, licensed_states text[],
	daily_lead_cap int, instantly_campaign_id text);
\copy sample_brokers FROM 'demo/sample/brokers.csv' WITH (FORMAT csv, HEADER)
INSERT INTO ec.brokers (name, auth_user_id, email, licensed_states, daily_lead_cap, instantly_campaign_id)
SELECT name, auth_user_id, email, licensed_states, daily_lead_cap, instantly_campaign_id FROM sample_brokers;

CREATE TEMP TABLE sample_leads (first_name text, last_name text, email text, phone text, property_address text,
	property_unit text, property_city text, property_state text, property_zip text, county_fips text, apn text,
	mak text, owner_age int, owner_occupied boolean, estimated_value numeric, estimated_equity numeric,
	years_owned int, broker text, verification_codes text[]);
\copy sample_leads FROM 'demo/sample/leads.csv' WITH (FORMAT csv, HEADER)
