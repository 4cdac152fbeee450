-- Synthetic data for the benchmarks: :scale properties spread over states,
-- counties and 100 brokers, each with a canonical spelling (what ec.leads
-- holds) and a messy one (what exports send: "North" / "N.", "Street" / "St",
-- "Apt 4" / "#4", lower case, stray punctuation).
--
--   psql -v scale=1000000 -v copyfile=/path/leads.csv -f bench/generate.sql
--
-- Produces bench.brokers_n (100 rows in ec.brokers), bench.props (one row per
-- property, both spellings and every lead column) and bench.leads.csv, the
-- canonical rows as a COPY file (:copyfile).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

INSERT INTO ec.brokers (name, auth_user_id, licensed_states, email)
SELECT 'Broker ' || b, ('00000000-0000-4000-8000-' || lpad(b::text, 12, '0'))::uuid,
	   ARRAY['CA', 'FL', 'AZ', 'TX', 'NV'], 'broker' || b || '@example.com'
FROM generate_series(1, 100) b
ON CONFLICT DO NOTHING;

CREATE TABLE bench.geo (k int PRIMARY KEY, state text, county_fips text, city text, zip text);
INSERT INTO bench.geo VALUES
	(0, 'FL', '12115', 'SARASOTA', '34232'), (1, 'FL', '12057', 'TAMPA', '33606'),
	(2, 'FL', '12103', 'SAINT PETERSBURG', '33704'), (3, 'FL', '12011', 'FORT LAUDERDALE', '33308'),
	(4, 'CA', '06037', 'LOS ANGELES', '90019'), (5, 'CA', '06073', 'SAN DIEGO', '92103'),
	(6, 'CA', '06059', 'IRVINE', '92620'), (7, 'CA', '06001', 'OAKLAND', '94610'),
	(8, 'AZ', '04013', 'PHOENIX', '85016'), (9, 'AZ', '04019', 'TUCSON', '85716'),
	(10, 'AZ', '04013', 'SCOTTSDALE', '85251'), (11, 'TX', '48201', 'HOUSTON', '77005'),
	(12, 'TX', '48113', 'DALLAS', '75214'), (13, 'TX', '48453', 'AUSTIN', '78704'),
	(14, 'TX', '48029', 'SAN ANTONIO', '78209'), (15, 'NV', '32003', 'LAS VEGAS', '89117'),
	(16, 'NV', '32031', 'RENO', '89509'), (17, 'CA', '06067', 'SACRAMENTO', '95818'),
	(18, 'FL', '12086', 'MIAMI', '33133'), (19, 'FL', '12095', 'ORLANDO', '32803');

CREATE TABLE bench.streets (k int PRIMARY KEY, name text, suffix text, suffix_messy text, pre text, pre_messy text);
INSERT INTO bench.streets
SELECT k, (ARRAY['MAIN', 'OAK HOLLOW', 'BAYSHORE', 'PALM', 'CYPRESS', 'MAGNOLIA', 'SUNSET', 'LAKEVIEW', 'HILLCREST',
				 'WILLOW', 'MAPLE', 'CEDAR', 'PINE', 'ELM', 'WASHINGTON', 'LINCOLN', 'JEFFERSON', 'MADISON',
				 'RIVERSIDE', 'PARK', 'HIGHLAND', 'FOREST', 'MEADOW', 'SPRING', 'VALLEY', 'CANYON', 'MESA',
				 'DESERT ROSE', 'OCEAN', 'HARBOR'])[k % 30 + 1],
	   (ARRAY['ST', 'AVE', 'DR', 'BLVD', 'LN', 'CT', 'RD', 'WAY', 'PL', 'CIR'])[k / 30 % 10 + 1],
	   (ARRAY['Street', 'Avenue', 'Drive', 'Boulevard', 'Lane', 'Court', 'Road', 'Way', 'Place', 'Circle'])[k / 30 % 10 + 1],
	   (ARRAY[NULL, 'N', 'S', 'E', 'W'])[k % 5 + 1],
	   (ARRAY[NULL, 'North', 'south', 'E.', 'West'])[k % 5 + 1]
FROM generate_series(0, 59) k;

