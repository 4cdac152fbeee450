-- ec.instantly_add_leads (C) queues exactly the requests its first, PL/pgSQL
-- version queued (kept here as the reference): the same bodies byte for
-- byte, URL, headers, purpose, idempotency keys, attempts, callback, and the
-- same refusals.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
\set VERBOSITY terse
SET ec.instantly_base_url = 'http://127.0.0.1:9/instantly/';

CREATE FUNCTION pg_temp.instantly_add_leads_reference(campaign_id text, leads jsonb, options jsonb DEFAULT '{}',
	callback regproc DEFAULT NULL)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
DECLARE
	batch_size CONSTANT integer := 1000;
	url text := rtrim(current_setting('ec.instantly_base_url'), '/') || '/api/v2/leads/add';
	flags jsonb;
	b record;
	ids bigint[] := '{}';
BEGIN
	IF campaign_id IS NULL OR campaign_id !~ '^[A-Za-z0-9-]{1,64}$' THEN
		RAISE EXCEPTION 'invalid Instantly campaign id "%"', campaign_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(leads) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'leads must be a JSON array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(options) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'options must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	flags := jsonb_build_object('skip_if_in_workspace', false, 'skip_if_in_campaign', true,
		'skip_if_in_list', false, 'verify_leads_on_import', false)
		|| (options - 'idempotency_key' - 'campaign_id' - 'list_id' - 'leads');

	FOR b IN
		SELECT (o - 1) / batch_size AS n, jsonb_agg(ec.instantly_lead(e) ORDER BY o) AS batch
		FROM jsonb_array_elements(leads) WITH ORDINALITY AS t(e, o)
		GROUP BY (o - 1) / batch_size ORDER BY 1
	LOOP
		ids := ids || ec.http_enqueue('POST', url,
			'{"Content-Type": "application/json", "Authorization": {"api_key": "instantly"}}',
			convert_to((flags || jsonb_build_object('campaign_id', campaign_id, 'leads', b.batch))::text, 'UTF8'),
			'instantly_add_leads',
			CASE WHEN options ? 'idempotency_key' THEN (options ->> 'idempotency_key') || '-' || b.n END,
			8, now(), callback);
	END LOOP;
	RETURN ids;
END
$$;

CREATE FUNCTION pg_temp.on_done(request_id bigint) RETURNS void LANGUAGE sql AS $$ SELECT $$;

-- what a call queued, as text (an error counts as its message)
CREATE FUNCTION pg_temp.queued(f text, campaign_id text, leads jsonb, options jsonb, callback regproc)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	r text;
BEGIN
	EXECUTE format('SELECT %s($1, $2, $3, $4)', f) INTO ids USING campaign_id, leads, options, callback;
	SELECT string_agg(concat_ws(' | ', q.method, q.url, q.headers::text, q.purpose,
							   CASE WHEN q.idempotency_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-' THEN '(generated)' ELSE q.idempotency_key END,
							   q.max_attempts, q.not_before = now(),
							   regexp_replace(q.callback, '^pg_temp_[0-9]+[.]', 'pg_temp.'), md5(q.body), length(q.body)),
					  E'\n' ORDER BY o)
	INTO r
	FROM unnest(ids) WITH ORDINALITY AS i(id, o) JOIN ec.http_requests q ON q.id = i.id;
	RETURN cardinality(ids) || E' request(s)\n' || COALESCE(r, '');
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN 'ERROR: ' || SQLERRM;
END $$;

