-- Lead identity, part 1: the USPS normalizer, addr_hash, APN and MAK keys as
-- SQL sees them, and the shared pair table (test/data/address_pairs.tsv).
\set VERBOSITY terse

-- the issue's example: two spellings, one canonical form
SELECT ec.normalize_address('123 North Main Street Apt 4', NULL, 'Springfield', 'Illinois', '62704-1234');
SELECT ec.normalize_address('123 N MAIN ST #4', NULL, 'SPRINGFIELD', 'IL', '62704');
SELECT ec.normalize_address('123 n. main st.', 'unit 04', 'springfield', 'il', '62704');
-- suffixes, directionals, units, highways, boxes, ordinals
SELECT ec.normalize_address(l, NULL, 'X', 'TX', '75701') FROM (VALUES
	('500 Southwest Oak Street'), ('500 Main St North West'), ('1 N St'), ('1 North Avenue'),
	('300 County Rd 12'), ('300 CR 12'), ('300 Hwy 66 N'), ('P.O. Box 77'), ('Post Office Box 77'),
	('10 West Forty-Second Street'), ('77 Bay St Bldg 2 Apt 4-b'), ('77 Bay Street Rear'),
	('77 Front St'), ('123-45 Queens Blvd'), ('123 1/2 Main St'), ('12 Calle Peña'),
	('9 Magnolia Ave Apt'), ('9 Magnolia Ave #'), ('15 Brook Stravenue'), ('15 Canyon Trafficway')) AS t(l);
-- city, state and ZIP folding
SELECT ec.normalize_address('1 Main St', NULL, c, s, z) FROM (VALUES
	('St. Louis', 'Missouri', '63101'), ('N Las Vegas', 'nv', '89030-1234'), ('Winston-Salem', 'N. Carolina', '27101'),
	('Holtsville', 'NY', '501'), ('Boston', 'Mass', '2110'), ('Newark', 'NJ', '7102-1234'),
	('Nowhere', 'Atlantis', 'ABCDE'), (NULL, NULL, '90210'), ('Ames', 'IA', NULL)) AS t(c, s, z);
-- idempotent: the canonical parts normalize to themselves
SELECT ec.normalize_address(ec.normalize_address('200 W 42nd St Ste 12', NULL, 'New York', 'NY', '10036'), NULL, NULL, NULL, NULL)
	IS NOT NULL AS reparses;

-- empty input: NULL, not an error
SELECT ec.normalize_address(NULL, NULL, NULL, NULL, NULL) IS NULL AS all_null;
SELECT ec.normalize_address('', 'Apt 4', 'X', 'CA', '90210') IS NULL AS no_street;
SELECT ec.normalize_address(' ,.; ', NULL, 'X', 'CA', '90210') IS NULL AS only_punctuation;
-- over-long input: an error (program_limit_exceeded)
SELECT ec.normalize_address(repeat('A', 1025), NULL, 'X', 'CA', '90210');
SELECT ec.normalize_address(repeat('ST ', 300), NULL, 'X', 'CA', '90210');
SELECT ec.addr_hash('1 Main St', NULL, repeat('X', 2000), 'CA', '90210');

-- addr_hash is SHA-256 of the canonical one-line form
SELECT ec.addr_hash('123 N Main St Apt 4', NULL, 'Springfield', 'IL', '62704')
	= sha256(convert_to(ec.normalize_address('123 N Main St Apt 4', NULL, 'Springfield', 'IL', '62704'), 'UTF8')) AS is_sha256;
SELECT length(ec.addr_hash('123 N Main St', NULL, 'Springfield', 'IL', '62704')) AS bytes;
-- units of one building: Apt/Unit/# fold together, two units stay apart
SELECT count(DISTINCT ec.addr_hash(l, NULL, 'Savannah', 'GA', '31401')) AS hashes FROM (VALUES
	('9 Magnolia Ave Apt 12'), ('9 Magnolia Ave Unit 12'), ('9 Magnolia Ave #12'), ('9 magnolia avenue, # 012')) AS t(l);
SELECT count(DISTINCT ec.addr_hash(l, NULL, 'Savannah', 'GA', '31401')) AS hashes FROM (VALUES
	('9 Magnolia Ave Apt 12'), ('9 Magnolia Ave Apt 13'), ('9 Magnolia Ave'), ('9 S Magnolia Ave Apt 12')) AS t(l);
-- no hash without a ZIP or a city and state: it would join unrelated properties
SELECT ec.addr_hash('1 Main St', NULL, NULL, 'CA', NULL) IS NULL AS no_locality;
SELECT ec.addr_hash('1 Main St', NULL, 'Fresno', 'CA', NULL) IS NOT NULL AS city_state;

-- the pair table shared with the C unit tests
CREATE TEMP TABLE pairs (expect text, a_line1 text, a_line2 text, a_city text, a_state text, a_zip text,
	b_line1 text, b_line2 text, b_city text, b_state text, b_zip text, note text);
\copy pairs FROM 'test/data/address_pairs.tsv' WITH (FORMAT csv, DELIMITER E'\t', HEADER true, QUOTE E'\x01')
SELECT expect, count(*) >= 50 AS enough FROM pairs GROUP BY expect ORDER BY expect;
SELECT count(*) >= 150 AS at_least_150 FROM pairs;
-- every pair that must match matches, every pair that must not does not
SELECT expect, note,
	ec.normalize_address(a_line1, a_line2, a_city, a_state, a_zip) AS a,
	ec.normalize_address(b_line1, b_line2, b_city, b_state, b_zip) AS b
FROM pairs
WHERE (expect = 'same') IS DISTINCT FROM
	(ec.addr_hash(a_line1, a_line2, a_city, a_state, a_zip) = ec.addr_hash(b_line1, b_line2, b_city, b_state, b_zip));

-- APN: separators, case and leading zeros folded; scoped to state + county
SELECT ec.normalize_apn(a, s, c) FROM (VALUES
	('5555-001-002', 'CA', '037'), ('5555 001 002', 'California', '06037'), ('05555.001.002', NULL, '6037'),
	('12-34-56-a', 'tx', '48201'), ('123-456', 'TX', '201'), ('123-456', 'TX', '113'), ('000', 'TX', '201')) AS t(a, s, c);
SELECT ec.normalize_apn('1234', NULL, '201') IS NULL AS no_state_for_3_digits;
SELECT ec.normalize_apn('1234', 'TX', NULL) IS NULL AS no_county;
SELECT ec.normalize_apn(' - . ', 'TX', '201') IS NULL AS empty_apn;
SELECT ec.normalize_apn(NULL, 'TX', '201') IS NULL AS null_apn;
SELECT ec.normalize_apn('12#34', 'TX', '201');
SELECT ec.normalize_apn('1234', 'CA', '48201');
SELECT ec.normalize_apn(repeat('1', 65), 'CA', '037');

-- MAK: 10 digits, kept as text (leading zeros matter)
SELECT ec.normalize_mak(m) FROM (VALUES (' 1234567890 '), ('0123456789'), ('123456789'), ('12345-67890'), ('')) AS t(m);
SELECT ec.normalize_mak(NULL) IS NULL AS strict;
