-- Baseline for ec.verify_request's checks: the same checks written in
-- PL/pgSQL over pgcrypto, as a project without a C extension would write
-- them (keys read from a table on every call, hex strings compared with =).
-- @pgcrypto@ is replaced by the schema pgcrypto lives in.
CREATE SCHEMA bench_sql;
CREATE TABLE bench_sql.keys (
	purpose text NOT NULL,
	key_id text NOT NULL,
	secret bytea NOT NULL,
	not_after timestamptz,
	retired_at timestamptz,
	PRIMARY KEY (purpose, key_id)
);

CREATE FUNCTION bench_sql.verify_request(body bytea, headers jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	k text;
	v text;
	ts text;
	sha text;
	sig text;
	elem text;
	sigs text[] := '{}';
	n int := 0;
	kr record;
	matched text;
BEGIN
	IF jsonb_typeof(headers) IS DISTINCT FROM 'object' THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'malformed_headers');
	END IF;
	FOR k, v IN SELECT key, value FROM jsonb_each_text(headers) LOOP
		CASE lower(btrim(k, E' \t'))
			WHEN 'x-timestamp' THEN ts := btrim(v, E' \t');
			WHEN 'x-content-sha256' THEN sha := btrim(v, E' \t');
			WHEN 'x-signature' THEN sig := btrim(v, E' \t');
			ELSE NULL;
		END CASE;
	END LOOP;
	IF coalesce(ts, '') = '' THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'missing_timestamp');
	ELSIF ts !~ '^(0|[1-9][0-9]{0,17})$' THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'malformed_timestamp');
	ELSIF coalesce(sha, '') = '' THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'missing_content_sha256');
	ELSIF sha !~ '^[0-9a-f]{64}$' THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'malformed_content_sha256');
	ELSIF coalesce(sig, '') = '' THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'missing_signature');
	END IF;
	FOREACH elem IN ARRAY regexp_split_to_array(sig, '[ \t]*,[ \t]*') LOOP
		n := n + 1;
		IF elem ~ '^v1[ \t]*=[ \t]*[0-9a-fA-F]{64}$' THEN
			sigs := sigs || lower(regexp_replace(elem, '^v1[ \t]*=[ \t]*', ''));
		ELSIF elem !~ '^[a-z][a-z0-9]*[ \t]*=[ \t]*[^, \t]+$' THEN
			RETURN jsonb_build_object('status', 400, 'reason', 'malformed_signature');
		END IF;
	END LOOP;
	IF n > 8 OR cardinality(sigs) = 0 THEN
		RETURN jsonb_build_object('status', 400, 'reason', 'malformed_signature');
	END IF;
	IF abs(extract(epoch FROM clock_timestamp())::bigint - ts::bigint) > 300 THEN
		RETURN jsonb_build_object('status', 401, 'reason', 'timestamp_outside_window');
	END IF;
	FOR kr IN SELECT key_id, secret FROM bench_sql.keys
			   WHERE purpose = 'request' AND retired_at IS NULL AND (not_after IS NULL OR not_after > now()) LOOP
		IF encode(@pgcrypto@.hmac(convert_to('v1:' || ts || ':' || sha, 'UTF8'), kr.secret, 'sha256'), 'hex') = ANY (sigs) THEN
			matched := kr.key_id;
		END IF;
	END LOOP;
	IF matched IS NULL THEN
		RETURN jsonb_build_object('status', 401, 'reason', 'signature_mismatch');
	END IF;
	IF encode(@pgcrypto@.digest(body, 'sha256'), 'hex') <> sha THEN
		RETURN jsonb_build_object('status', 401, 'reason', 'content_sha256_mismatch');
	END IF;
	RETURN jsonb_build_object('status', 200, 'reason', 'ok', 'key_id', matched, 'content_sha256', sha);
END
$$;
