-- ec.instantly_lead (C) shapes leads exactly as its first, PL/pgSQL version
-- did (kept here as the reference): own fields on top when not null, the
-- lead's custom_variables (nulls kept) then every other non-null member in
-- custom_variables (the member wins over a custom variable of its name),
-- objects and arrays as their JSON text; the same refusals.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.instantly_lead_reference(lead jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	own CONSTANT text[] := ARRAY['email', 'first_name', 'last_name', 'company_name', 'phone', 'website',
		'personalization'];
	top jsonb;
	vars jsonb;
BEGIN
	IF jsonb_typeof(lead) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'an Instantly lead must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(lead -> 'email') IS DISTINCT FROM 'string' OR (lead ->> 'email') !~ '^[^@\s]+@[^@\s]+$' THEN
		RAISE EXCEPTION 'an Instantly lead needs an email address'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Instantly identifies a lead by its email.';
	END IF;
	SELECT COALESCE(jsonb_object_agg(k, v), '{}') INTO top
		FROM jsonb_each(lead) AS e(k, v) WHERE k = ANY (own) AND jsonb_typeof(v) <> 'null';
	SELECT COALESCE(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) IN ('object', 'array') THEN to_jsonb(v::text) ELSE v END), '{}')
		INTO vars
		FROM (SELECT k, v FROM jsonb_each(CASE WHEN jsonb_typeof(lead -> 'custom_variables') = 'object'
											  THEN lead -> 'custom_variables' ELSE '{}' END) AS c(k, v)
			  UNION ALL
			  SELECT k, v FROM jsonb_each(lead) AS e(k, v)
			   WHERE NOT (k = ANY (own)) AND k <> 'custom_variables' AND jsonb_typeof(v) <> 'null') AS x;
	IF vars <> '{}' THEN
		top := top || jsonb_build_object('custom_variables', vars);
	END IF;
	RETURN top;
END
$$;

-- both on the same inputs: the C output, and whether it equals the reference
-- (an error counts as its message)
CREATE FUNCTION pg_temp.shaped(f text, lead jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	EXECUTE format('SELECT %s($1)', f) INTO r USING lead;
	RETURN r::text;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN 'ERROR: ' || SQLERRM;
END $$;

CREATE TEMP TABLE cases (n serial, lead jsonb);
INSERT INTO cases (lead) VALUES
	('{"email": "a@b.co"}'),
	('{"email": "a@b.co", "first_name": "Ann", "last_name": null, "website": "https://x.example", "company_name": "Co"}'),
	('{"email": "a@b.co", "lead_id": 7, "owner_age": 71.5, "free": true, "none": null}'),
	('{"email": "a@b.co", "tags": ["x", {"y": 1}], "address": {"city": "Tampa", "zip": "33606"}}'),
	('{"email": "a@b.co", "custom_variables": {"city": "Tampa", "n": null, "o": {"k": [1, 2]}, "lead_id": 1}, "lead_id": 2}'),
	('{"email": "a@b.co", "custom_variables": "not an object", "x": 1}'),
	('{"email": "a@b.co", "custom_variables": [1, 2]}'),
	('{"email": "a@b.co", "custom_variables": {}}'),
	('{"email": "a@b.co", "custom_variables": null, "personalization": "Hi \"there\"\n"}'),
	('{"email": "a@b.co", "custom_variables": {"email": "other@x.y", "phone": "+1"}}'),
	('{"email": "a@b.co", "phone": {"nested": true}, "first_name": 12}'),
	('{"email": "ünïcødé@exämple.com", "city": "São Paulo", "emoji": "😀"}'),
	('{"email": "a@b.co", "": "empty key", "e\"q": "quote"}'),
	('{}'),
	('{"first_name": "NoEmail"}'),
	('{"email": null}'),
	('{"email": 42}'),
	('{"email": ["a@b.co"]}'),
	('{"email": "no-at-sign"}'),
	('{"email": "two@@b.co"}'),
	('{"email": "a b@c.d"}'),
	('{"email": "a@b.co\t"}'),
	('{"email": "@b.co"}'),
	('{"email": "a@"}'),
	('{"email": "@"}'),
	('{"email": "a@b@c.d"}'),
	('{"email": "x@y"}'),
	('{"email": "a\u0001@b.co"}'),
	('{"email": "a@b.co\u00a0"}'),
	('{"email": "a@b.co\u2003"}'),
	('{"email": "a\u007f@b.co"}'),
	('[1]'),
	('"a@b.co"'),
	('null'),
	(NULL);
SELECT n, pg_temp.shaped('ec.instantly_lead', lead) AS shaped,
	   pg_temp.shaped('ec.instantly_lead', lead) IS NOT DISTINCT FROM pg_temp.shaped('pg_temp.instantly_lead_reference', lead)
		 AS same_as_reference
FROM cases ORDER BY n;
-- and on a few thousand generated leads like the feeder's
SELECT count(*) AS leads,
	   count(*) FILTER (WHERE ec.instantly_lead(l) IS NOT DISTINCT FROM pg_temp.instantly_lead_reference(l)) AS same
FROM (SELECT jsonb_strip_nulls(jsonb_build_object(
		'email', 'lead' || g || '@example.com', 'first_name', CASE WHEN g % 3 > 0 THEN 'F' || g END,
		'last_name', 'L' || g, 'phone', CASE WHEN g % 2 = 0 THEN '+1941555' || lpad(g::text, 4, '0') END,
		'lead_id', g, 'persona', 'P' || g % 45, 'consent_link', 'https://c.example/' || md5(g::text),
		'consent_token', CASE WHEN g % 5 = 0 THEN md5(g::text) END, 'property_city', 'Tampa',
		'est_equity_usd', g * 1000.5, 'owner_age', 62 + g % 30, 'lead_score', (g % 100)::numeric / 3,
		'custom_variables', CASE WHEN g % 7 = 0 THEN jsonb_build_object('lead_id', -g, 'k', g) END)) AS l
	  FROM generate_series(1, 3000) g) x;