-- Property i: house number, street and place are a unique combination for
-- up to 9973 * 60 * 20 properties; every 7th property is a unit in a building.
CREATE TABLE bench.props AS
SELECT i,
	   n::text || CASE WHEN s.pre IS NULL THEN '' ELSE ' ' || s.pre END || ' ' || s.name || ' ' || s.suffix AS line1,
	   CASE WHEN i % 7 = 0 THEN 'APT ' || (i % 40 + 1) END AS unit,
	   n::text || CASE WHEN s.pre_messy IS NULL THEN '' ELSE ' ' || s.pre_messy END || ' '
		   || initcap(s.name) || ' ' || s.suffix_messy
		   || CASE WHEN i % 7 = 0 THEN ' #' || (i % 40 + 1) ELSE '' END AS messy_line1,
	   g.city, initcap(g.city) AS messy_city, g.state, g.zip, g.zip || '-' || lpad((i % 9999)::text, 4, '0') AS messy_zip,
	   g.county_fips,
	   CASE WHEN i % 5 <> 0 THEN lpad((1000000000 + i)::text, 10, '0') END AS mak,
	   CASE WHEN i % 3 <> 0 THEN lpad((i % 1000)::text, 4, '0') || '-' || lpad((i / 1000 % 100)::text, 2, '0') || '-' || lpad((i / 100000)::text, 4, '0') END AS apn,
	   (ARRAY['Margaret', 'Harold', 'Dolores', 'Eugene', 'Betty', 'Walter', 'Shirley', 'Frank', 'Joan', 'Raymond'])[i % 10 + 1] AS first_name,
	   (ARRAY['Ellison', 'Whitcomb', 'Garcia', 'Nguyen', 'Okafor', 'Schmidt', 'Rossi', 'Patel', 'Kowalski', 'Brennan'])[i / 10 % 10 + 1] AS last_name,
	   55 + (i * 31 % 40) AS owner_age,
	   i % 9 <> 0 AS owner_occupied,
	   (150000 + (i::bigint * 7919 % 850000))::numeric(14, 2) AS estimated_value,
	   i % 4 <> 0 AS email_ok,
	   i % 3 = 0 AS phone_ok,
	   i % 100 + 1 AS broker_id,
	   (i * 2654435761 % 10000) / 100.0 AS score
FROM generate_series(1, :scale) i
CROSS JOIN LATERAL (SELECT i % 9973 + 1 AS n, i / 9973 % 60 AS sk, i / (9973 * 60) % 20 AS gk) k
JOIN bench.streets s ON s.k = k.sk
JOIN bench.geo g ON g.k = k.gk;
ALTER TABLE bench.props ADD PRIMARY KEY (i);

-- The canonical rows as ec.leads holds them, written once as a COPY file so
-- that loading can be timed against plain COPY of the very same bytes.
CREATE TABLE bench.lead_rows AS
SELECT p.i AS id, p.first_name, p.last_name,
	   lower(p.first_name || '.' || p.last_name || p.i || '@example.com') AS email,
	   '+1' || (ARRAY['941', '813', '727', '305', '213', '619', '602', '520', '713', '702'])[p.i % 10 + 1]
		   || lpad((2000000 + p.i % 7999999)::text, 7, '0') AS phone,
	   p.line1 AS property_address, p.unit AS property_unit, p.city AS property_city, p.state AS property_state,
	   p.zip AS property_zip, p.county_fips, p.mak, p.apn,
	   ec.normalize_apn(p.apn, p.state, p.county_fips) AS apn_key,
	   ec.addr_hash(p.line1, p.unit, p.city, p.state, p.zip) AS addr_hash,
	   p.owner_age, p.owner_occupied, p.estimated_value, (p.estimated_value * 0.6)::numeric(14, 2) AS estimated_equity,
	   p.email_ok AS email_verified, p.phone_ok AS phone_verified,
	   (CASE WHEN p.email_ok OR p.phone_ok THEN 'queued' ELSE 'new' END)::ec.campaign_status AS campaign_status,
	   p.score::numeric(6, 2) AS lead_score, p.broker_id AS assigned_broker_id
FROM bench.props p;
COPY bench.lead_rows TO :'copyfile' WITH (FORMAT csv);
DROP TABLE bench.lead_rows;
