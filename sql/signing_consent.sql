-- Consent tokens (JWS compact, HS256) and consent capture: mint, verify,
-- submit, withdraw; a vector for every refusal; the append-only audit.
SET client_min_messages = warning;
\set VERBOSITY terse

-- Keys by COPY, so the secrets never appear in a statement.
CREATE TEMP TABLE secret_in (key_id text, secret text);
COPY secret_in FROM stdin;
sig-con-0	consent-secret-0-0123456789abcdef
sig-con-1	consent-secret-1-0123456789abcdef
\.
SELECT ec.add_key('consent', key_id, convert_to(secret, 'UTF8')) FROM secret_in WHERE key_id = 'sig-con-0';

-- Tokens crafted independently (pgcrypto, translate) to reach every check.
CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql AS $$
	SELECT translate(encode(b, 'base64'), E'+/=\n', '-_')
$$;
CREATE FUNCTION pg_temp.unb64url(t text) RETURNS bytea LANGUAGE sql AS $$
	SELECT decode(translate(t, '-_', '+/') || repeat('=', (4 - length(t) % 4) % 4), 'base64')
$$;
CREATE FUNCTION pg_temp.jws(header text, payload text, secret text DEFAULT 'consent-secret-1-0123456789abcdef')
RETURNS text LANGUAGE sql AS $$
	SELECT s || '.' || pg_temp.b64url(hmac(convert_to(s, 'UTF8'), convert_to(secret, 'UTF8'), 'sha256'))
	  FROM (SELECT pg_temp.b64url(convert_to(header, 'UTF8')) || '.' || pg_temp.b64url(convert_to(payload, 'UTF8')) AS s) x
$$;
CREATE FUNCTION pg_temp.part(token text, n int) RETURNS jsonb LANGUAGE sql AS $$
	SELECT convert_from(pg_temp.unb64url(split_part(token, '.', n)), 'UTF8')::jsonb
$$;
CREATE FUNCTION pg_temp.exp(shift int) RETURNS bigint LANGUAGE sql AS $$
	SELECT floor(extract(epoch FROM now()))::bigint + shift
$$;
CREATE FUNCTION pg_temp.t(token text) RETURNS text LANGUAGE sql AS $$
	SELECT (r ->> 'status') || ' ' || (r ->> 'reason') FROM ec.verify_consent_token(token) r
$$;

INSERT INTO ec.leads (first_name, last_name) VALUES ('Ada', 'Consent'), ('Bob', 'Consent'), ('Cy', 'Consent');
SELECT min(id) AS ada, min(id) + 1 AS bob, min(id) + 2 AS cy FROM ec.leads WHERE last_name = 'Consent' \gset

-- Minting: the newest active consent key signs; standard claims any JWT library reads.
SELECT ec.mint_consent_token(:ada) AS tok_old \gset
SELECT ec.add_key('consent', key_id, convert_to(secret, 'UTF8')) FROM secret_in WHERE key_id = 'sig-con-1';
SELECT ec.mint_consent_token(:ada) AS tok \gset
SELECT pg_temp.part(:'tok', 1) AS header;
SELECT pg_temp.part(:'tok', 2) ->> 'sub' = :'ada' AS sub_is_lead,
	   length(pg_temp.part(:'tok', 2) ->> 'jti') AS jti_length,
	   (pg_temp.part(:'tok', 2) ->> 'exp')::bigint - (pg_temp.part(:'tok', 2) ->> 'iat')::bigint AS lifetime,
	   pg_temp.part(:'tok', 1) ->> 'kid' AS kid, pg_temp.part(:'tok_old', 1) ->> 'kid' AS old_kid;
-- the signature is HMAC-SHA256 over header.payload: pgcrypto agrees
SELECT split_part(:'tok', '.', 3) = pg_temp.b64url(hmac(convert_to(split_part(:'tok', '.', 1) || '.' || split_part(:'tok', '.', 2), 'UTF8'),
	'consent-secret-1-0123456789abcdef', 'sha256')) AS pgcrypto_agrees;
-- each token has its own nonce, stored hashed
SELECT count(*) AS tokens, count(DISTINCT nonce_hash) AS nonces, bool_and(used_at IS NULL) AS unused
  FROM ec.consent_tokens WHERE lead_id = :ada;
SELECT ec.mint_consent_token(-1);

-- Verifying checks, uses nothing: twice the same answer.
SELECT r - 'expires_at' - 'token_id' - 'lead_id' AS answer, (r ->> 'lead_id')::bigint = :ada AS lead,
	   (r ->> 'expires_at')::timestamptz > now() + interval '6 days' AS expires_in_7_days
  FROM ec.verify_consent_token(:'tok') r;
SELECT pg_temp.t(:'tok') AS first, pg_temp.t(:'tok') AS again;

