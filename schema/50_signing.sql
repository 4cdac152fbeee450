-- Signed requests and consent tokens (src/signing/, issue #5): key store
-- functions, the request rate limit and failure counts, consent capture.
-- Tables shared with other concerns (ec.keys, ec.ingest_replay_guard,
-- ec.consent_tokens, ec.lead_consent_audit) are in 20_ingest.sql and
-- 22_keys_consent.sql.  Every C function here runs its own statements as the
-- extension owner, schema-qualified, so it needs no SECURITY DEFINER and does
-- not depend on the caller's search_path.

-- Requests per client and minute (ec.request_rate_limit). Unlogged: a crash
-- forgets at most a minute of counts. One row per client, updated in place.
CREATE UNLOGGED TABLE ec.request_rate (
	client_net cidr PRIMARY KEY,
	window_start timestamptz NOT NULL,
	hits integer NOT NULL CHECK (hits >= 0),
	prev_hits integer NOT NULL DEFAULT 0 CHECK (prev_hits >= 0)
) WITH (fillfactor = 50);
COMMENT ON TABLE ec.request_rate IS
	'Signed requests per client (IPv4 address, IPv6 /64, 0.0.0.0/0 when unknown) in this and the previous minute';

CREATE TABLE ec.request_auth_failures (
	client_net cidr PRIMARY KEY,
	failures bigint NOT NULL CHECK (failures > 0),
	first_failed_at timestamptz NOT NULL,
	last_failed_at timestamptz NOT NULL,
	last_reason text NOT NULL
);
COMMENT ON TABLE ec.request_auth_failures IS
	'Signed requests refused as malformed (400) or unauthenticated (401), counted per client';

-- Keys. The secret is never an argument of a logged statement if you pass it
-- as README.md shows (a file, COPY, or ec.generate_key).
CREATE FUNCTION ec.add_key(purpose text, key_id text, secret bytea, not_after timestamptz DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'ec_add_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.add_key(text, text, bytea, timestamptz) IS
	'Stores a secret (16 to 4096 bytes) under purpose request, consent, webhook_out or api; several may be active';

CREATE FUNCTION ec.generate_key(purpose text, key_id text, not_after timestamptz DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ec_generate_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.generate_key(text, text, timestamptz) IS
	'Stores a new random 32-byte secret and returns it (the only time it is shown)';

CREATE FUNCTION ec.retire_key(purpose text, key_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'ec_retire_key'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.retire_key(text, text) IS
	'Stops accepting and using a key (requests it signed are refused, tokens it signed answer key_retired)';

CREATE FUNCTION ec.keys_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'ec_keys_changed'
LANGUAGE C;
COMMENT ON FUNCTION ec.keys_changed() IS 'Trigger: every backend reloads its cache of ec.keys';
CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ec.keys
	FOR EACH STATEMENT EXECUTE FUNCTION ec.keys_changed();

-- What an operator may see of the keys: everything but the secret.
CREATE VIEW ec.key_status AS
	SELECT k.purpose, k.key_id, k.created_at, k.not_after, k.retired_at,
		   (k.retired_at IS NULL AND (k.not_after IS NULL OR k.not_after OPERATOR(pg_catalog.>) pg_catalog.now())) AS active
	FROM ec.keys k;
COMMENT ON VIEW ec.key_status IS 'The keys without their secrets: which are active, which retired';

-- Signed requests.
CREATE FUNCTION ec.verify_request(body bytea, headers jsonb, client_ip inet)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ec_verify_request'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.verify_request(bytea, jsonb, inet) IS
	'Checks a signed upload (hash, window, signature), its rate and replay; answers {status, reason, upload_id, ...} and records refusals';

CREATE FUNCTION ec.check_request_signature(body bytea, headers jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ec_check_request_signature'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ec.check_request_signature(bytea, jsonb) IS
	'The checks of ec.verify_request without rate limit, replay guard or record (for senders testing their code)';

CREATE FUNCTION ec.purge_replay_guard() RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH rate AS (
		DELETE FROM ec.request_rate WHERE window_start < now() - interval '2 minutes'
	), guard AS (
		DELETE FROM ec.ingest_replay_guard WHERE expires_at <= now() RETURNING 1
	)
	SELECT count(*) FROM guard
$$;
COMMENT ON FUNCTION ec.purge_replay_guard() IS
	'Deletes expired replay-guard rows (and idle rate counters); returns how many guard rows went. Run it daily';

-- Consent.
CREATE FUNCTION ec.mint_consent_token(lead_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'ec_mint_consent_token'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.mint_consent_token(bigint) IS
	'A single-use consent token (JWS compact, HS256, kid, exp after ec.consent_token_ttl) for a lead';

-- The same for many leads at once (the campaign feeder): one insert of every nonce hash.
CREATE FUNCTION ec.mint_consent_tokens(lead_ids bigint[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'ec_mint_consent_tokens'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.mint_consent_tokens(bigint[]) IS
	'ec.mint_consent_token for each lead of an array, in order (same key, claims and expiry), with one insert';

CREATE FUNCTION ec.verify_consent_token(token text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ec_verify_consent_token'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ec.verify_consent_token(text) IS
	'Every check of a consent token (form, alg, key, signature, exp, single use); uses nothing';

CREATE FUNCTION ec.submit_consent(token text, client_ip inet, user_agent text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ec_submit_consent'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.submit_consent(text, inet, text) IS
	'Uses a consent token: sets the lead''s consent (method form) and appends to lead_consent_audit; refusals are audited too';

CREATE FUNCTION ec.withdraw_consent(lead_id bigint, method text, detail text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ec_withdraw_consent'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ec.withdraw_consent(bigint, text, text) IS
	'Withdraws a lead''s consent (method such as stop_reply, unsubscribe, broker), revokes its unused tokens, audits it';