CREATE TEMP TABLE calls (n serial, campaign_id text, leads jsonb, options jsonb, callback regproc);
INSERT INTO calls (campaign_id, leads, options, callback) VALUES
	('c1', '[]', '{}', NULL),
	('c1', '[{"email": "a@b.co", "lead_id": 1}]', '{}', NULL),
	('01964a2e-7b3c-7d41-a8f0-2c9e5d1b4a63',
	 (SELECT jsonb_agg(jsonb_build_object('email', 'lead' || g || '@example.com', 'lead_id', g, 'first_name', 'F' || g,
		'tags', jsonb_build_array(g, 'x'), 'custom_variables', jsonb_build_object('k', g)) ORDER BY g)
	  FROM generate_series(1, 2500) g),
	 '{"skip_if_in_workspace": true, "idempotency_key": "feed-2026-11-26", "list_id": "l", "leads": [1], "campaign_id": "x"}',
	 NULL),
	('c2', '[{"email": "a@b.co"}]', '{"idempotency_key": 42, "verify_leads_on_import": true, "extra": {"z": [1]}}',
	 'pg_temp.on_done'::regproc),
	('c3', '[{"email": "a@b.co"}]', '{"idempotency_key": null}', NULL),
	('c4', '[{"email": "a@b.co"}]', '{"idempotency_key": {"k": "v"}}', NULL),
	('c5', (SELECT jsonb_agg(jsonb_build_object('email', 'm' || g || '@example.com')) FROM generate_series(1, 1000) g),
	 '{"idempotency_key": "exact"}', NULL),
	('c6', '[{"email": "ünï@exämple.com", "city": "São Paulo"}]', '{"idempotency_key": "u"}', NULL),
	('bad campaign id', '[]', '{}', NULL),
	('', '[]', '{}', NULL),
	(repeat('a', 65), '[]', '{}', NULL),
	('é', '[]', '{}', NULL),
	(NULL, '[]', '{}', NULL),
	('c1', '{}', '{}', NULL),
	('c1', '"[]"', '{}', NULL),
	('c1', NULL, '{}', NULL),
	('c1', '[]', '[]', NULL),
	('c1', '[]', NULL, NULL),
	('c1', '[{"email": "a@b.co"}, {"first_name": "x"}]', '{}', NULL),
	('c1', '[{"email": "a@b.co"}, 7]', '{}', NULL),
	-- custom variables merged with the other members (which win), nulls, nesting,
	-- escapes, numbers and booleans; option keys on either side of "leads" and "campaign_id"
	('c7', $j$[{"email": "x@y.co", "custom_variables": {"zeta": 1, "lead_id": "cv", "n": null, "nested": {"a": [1, {"b": "c"}]},
				"arr": [1, 2]}, "lead_id": 5, "flag": true, "off": false, "q": "say \"hi\"\n\ttab\\", "score": 12.50,
				"obj": {"k": "v"}, "list": ["a", null], "phone": "+15551234567", "website": null, "first_name": "Zo\u00eb",
				"company_name": {"weird": [1]}, "personalization": "P", "last_name": "L", "website2": "w"},
			   {"email": "only@own.co", "first_name": "A"},
			   {"email": "e@cv.co", "custom_variables": {}},
			   {"email": "f@cv.co", "custom_variables": {"k": null}},
			   {"email": "s@cv.co", "custom_variables": "not an object", "x": 1},
			   {"email": "t@cv.co", "custom_variables": {"b": 2, "a": 1, "ab": 0}, "ab": 3, "b": 9, "c": -0.5e3},
			   {"email": "u@cv.co", "custom_variables": null, "empty": "", "big": 1e40},
			   {"email": "\u00e9@x.co", "z": "\u0001ctrl \u001f \u007f"}]$j$,
	 '{"a": 1, "aaaaa": [true], "zzzzz": {"k": null}, "idempotency_key": "t7", "lea": 0, "leads2": "x",
	   "campaign_ic": 1, "campaign_idx": 2, "skip_if_in_list": {"x": "y"}}', NULL),
	('c8', '[{"email": "a@b.co", "custom_variables": {"k": [1, [2, {}]], "l": {}, "s\"\\": "q\\\""}, "e\b\f\r": "\b\f\r\"\\/"}]',
	 '{"skip_if_in_campaign": false}', NULL);
-- each call twice, rolled back in between: C, then the reference
CREATE TEMP TABLE outcomes (n int, c text, reference text);
DO $$
DECLARE
	k record;
	c text;
	r text;
BEGIN
	FOR k IN SELECT * FROM calls ORDER BY n LOOP
		BEGIN
			c := pg_temp.queued('ec.instantly_add_leads', k.campaign_id, k.leads, k.options, k.callback);
			RAISE EXCEPTION 'undo';
		EXCEPTION WHEN raise_exception THEN NULL;
		END;
		BEGIN
			r := pg_temp.queued('pg_temp.instantly_add_leads_reference', k.campaign_id, k.leads, k.options, k.callback);
			RAISE EXCEPTION 'undo';
		EXCEPTION WHEN raise_exception THEN NULL;
		END;
		INSERT INTO outcomes VALUES (k.n, c, r);
	END LOOP;
END $$;
SELECT n, c AS queued, c IS NOT DISTINCT FROM reference AS same_as_reference FROM outcomes ORDER BY n;

-- ec.instantly_add_lead_array (the feeder's): the same requests from the
-- same leads given as an array of jsonb
CREATE FUNCTION pg_temp.add_as_array(campaign_id text, leads jsonb, options jsonb, callback regproc)
RETURNS bigint[] LANGUAGE sql AS $$
	SELECT ec.instantly_add_lead_array(campaign_id,
		ARRAY(SELECT e FROM jsonb_array_elements(leads) WITH ORDINALITY AS t(e, o) ORDER BY o), options, callback)
$$;
CREATE TEMP TABLE outcomes_array (n int, a text);
DO $$
DECLARE
	k record;
	a text;
BEGIN
	FOR k IN SELECT * FROM calls WHERE jsonb_typeof(leads) = 'array' ORDER BY n LOOP
		BEGIN
			a := pg_temp.queued('pg_temp.add_as_array', k.campaign_id, k.leads, k.options, k.callback);
			RAISE EXCEPTION 'undo';
		EXCEPTION WHEN raise_exception THEN NULL;
		END;
		INSERT INTO outcomes_array VALUES (k.n, a);
	END LOOP;
END $$;
SELECT n, a IS NOT DISTINCT FROM reference AS same_as_reference FROM outcomes_array JOIN outcomes USING (n) ORDER BY n;
SELECT ec.instantly_add_lead_array('c1', ARRAY['{"email": "a@b.co"}', NULL]::jsonb[]);
SELECT ec.instantly_add_lead_array('c1', ARRAY['{"email": "a@b.co"}', '[1]']::jsonb[]);
SELECT ec.instantly_add_lead_array('c1', ARRAY[['{"email": "a@b.co"}']]::jsonb[]);
SELECT ec.instantly_add_lead_array('c1', NULL);
SELECT ec.instantly_add_lead_array('c1', '{}');
RESET ec.instantly_base_url;