-- Refusals, each with its own reason.
-- 400 malformed: truncated tokens, too long, NULL
SELECT pg_temp.t(split_part(:'tok', '.', 1)) AS header_only,
	   pg_temp.t(split_part(:'tok', '.', 1) || '.' || split_part(:'tok', '.', 2)) AS no_signature_part,
	   pg_temp.t('.' || split_part(:'tok', '.', 2) || '.' || split_part(:'tok', '.', 3)) AS empty_header,
	   pg_temp.t(:'tok' || '.x.y') AS five_parts,
	   pg_temp.t(repeat('a', 4097)) AS too_long,
	   pg_temp.t('') AS empty,
	   pg_temp.t(NULL) AS null;
-- 400 invalid_base64: padding, the standard alphabet, whitespace, other bytes, a bad length
SELECT pg_temp.t(replace(:'tok', '.', '=.')) AS padded,
	   pg_temp.t(translate(:'tok', '-_', '+/') || '+/') AS std_alphabet,
	   pg_temp.t(' ' || :'tok') AS leading_space,
	   pg_temp.t(:'tok' || E'\n') AS trailing_newline,
	   pg_temp.t(overlay(:'tok' placing 'é' from 5 for 1)) AS non_ascii,
	   pg_temp.t(left(:'tok', length(:'tok') - 42)) AS cut_in_signature;
-- a signature cut at a base64 boundary decodes but does not match
SELECT pg_temp.t(left(:'tok', length(:'tok') - 3)) AS cut_signature;
-- 400 malformed_header: not JSON, not an object, a member twice (parser differential), crit
SELECT pg_temp.t(pg_temp.b64url('not json') || '.' || split_part(:'tok', '.', 2) || '.' || split_part(:'tok', '.', 3)) AS not_json,
	   pg_temp.t(pg_temp.jws('["HS256"]', '{}')) AS array_header,
	   pg_temp.t(pg_temp.jws('{"alg":"none","alg":"HS256","kid":"sig-con-1"}', '{}')) AS alg_twice,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1","crit":["exp"]}', '{}')) AS crit,
	   pg_temp.t(pg_temp.b64url('\xc328'::bytea) || '.e30.' || split_part(:'tok', '.', 3)) AS not_utf8,
	   pg_temp.t(pg_temp.jws(repeat('[', 40) || repeat(']', 40), '{}')) AS deep;
-- 401 alg_not_allowed: none (unsigned), other algorithms, case, missing, not a string
SELECT pg_temp.t(pg_temp.b64url('{"alg":"none","typ":"JWT"}') || '.' || split_part(:'tok', '.', 2) || '.') AS alg_none,
	   pg_temp.t(pg_temp.jws('{"alg":"HS512","kid":"sig-con-1"}', '{}')) AS hs512,
	   pg_temp.t(pg_temp.jws('{"alg":"RS256","kid":"sig-con-1"}', '{}')) AS rs256,
	   pg_temp.t(pg_temp.jws('{"alg":"hs256","kid":"sig-con-1"}', '{}')) AS lower_case,
	   pg_temp.t(pg_temp.jws('{"kid":"sig-con-1"}', '{}')) AS no_alg,
	   pg_temp.t(pg_temp.jws('{"alg":["HS256"],"kid":"sig-con-1"}', '{}')) AS alg_array;
-- 401 unknown_key, bad_signature
SELECT pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-9"}', '{}')) AS unknown_kid,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256"}', '{}')) AS no_kid,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', pg_temp.part(:'tok', 2)::text, 'not-the-secret-0123456789')) AS other_secret,
	   pg_temp.t(split_part(:'tok', '.', 1) || '.' || pg_temp.b64url(convert_to(jsonb_set(pg_temp.part(:'tok', 2), '{sub}', to_jsonb(:'bob'::text))::text, 'UTF8'))
				 || '.' || split_part(:'tok', '.', 3)) AS payload_changed;
-- 401 key_retired: a token signed with a key rotated out (valid signature)
SELECT pg_temp.t(:'tok_old') AS before_retire;
SELECT ec.retire_key('consent', 'sig-con-0');
SELECT pg_temp.t(:'tok_old') AS after_retire, pg_temp.t(:'tok') AS current_key;
-- 400 malformed_payload, missing_exp: a token must expire
SELECT pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":"%s","jti":"x"}', :ada))) AS no_exp,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":"%s","jti":"x","exp":null}', :ada))) AS null_exp,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":"%s","jti":"x","exp":"%s"}', :ada, pg_temp.exp(60)))) AS string_exp,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":%s,"jti":"x","exp":%s}', :ada, pg_temp.exp(60)))) AS numeric_sub,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":"%s","exp":%s}', :ada, pg_temp.exp(60)))) AS no_jti,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', 'not json')) AS not_json;
-- 410 expired: one second past exp; a second before it the token passes this check
SELECT pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":"%s","jti":"x","exp":%s}', :ada, pg_temp.exp(-1)))) AS one_second_past,
	   pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', format('{"sub":"%s","jti":"x","exp":%s}', :ada, pg_temp.exp(60)))) AS not_expired_but_unknown;
-- 401 unknown_token: a valid token for another lead, with a real nonce
SELECT pg_temp.t(pg_temp.jws('{"alg":"HS256","kid":"sig-con-1"}', jsonb_set(pg_temp.part(:'tok', 2), '{sub}', to_jsonb(:'bob'::text))::text)) AS other_lead;

