-- The C value checks of ec.leads and ec.pipeline_events give the answers of
-- the regular expressions they replace (src/identity/checks.c), tricky
-- inputs included: white space of every kind, non-ASCII, NULL.
CREATE TEMP TABLE samples (v text);
INSERT INTO samples VALUES
	(NULL), (''), (' '), ('a'), ('@'), ('a@'), ('@b'), ('a@b'), ('a@@b'), ('a@b@c'), ('a b@c'), ('a@b c'),
	(E'a\t@b'), (E'a@b\n'), (E'a\n@b'), (E'a@b\r'), (E'a\u000b@b'), (E'a\u001c@b'), (E'a\u007f@b'),
	('ana.lópez@example.com'), (E'a\u00a0@b'), (E'a\u3000@b'), (E'a\u2003@b'), (E'a\u200b@b'), ('josé@mañana.es'),
	('+12125551234'), ('+11125551234'), ('+12120551234'), ('+1212555123'), ('+121255512345'), ('12125551234'),
	('+1212555123a'), ('+1212555１234'), ('FL'), ('fl'), ('F'), ('FLA'), ('ÉL'), ('F1'),
	('12345'), ('1234'), ('123456'), ('1234a'), ('１２３４５'), ('0123456789'), ('012345678'), ('01234567890'),
	('dedupe_success'), ('Dedupe'), ('_x'), ('x_1'), ('1x'), ('x-y'), ('é');
SELECT count(*) AS samples,
	count(*) FILTER (WHERE ec.is_email(v) IS DISTINCT FROM (v ~ '^[^@\s]+@[^@\s]+$')) AS email_differs,
	count(*) FILTER (WHERE ec.is_us_phone(v) IS DISTINCT FROM (v ~ '^\+1[2-9][0-9]{2}[2-9][0-9]{6}$')) AS phone_differs,
	count(*) FILTER (WHERE ec.is_state_code(v) IS DISTINCT FROM (v ~ '^[A-Z]{2}$')) AS state_differs,
	count(*) FILTER (WHERE ec.is_digits5(v) IS DISTINCT FROM (v ~ '^[0-9]{5}$')) AS digits5_differs,
	count(*) FILTER (WHERE ec.is_digits10(v) IS DISTINCT FROM (v ~ '^[0-9]{10}$')) AS digits10_differs,
	count(*) FILTER (WHERE ec.is_snake_name(v) IS DISTINCT FROM (v ~ '^[a-z][a-z0-9_]*$')) AS snake_differs
FROM samples;
SELECT count(*) FILTER (WHERE ec.is_email(v)) AS emails, count(*) FILTER (WHERE ec.is_us_phone(v)) AS phones,
	count(*) FILTER (WHERE ec.is_state_code(v)) AS states, count(*) FILTER (WHERE ec.is_digits5(v)) AS digits5,
	count(*) FILTER (WHERE ec.is_digits10(v)) AS digits10, count(*) FILTER (WHERE ec.is_snake_name(v)) AS names
FROM samples;
-- The comparisons of the other CHECKs of ec.leads, in C: the same answers as
-- the expressions they replace, at the edges, for NULL, NaN and the infinities.
SELECT count(*) AS ints,
	count(*) FILTER (WHERE ec.is_owner_age(i) IS DISTINCT FROM (i BETWEEN 18 AND 120)) AS age_differs,
	count(*) FILTER (WHERE ec.is_years_owned(i) IS DISTINCT FROM (i BETWEEN 0 AND 150)) AS years_differs,
	count(*) FILTER (WHERE ec.is_nonnegative(i) IS DISTINCT FROM (i >= 0)) AS int_nonneg_differs
FROM (SELECT i FROM generate_series(-2, 152) i UNION ALL VALUES (NULL::int), (-2147483648), (2147483647)) s(i);
SELECT count(*) AS numerics,
	count(*) FILTER (WHERE ec.is_score(n) IS DISTINCT FROM (n BETWEEN 0 AND 100)) AS score_differs,
	count(*) FILTER (WHERE ec.is_nonnegative(n) IS DISTINCT FROM (n >= 0)) AS nonneg_differs,
	count(*) FILTER (WHERE ec.is_score(n)) AS scores, count(*) FILTER (WHERE ec.is_nonnegative(n)) AS nonnegs
FROM (VALUES (NULL::numeric), ('NaN'), ('Infinity'), ('-Infinity'), (-0.01), (0), (0.00), (-0.0), (0.01), (99.99),
	(100), (100.00), (100.001), (100.01), (1e30), (-1e-30), (1e-30), (50.5)) s(n);
SELECT count(*) AS byteas,
	count(*) FILTER (WHERE ec.is_sha256(b) IS DISTINCT FROM (length(b) = 32)) AS sha256_differs,
	count(*) FILTER (WHERE ec.is_sha256(b)) AS sha256s
