-- ec.feeder_lead (C): the object the feeder queues for each lead, exactly
-- jsonb_strip_nulls(jsonb_build_object(...)) of its arguments (what the
-- feeder built before): nulls left out, numbers as numeric with their
-- scale, NaN as a string.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;

CREATE TEMP TABLE fl AS
SELECT CASE WHEN g % 11 <> 0 THEN 'lead' || g || '@example.com' END AS email,
	   CASE WHEN g % 3 > 0 THEN 'Fïrst "' || g || E'"\n' END AS first_name,
	   CASE WHEN g % 4 > 0 THEN 'L' || g END AS last_name,
	   CASE WHEN g % 2 = 0 THEN '+1941555' || lpad(g::text, 4, '0') END AS phone,
	   CASE WHEN g % 13 <> 0 THEN (g::bigint - 500) * 1000000007 END AS lead_id,
	   CASE WHEN g % 5 <> 0 THEN 'Persona ' || g % 45 END AS persona,
	   CASE WHEN g % 2 = 0 THEN 'https://c.example/' || md5(g::text) END AS consent_link,
	   CASE WHEN g % 2 = 1 AND g % 7 <> 0 THEN md5(g::text) END AS consent_token,
	   CASE WHEN g % 6 > 0 THEN g || ' Bayshore Blvd' END AS property_address,
	   CASE WHEN g % 9 > 0 THEN 'São Paulo' END AS property_city,
	   CASE WHEN g % 8 > 0 THEN 'FL' END AS property_state,
	   CASE WHEN g % 10 > 0 THEN lpad((g % 99999)::text, 5, '0') END AS property_zip,
	   (CASE g % 7 WHEN 0 THEN NULL WHEN 1 THEN 'NaN' WHEN 2 THEN '-0.50' WHEN 3 THEN '123456789012.34'
		WHEN 4 THEN '0' ELSE (g * 1000.5)::text END)::numeric(14, 2) AS est_equity_usd,
	   CASE WHEN g % 12 > 0 THEN 18 + g % 100 END AS owner_age,
	   CASE WHEN g % 14 > 0 THEN g % 150 - 1 END AS years_owned,
	   (CASE WHEN g % 15 > 0 THEN (g % 10001)::numeric / 100 END)::numeric(6, 2) AS lead_score
FROM generate_series(1, 2000) g;

SELECT count(*) AS leads,
	   count(*) FILTER (WHERE ec.feeder_lead(email, first_name, last_name, phone, lead_id, persona, consent_link,
			consent_token, property_address, property_city, property_state, property_zip, est_equity_usd, owner_age,
			years_owned, lead_score)
		 = jsonb_strip_nulls(jsonb_build_object('email', email, 'first_name', first_name, 'last_name', last_name,
			'phone', phone, 'lead_id', lead_id, 'persona', persona, 'consent_link', consent_link,
			'consent_token', consent_token, 'property_address', property_address, 'property_city', property_city,
			'property_state', property_state, 'property_zip', property_zip, 'est_equity_usd', est_equity_usd,
			'owner_age', owner_age, 'years_owned', years_owned, 'lead_score', lead_score))) AS same,
	   count(*) FILTER (WHERE ec.feeder_lead(email, first_name, last_name, phone, lead_id, persona, consent_link,
			consent_token, property_address, property_city, property_state, property_zip, est_equity_usd, owner_age,
			years_owned, lead_score)::text
		 = jsonb_strip_nulls(jsonb_build_object('email', email, 'first_name', first_name, 'last_name', last_name,
			'phone', phone, 'lead_id', lead_id, 'persona', persona, 'consent_link', consent_link,
			'consent_token', consent_token, 'property_address', property_address, 'property_city', property_city,
			'property_state', property_state, 'property_zip', property_zip, 'est_equity_usd', est_equity_usd,
			'owner_age', owner_age, 'years_owned', years_owned, 'lead_score', lead_score))::text) AS same_text
FROM fl;
-- every member found by its key (a lookup is a binary search over the keys:
-- they are in jsonb's order), and the members in the same order
SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT FROM jsonb_each(r.b) e WHERE r.f -> e.key IS DISTINCT FROM e.value)
						  AND ARRAY(SELECT jsonb_object_keys(r.f)) = ARRAY(SELECT jsonb_object_keys(r.b))) AS found
FROM (SELECT ec.feeder_lead(email, first_name, last_name, phone, lead_id, persona, consent_link, consent_token,
			property_address, property_city, property_state, property_zip, est_equity_usd, owner_age, years_owned,
			lead_score) AS f,
		   jsonb_strip_nulls(jsonb_build_object('email', email, 'first_name', first_name, 'last_name', last_name,
			'phone', phone, 'lead_id', lead_id, 'persona', persona, 'consent_link', consent_link,
			'consent_token', consent_token, 'property_address', property_address, 'property_city', property_city,
			'property_state', property_state, 'property_zip', property_zip, 'est_equity_usd', est_equity_usd,
			'owner_age', owner_age, 'years_owned', years_owned, 'lead_score', lead_score)) AS b
	  FROM fl) r;
-- one in full, and one with every argument null
SELECT ec.feeder_lead('a@b.co', 'Ann', 'Lee', '+19415550100', 42, 'Carlos', NULL, 'tok', '1 Main St', 'Tampa', 'FL',
	'33606', 688500.50, 77, 20, 87.25);
SELECT ec.feeder_lead(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- ec.feeder_event_detail(local_date, rank, persona): the campaign_queued
-- event's detail, the very object jsonb_build_object makes of the same
SELECT d, r, p, ec.feeder_event_detail(d, r, p) AS detail,
	   ec.feeder_event_detail(d, r, p) = jsonb_build_object('local_date', d, 'rank', r, 'persona', p) AS same,
	   ec.feeder_event_detail(d, r, p)::text = jsonb_build_object('local_date', d, 'rank', r, 'persona', p)::text
		 AS same_text
FROM (VALUES ('2026-03-09'::date, 1, 'Carlos'), ('infinity', 250, 'Zoë "Z"'), ('-infinity', -3, ''),
			 ('0044-03-15 BC', 2147483647, 'a\b'), (NULL, NULL, NULL), ('2026-11-01', 0, NULL)) v(d, r, p);
