-- ec.mint_consent_tokens(lead_ids): a token per lead of an array, in order,
-- as ec.mint_consent_token would mint them one by one (same key, claims,
-- expiry; each verifies and is used once), with one insert.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.part(token text, n int) RETURNS jsonb LANGUAGE sql AS $$
	SELECT convert_from(decode(translate(t, '-_', '+/') || repeat('=', (4 - length(t) % 4) % 4), 'base64'), 'UTF8')::jsonb
	FROM (SELECT split_part(token, '.', n) AS t) x
$$;

BEGIN;
SELECT ec.add_key('consent', 'batch-old', decode(repeat('11', 32), 'hex'));
SELECT ec.add_key('consent', 'batch-new', decode(repeat('22', 32), 'hex'));
INSERT INTO ec.leads (id, email) SELECT 872000 + i, 'batch' || i || '@example.com' FROM generate_series(1, 5) i;
CREATE TEMP TABLE minted AS
SELECT t.n, t.token FROM unnest(ec.mint_consent_tokens(ARRAY[872003, 872001, 872005, 872001]::bigint[]))
	WITH ORDINALITY AS t(token, n);
SELECT ec.mint_consent_token(872002) AS single \gset
-- in the order given, the newest key, the same header and claims as a single token
SELECT n, pg_temp.part(token, 1) AS header, pg_temp.part(token, 2) ->> 'sub' AS sub,
	   (pg_temp.part(token, 2) ->> 'exp')::bigint - (pg_temp.part(token, 2) ->> 'iat')::bigint
		 = (pg_temp.part(:'single', 2) ->> 'exp')::bigint - (pg_temp.part(:'single', 2) ->> 'iat')::bigint AS same_ttl,
	   ARRAY(SELECT jsonb_object_keys(pg_temp.part(token, 2))) = ARRAY(SELECT jsonb_object_keys(pg_temp.part(:'single', 2)))
		 AS same_claims
FROM minted ORDER BY n;
-- each is its own token (a nonce each, a row each), and each verifies
SELECT count(DISTINCT token) AS distinct_tokens,
	   count(*) FILTER (WHERE ec.verify_consent_token(token) ->> 'reason' = 'ok') AS verified
FROM minted;
SELECT lead_id, count(*) AS tokens, min(key_id) AS key_id, bool_and(expires_at > issued_at) AS expire
FROM ec.consent_tokens WHERE lead_id BETWEEN 872001 AND 872005 GROUP BY lead_id ORDER BY lead_id;
-- used once, as any token
SELECT ec.submit_consent(token, '192.0.2.44', 'batch test') ->> 'reason' AS first_use FROM minted WHERE n = 2;
SELECT ec.submit_consent(token, '192.0.2.44', 'batch test') ->> 'reason' AS second_use FROM minted WHERE n = 2;
-- nothing asked, nothing minted
SELECT ec.mint_consent_tokens('{}') AS none;
SELECT ec.mint_consent_tokens(NULL) AS null_array;
-- a lead that does not exist fails the call (nothing is minted), named as one by one would
SAVEPOINT s;
SELECT ec.mint_consent_tokens(ARRAY[872001, -7, 872002, -8]::bigint[]);
ROLLBACK TO s;
SAVEPOINT s;
SELECT ec.mint_consent_tokens(ARRAY[872001, NULL]::bigint[]);
ROLLBACK TO s;
SAVEPOINT s;
SELECT ec.mint_consent_tokens(ARRAY[[872001], [872002]]::bigint[]);
ROLLBACK TO s;
SELECT count(*) AS tokens_after_failures FROM ec.consent_tokens WHERE lead_id BETWEEN 872001 AND 872005;
ROLLBACK;