FROM (VALUES (NULL::bytea), (''), (sha256('x')), (sha256('x') || '\x00'), (substr(sha256('x'), 2)),
	(sha256('a') || sha256('b')), (convert_to(repeat('x', 32), 'UTF8')), (convert_to(repeat('x', 5000), 'UTF8'))) s(b);
SELECT count(*) AS jsonbs,
	count(*) FILTER (WHERE ec.is_jsonb_object(j) IS DISTINCT FROM (jsonb_typeof(j) = 'object')) AS object_differs,
	count(*) FILTER (WHERE ec.is_jsonb_object(j)) AS objects
FROM (VALUES (NULL::jsonb), ('{}'), ('[]'), ('null'), ('1'), ('"s"'), ('true'), ('{"a": [1, {}]}'), ('[{}]'),
	('"{}"'), (jsonb_build_object('k', repeat('x', 100000))), (to_jsonb(repeat('y', 100000)))) s(j);
-- stored out of line (TOAST), the object check reads the header only and answers the same
CREATE TEMP TABLE big (j jsonb, b bytea);
INSERT INTO big SELECT jsonb_build_object('k', t), sha256(convert_to(t, 'UTF8')) FROM
	(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 3000) i) s(t);
INSERT INTO big SELECT to_jsonb(t), convert_to(t, 'UTF8') FROM
	(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 3000) i) s(t);
SELECT pg_column_size(j) > 2000 AS toasted, ec.is_jsonb_object(j), jsonb_typeof(j) = 'object' AS expr,
	ec.is_sha256(b), length(b) = 32 AS expr FROM big;
-- leads_values_check (ec.leads_values_ok) passes a value exactly when its
-- column's expression (the constraint it replaces) is true or NULL
CREATE FUNCTION pg_temp.passes(e text, p text, st text, z text, c text, m text, h bytea, a int, v numeric,
	y int, pp jsonb, x jsonb, sc numeric, n int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ec.leads_values_ok(e, p, st, z, c, m, h, a, v, y, pp, x, sc, n,
		NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	RETURN true;
EXCEPTION WHEN check_violation THEN
	RETURN false;
END $$;
SELECT count(*) FILTER (WHERE pg_temp.passes(v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(v ~ '^[^@\s]+@[^@\s]+$', true)) AS email_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(v ~ '^\+1[2-9][0-9]{2}[2-9][0-9]{6}$', true)) AS phone_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(v ~ '^[A-Z]{2}$', true)) AS state_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(v ~ '^[0-9]{5}$', true)) AS zip_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(v ~ '^[0-9]{5}$', true)) AS county_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(v ~ '^[0-9]{10}$', true)) AS mak_differs
FROM samples;
SELECT count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, i, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(i BETWEEN 18 AND 120, true)) AS age_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, i, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(i BETWEEN 0 AND 150, true)) AS years_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, i)
		IS DISTINCT FROM coalesce(i >= 0, true)) AS calls_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, i, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(i >= 0, true)) AS value_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, i, NULL)
		IS DISTINCT FROM coalesce(i BETWEEN 0 AND 100, true)) AS score_differs
FROM (SELECT i FROM generate_series(-2, 152) i UNION ALL VALUES (NULL::int)) s(i);
SELECT count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, n, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(n >= 0, true)) AS value_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, n, NULL)
		IS DISTINCT FROM coalesce(n BETWEEN 0 AND 100, true)) AS score_differs
FROM (VALUES (NULL::numeric), ('NaN'), ('Infinity'), ('-Infinity'), (-0.01), (0), (0.01), (100), (100.001)) s(n);
SELECT count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, b, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(length(b) = 32, true)) AS hash_differs
FROM (VALUES (NULL::bytea), (''), (sha256('x')), (sha256('x') || '\x00'), (substr(sha256('x'), 2))) s(b);
SELECT count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, j, NULL, NULL, NULL)
		IS DISTINCT FROM coalesce(jsonb_typeof(j) = 'object', true)) AS payloads_differs,
	count(*) FILTER (WHERE pg_temp.passes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, j, NULL, NULL)
		IS DISTINCT FROM coalesce(jsonb_typeof(j) = 'object', true)) AS extra_differs