-- Capture: a valid token sets consent and is audited; the second use is 409.
SELECT r ->> 'status' AS status, r ->> 'reason' AS reason, (r ->> 'consented_at') IS NOT NULL AS consented
  FROM ec.submit_consent(:'tok', '192.0.2.10', 'Mozilla/5.0 (consent form)') r;
SELECT consent, consented_at IS NOT NULL AS dated, consent_method FROM ec.leads WHERE id = :ada;
SELECT (ec.submit_consent(:'tok', '192.0.2.11', 'replayer')) ->> 'reason' AS again, pg_temp.t(:'tok') AS verify;
-- refused attempts are audited too (the lead only when the signature was valid)
SELECT (ec.submit_consent(pg_temp.b64url('{"alg":"none"}') || '.e30.', '192.0.2.12', 'forger')) ->> 'reason' AS forged;
SELECT (ec.submit_consent(:'tok_old', '192.0.2.13', NULL)) ->> 'reason' AS retired;
SELECT (ec.submit_consent(NULL, NULL, repeat('x', 600))) ->> 'reason' AS nothing;
SELECT lead_id = :ada AS lead, action, method, reason, token_id IS NOT NULL AS token, client_ip, user_agent
  FROM ec.lead_consent_audit WHERE lead_id = :ada OR (lead_id IS NULL AND client_ip << '192.0.2.0/24') ORDER BY id;
SELECT length(user_agent) AS user_agent_kept FROM ec.lead_consent_audit WHERE client_ip IS NULL AND reason = 'malformed_token' ORDER BY id DESC LIMIT 1;
SELECT event_type, lead_id = :ada AS lead FROM ec.pipeline_events WHERE event_type LIKE 'consent_%' AND lead_id = :ada ORDER BY id;

-- Withdrawal: consent off, unused tokens revoked (a later click cannot bring it back).
SELECT ec.mint_consent_token(:ada) AS tok2 \gset
SELECT r - 'lead_id' AS answer FROM ec.withdraw_consent(:ada, 'stop_reply', 'Replied STOP to campaign 7') r;
SELECT consent, consented_at, consent_method FROM ec.leads WHERE id = :ada;
SELECT pg_temp.t(:'tok2') AS revoked_token, (ec.submit_consent(:'tok2', '192.0.2.10', 'late click')) ->> 'reason' AS submit;
SELECT r - 'lead_id' AS answer FROM ec.withdraw_consent(:ada, 'unsubscribe', NULL) r;
SELECT r AS answer FROM ec.withdraw_consent(-5, 'broker', 'no such lead') r;
SELECT r - 'lead_id' AS answer FROM ec.withdraw_consent(:bob, 'Stop Reply', NULL) r;
SELECT r AS answer FROM ec.withdraw_consent(NULL, 'broker', NULL) r;
SELECT action, method, reason, detail ->> 'detail' AS detail, detail ->> 'revoked_tokens' AS revoked
  FROM ec.lead_consent_audit WHERE lead_id IN (:ada, :bob, -5) AND action <> 'granted' AND method <> 'form' ORDER BY id;
-- two answers in one row: each is the caller's, not freed SPI memory reused by the next call
SELECT (a ->> 'lead_id')::bigint = :bob AS first_is_bob, (b ->> 'lead_id')::bigint = :cy AS second_is_cy
  FROM (SELECT ec.withdraw_consent(:bob, 'broker', 'one') AS a, ec.withdraw_consent(:cy, 'broker', 'two') AS b OFFSET 0) x;
SELECT a ->> 'reason' AS first, b ->> 'reason' AS second
  FROM (SELECT ec.submit_consent('x', NULL, 'one') AS a,
			   ec.submit_consent(pg_temp.b64url('{"alg":"none"}') || '.e30.', NULL, 'two') AS b OFFSET 0) x;
-- a fresh token after withdrawal is a new, valid consent
SELECT (ec.submit_consent(ec.mint_consent_token(:ada), '192.0.2.10', 'second thoughts')) ->> 'reason' AS fresh;

-- The audit is append-only: no role but a superuser changes or removes it.
SET ROLE ec_service;
UPDATE ec.lead_consent_audit SET reason = 'ok' WHERE lead_id = :ada;
DELETE FROM ec.lead_consent_audit WHERE lead_id = :ada;
TRUNCATE ec.lead_consent_audit;
-- the service role uses the functions, never the secrets
SELECT (ec.verify_consent_token(ec.mint_consent_token(:cy))) ->> 'reason' AS service_role;
SELECT secret FROM ec.keys WHERE purpose = 'consent';
RESET ROLE;
SET ROLE ec_broker;
SELECT ec.submit_consent('x', NULL, NULL);
RESET ROLE;

-- No active consent key: minting is an operator error (the feeder reports it).
BEGIN;
SELECT ec.retire_key('consent', key_id) FROM ec.key_status WHERE purpose = 'consent' AND active;
SELECT ec.mint_consent_token(:cy);
ROLLBACK;
