-- Baseline for ec.verify_consent_token: a JWT verify written the way pgjwt
-- (the SQL library users know) writes it: split with a regular expression,
-- base64url through translate() and decode(), HMAC with pgcrypto, the
-- signature compared with plain =, the validity window from nbf/exp when
-- present. Written here from that description, not copied; pgjwt itself is
-- not downloaded. @pgcrypto@ is replaced by the schema pgcrypto lives in.
CREATE SCHEMA bench_jwt;

CREATE FUNCTION bench_jwt.url_encode(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT translate(encode(data, 'base64'), E'+/=\n', '-_');
$$;

CREATE FUNCTION bench_jwt.url_decode(data text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	WITH t AS (SELECT translate(data, '-_', '+/') AS trans),
		 rem AS (SELECT length(t.trans) % 4 AS remainder FROM t)
	SELECT decode(t.trans || CASE WHEN rem.remainder > 0 THEN repeat('=', 4 - rem.remainder) ELSE '' END, 'base64')
	  FROM t, rem;
$$;

CREATE FUNCTION bench_jwt.algorithm_sign(signables text, secret text, algorithm text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	WITH alg AS (
		SELECT CASE WHEN algorithm = 'HS256' THEN 'sha256'
					WHEN algorithm = 'HS384' THEN 'sha384'
					WHEN algorithm = 'HS512' THEN 'sha512'
					ELSE '' END AS id)
	SELECT bench_jwt.url_encode(@pgcrypto@.hmac(signables, secret, alg.id)) FROM alg;
$$;

CREATE FUNCTION bench_jwt.try_cast_double(inp text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	BEGIN
		RETURN inp::double precision;
	EXCEPTION WHEN OTHERS THEN
		RETURN NULL;
	END;
END;
$$;

CREATE FUNCTION bench_jwt.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE (header json, payload json, valid boolean)
LANGUAGE sql IMMUTABLE AS $$
	SELECT jwt.header AS header, jwt.payload AS payload,
		   jwt.signature_ok AND tstzrange(
			   to_timestamp(bench_jwt.try_cast_double(jwt.payload ->> 'nbf')),
			   to_timestamp(bench_jwt.try_cast_double(jwt.payload ->> 'exp'))
		   ) @> CURRENT_TIMESTAMP AS valid
	  FROM (SELECT convert_from(bench_jwt.url_decode(r[1]), 'utf8')::json AS header,
				   convert_from(bench_jwt.url_decode(r[2]), 'utf8')::json AS payload,
				   r[3] = bench_jwt.algorithm_sign(r[1] || '.' || r[2], secret, algorithm) AS signature_ok
			  FROM regexp_split_to_array(token, '\.') r) jwt
$$;