FROM (VALUES (NULL::jsonb), ('{}'), ('[]'), ('null'), ('1'), ('"{}"'), ('{"a": 1}')) s(j);
-- and the four rules over several columns, on every combination of NULL
-- and not NULL (and each boolean, each campaign_status)
CREATE FUNCTION pg_temp.rules_pass(co boolean, cat timestamptz, cm ec.consent_method, cs ec.campaign_status,
	aat timestamptz, ak text, ap text, oo boolean, ooa timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ec.leads_values_ok(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		co, cat, cm, cs, aat, ak, ap, oo, ooa);
	RETURN true;
EXCEPTION WHEN check_violation THEN
	RETURN false;
END $$;
SELECT count(*) AS combinations,
	count(*) FILTER (WHERE pg_temp.rules_pass(co, cat, cm, cs, aat, ak, ap, oo, ooa) IS DISTINCT FROM
		(coalesce((NOT co OR (cat IS NOT NULL AND cm IS NOT NULL)), true)
		AND coalesce((cs <> 'active' OR aat IS NOT NULL), true)
		AND coalesce((ak IS NULL OR ap IS NOT NULL), true)
		AND coalesce((NOT oo OR ooa IS NOT NULL), true))) AS differs,
	count(*) FILTER (WHERE pg_temp.rules_pass(co, cat, cm, cs, aat, ak, ap, oo, ooa)) AS passing
FROM (VALUES (NULL::boolean), (false), (true)) a(co), (VALUES (NULL::timestamptz), (now())) b(cat),
	(VALUES (NULL::ec.consent_method), ('form')) c(cm), (SELECT NULL::ec.campaign_status UNION ALL
	SELECT unnest(enum_range(NULL::ec.campaign_status))) d(cs), (VALUES (NULL::timestamptz), (now())) e(aat),
	(VALUES (NULL::text), ('FL:12115:1')) f(ak), (VALUES (NULL::text), ('1')) g(ap),
	(VALUES (NULL::boolean), (false), (true)) h(oo), (VALUES (NULL::timestamptz), (now())) i(ooa);
-- the constraints still refuse what they refused, with their names
\set VERBOSITY terse
INSERT INTO ec.leads (owner_age) VALUES (17);
INSERT INTO ec.leads (email) VALUES ('a b@example.com');
INSERT INTO ec.leads (county_fips) VALUES ('6037');
INSERT INTO ec.leads (apn_key) VALUES ('FL:12115:1');
INSERT INTO ec.leads (email_opt_out) VALUES (true);
BEGIN;
INSERT INTO ec.leads (id, owner_age, years_owned) VALUES (-1, 70, 40) RETURNING owner_age, years_owned;
ROLLBACK;
INSERT INTO ec.leads (years_owned) VALUES (151);
INSERT INTO ec.leads (call_attempt_count) VALUES (-1);
INSERT INTO ec.leads (extra) VALUES ('[]');
INSERT INTO ec.leads (provider_payloads) VALUES ('"x"');
INSERT INTO ec.pipeline_events (event_type, duration_ms) VALUES ('x', -0.001);
\set VERBOSITY default

-- leads_values_check passes the whole row to ec.leads_row_ok (the checks of
-- ec.leads_values_ok over the row's columns): one expression to read per
-- statement instead of 23 column references
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'leads_values_check' AND conrelid = 'ec.leads'::regclass;
-- a copy of ec.leads: LIKE cannot copy a whole-row reference, so the copy adds the CHECK with its own row
\set VERBOSITY terse
CREATE TABLE lead_copy (LIKE ec.leads INCLUDING ALL);
CREATE TABLE lead_copy (LIKE ec.leads INCLUDING ALL EXCLUDING CONSTRAINTS);
ALTER TABLE lead_copy ADD CONSTRAINT leads_values_check CHECK (ec.leads_row_ok(lead_copy.*));
INSERT INTO lead_copy (owner_age) VALUES (7);
INSERT INTO lead_copy (email) VALUES ('no at sign');
INSERT INTO lead_copy (apn_key) VALUES ('TX:48453:1');
INSERT INTO lead_copy (campaign_status) VALUES ('active');
INSERT INTO lead_copy (id, owner_age, email, campaign_status, added_to_campaign_at)
	VALUES (1, 70, 'ok@example.com', 'active', now()) RETURNING id, owner_age;
-- its layout changes: the check follows the columns by name
ALTER TABLE lead_copy DROP COLUMN first_name;
ALTER TABLE lead_copy ADD COLUMN note text;
INSERT INTO lead_copy (id, owner_age, note) VALUES (2, 121, 'x');
INSERT INTO lead_copy (id, owner_age, note) VALUES (2, 62, 'x') RETURNING id, owner_age, note;
-- another table whose columns sit elsewhere, checked in turn with the first
CREATE TABLE lead_copy2 (note text, LIKE ec.leads INCLUDING DEFAULTS);
ALTER TABLE lead_copy2 ADD CONSTRAINT leads_values_check CHECK (ec.leads_row_ok(lead_copy2.*));
INSERT INTO lead_copy2 (id, owner_age, years_owned) VALUES (1, 62, 151);
INSERT INTO lead_copy (id, owner_age, years_owned) VALUES (3, 62, 151);
INSERT INTO lead_copy2 (id, note, owner_age, years_owned) VALUES (1, 'y', 62, 10) RETURNING id, note, owner_age, years_owned;
-- a row without the columns, or with another type for one of them
SELECT ec.leads_row_ok(ROW(1, 'x'));
CREATE TABLE not_a_lead (email integer);
INSERT INTO not_a_lead VALUES (1);
SELECT ec.leads_row_ok(n) FROM not_a_lead n;
SELECT ec.leads_row_ok(NULL::ec.leads) IS NULL AS null_passes;
DROP TABLE lead_copy, lead_copy2, not_a_lead;
\set VERBOSITY default
