-- Step 1: the leads enter ec.leads (the identity step replaces this plain
-- insert with ec.upsert_leads once it lands).
INSERT INTO ec.leads (first_name, last_name, email, emails, phone, phones, property_address, property_unit,
	property_city, property_state, property_zip, county_fips, apn, mak, owner_age, owner_occupied,
	estimated_value, estimated_equity, years_owned, verification_codes, assigned_broker_id, sources)
SELECT s.first_name, s.last_name, nullif(s.email, ''), array_remove(ARRAY[nullif(s.email, '')], NULL),
	nullif(s.phone, ''), array_remove(ARRAY[nullif(s.phone, '')], NULL), s.property_address, nullif(s.property_unit, ''), s.property_city, s.property_state,
	s.property_zip, s.county_fips, nullif(s.apn, ''), nullif(s.mak, ''), s.owner_age, s.owner_occupied,
	s.estimated_value, s.estimated_equity, s.years_owned, coalesce(s.verification_codes, '{}'), b.id, '{demo}'
FROM sample_leads s JOIN ec.brokers b ON b.name = s.broker;
