/*-------------------------------------------------------------------------
 *
 * consent.c
 *		Consent tokens (JWS compact, HS256) and consent capture:
 *		ec.mint_consent_token, ec.verify_consent_token, ec.submit_consent,
 *		ec.withdraw_consent.
 *
 * A token is {"alg":"HS256","typ":"JWT","kid":<key id>} .
 * {"sub":"<lead id>","jti":<random nonce>,"iat":..,"exp":..}, signed with an
 * active key of purpose 'consent'; ec.consent_tokens keeps the SHA-256 of
 * each nonce, so a token is used once.  Verification, each failure with
 * its own reason:
 *   400 malformed_token    not header.payload.signature (or too long)
 *   400 invalid_base64     a segment is not strict base64url
 *   400 malformed_header   header not a JSON object (or "crit", or repeats)
 *   401 alg_not_allowed    "alg" is not exactly "HS256" (none, RS256, ...)
 *   401 unknown_key        no consent key has the "kid"
 *   401 bad_signature      the HMAC does not match (constant-time compare)
 *   401 key_retired        signed by a key retired or past not_after
 *   400 malformed_payload  payload not a JSON object, or sub/jti/exp of the wrong type
 *   400 missing_exp        no "exp" (a token must expire)
 *   410 expired            now >= exp
 *   401 unknown_token      the nonce was never minted here (for this lead)
 *   409 already_used       the token was used
 *   410 revoked            consent was withdrawn after the token was minted
 * The header and payload are read with PostgreSQL's own JSON parser.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "common/jsonapi.h"
#include "executor/tuptable.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/bulk_insert.h"
#include "common/pgcompat.h"
#include "common/subxact.h"
#include "core/jws.h"
#include "signing/signing.h"

#define EC_NONCE_BYTES		16
#define EC_JSON_MAX_DEPTH	16
#define EC_JTI_MAX			128
#define EC_USER_AGENT_MAX	512

/* One top-level member we look for in a JSON object. */
typedef struct EcClaim
{
	const char *name;
	int			count;			/* times the member appears */
	JsonTokenType type;			/* of a scalar value */
	char	   *value;			/* scalar value, de-escaped; NULL otherwise */
} EcClaim;

typedef struct EcClaimParse
{
	EcClaim    *claims;
	int			nclaims;
	int			depth;
	int			current;
	bool		object;			/* the top level is an object */
} EcClaimParse;

/* What checking a token found. */
typedef struct EcTokenCheck
{
	int			status;
	const char *reason;
	char		key_id[65];
	bool		have_lead;		/* lead_id is from a validly signed token */
	int64		lead_id;
	int64		token_id;
	double		exp;
	unsigned char nonce_hash[EC_SHA256_LEN];
} EcTokenCheck;

static SPIPlanPtr plan_mint = NULL;
static SPIPlanPtr plan_mint_many = NULL;
static SPIPlanPtr plan_mint_missing = NULL;
static SPIPlanPtr plan_claim = NULL;
static SPIPlanPtr plan_consent = NULL;
static SPIPlanPtr plan_audit = NULL;
static SPIPlanPtr plan_event = NULL;
static SPIPlanPtr plan_withdraw = NULL;
static SPIPlanPtr plan_revoke = NULL;

static EcJsonActionResult
ClaimObjectStart(void *state)
{
	EcClaimParse *p = state;

	if (p->depth++ == 0)
		p->object = true;
	return EC_JSON_ACTION_OK;
}

static EcJsonActionResult
ClaimNestEnd(void *state)
{
	((EcClaimParse *) state)->depth--;
	return EC_JSON_ACTION_OK;
}

static EcJsonActionResult
ClaimArrayStart(void *state)
{
	((EcClaimParse *) state)->depth++;
	return EC_JSON_ACTION_OK;
}

static EcJsonActionResult
ClaimFieldStart(void *state, char *fname, bool isnull)
{
	EcClaimParse *p = state;
	int			i;

	if (p->depth != 1)
		return EC_JSON_ACTION_OK;
	p->current = -1;
	for (i = 0; i < p->nclaims; i++)
	{
		if (strcmp(fname, p->claims[i].name) == 0)
		{
			p->current = i;
			p->claims[i].count++;
			p->claims[i].value = NULL;
			break;
		}
	}
	return EC_JSON_ACTION_OK;
}

static EcJsonActionResult
ClaimScalar(void *state, char *token, JsonTokenType tokentype)
{
	EcClaimParse *p = state;

	if (p->depth == 1 && p->current >= 0)
	{
		p->claims[p->current].type = tokentype;
		p->claims[p->current].value = token;
		p->current = -1;
	}
	return EC_JSON_ACTION_OK;
}

/* Deepest nesting of [ and { outside strings (bounds the parser's recursion). */
static int
JsonDepth(const char *s, int len)
{
	int			depth = 0;
	int			max = 0;
	bool		instr = false;
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (instr)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				instr = false;
		}
		else if (c == '"')
			instr = true;
		else if (c == '{' || c == '[')
			max = Max(max, ++depth);
		else if (c == '}' || c == ']')
			depth--;
	}
	return max;
}

/*
 * Decode a base64url segment and read the named members of the JSON object
 * in it.  False when it is not a UTF-8 JSON object, or a member repeats.
 */
static bool
EcReadClaims(const char *seg, size_t seglen, EcClaim *claims, int nclaims)
{
	char	   *json = palloc(ec_b64url_decoded_max(seglen) + 1);
	size_t		len = 0;
	JsonLexContext *lex;
	JsonSemAction sem;
	EcClaimParse p;
	int			i;

	if (ec_b64url_decode(seg, seglen, (unsigned char *) json, ec_b64url_decoded_max(seglen),
						 &len) != EC_JWS_OK)
		return false;
	json[len] = '\0';
	if (!pg_verify_mbstr(PG_UTF8, json, (int) len, true) ||
		JsonDepth(json, (int) len) > EC_JSON_MAX_DEPTH)
		return false;

	memset(&p, 0, sizeof(p));
	p.claims = claims;
	p.nclaims = nclaims;
	p.current = -1;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &p;
	sem.object_start = ClaimObjectStart;
	sem.object_end = ClaimNestEnd;
	sem.array_start = ClaimArrayStart;
	sem.array_end = ClaimNestEnd;
	sem.object_field_start = ClaimFieldStart;
	sem.scalar = ClaimScalar;

	lex = EcJsonLexContextCstringLen(json, (int) len, PG_UTF8, true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || !p.object)
		return false;
	for (i = 0; i < nclaims; i++)
	{
		if (claims[i].count > 1)
			return false;
	}
	return true;
}

static bool
ClaimIsString(const EcClaim *c)
{
	return c->count == 1 && c->value != NULL && c->type == JSON_TOKEN_STRING;
}

static void
Reject(EcTokenCheck *check, int status, const char *reason)
{
	check->status = status;
	check->reason = reason;
}

/*
 * The checks that need no table: form, algorithm, key, signature, claims,
 * expiry.  True when they all pass; check->nonce_hash is then set.
 */
static bool
EcCheckTokenForm(text *token, TimestampTz now, EcTokenCheck *check)
{
	EcJwsParts parts;
	EcJwsStatus st;
	EcClaim		hdr[3] = {{"alg"}, {"kid"}, {"crit"}};
	EcClaim		pl[3] = {{"sub"}, {"jti"}, {"exp"}};
	const EcKey *keys;
	const EcKey *key = NULL;
	int			nkeys;
	int			i;
	char	   *end;
	double		nowsec;

	if (token == NULL)
	{
		Reject(check, 400, "malformed_token");
		return false;
	}
	st = ec_jws_split(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), &parts);
	if (st == EC_JWS_BAD_BASE64)
	{
		Reject(check, 400, "invalid_base64");
		return false;
	}
	if (st != EC_JWS_OK)
	{
		Reject(check, 400, "malformed_token");
		return false;
	}

	if (!EcReadClaims(parts.header, parts.header_len, hdr, lengthof(hdr)) || hdr[2].count > 0)
	{
		Reject(check, 400, "malformed_header");
		return false;
	}
	/* the algorithm is pinned: never "none", never what the token asks for */
	if (!ClaimIsString(&hdr[0]) || strcmp(hdr[0].value, "HS256") != 0)
	{
		Reject(check, 401, "alg_not_allowed");
		return false;
	}
	keys = EcKeysOf("consent", &nkeys);
	if (ClaimIsString(&hdr[1]))
	{
		for (i = 0; i < nkeys && key == NULL; i++)
		{
			if (strcmp(keys[i].key_id, hdr[1].value) == 0)
				key = &keys[i];
		}
	}
	if (key == NULL)
	{
		Reject(check, 401, "unknown_key");
		return false;
	}
	strlcpy(check->key_id, key->key_id, sizeof(check->key_id));
	st = ec_jws_hs256_verify(key->secret, key->secret_len, &parts);
	if (st == EC_JWS_INTERNAL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC-SHA256")));
	if (st != EC_JWS_OK)
	{
		Reject(check, 401, "bad_signature");
		return false;
	}
	if (!EcKeyActive(key, now))
	{
		Reject(check, 401, "key_retired");
		return false;
	}

	if (!EcReadClaims(parts.payload, parts.payload_len, pl, lengthof(pl)))
	{
		Reject(check, 400, "malformed_payload");
		return false;
	}
	if (pl[2].count == 0 || (pl[2].value != NULL && pl[2].type == JSON_TOKEN_NULL))
	{
		Reject(check, 400, "missing_exp");
		return false;
	}
	if (pl[2].value == NULL || pl[2].type != JSON_TOKEN_NUMBER ||
		!ClaimIsString(&pl[0]) || !ClaimIsString(&pl[1]))
	{
		Reject(check, 400, "malformed_payload");
		return false;
	}
	check->exp = strtod(pl[2].value, NULL);
	errno = 0;
	check->lead_id = strtoi64(pl[0].value, &end, 10);
	if (isnan(check->exp) || errno != 0 || *end != '\0' || pl[0].value[0] < '0' ||
		pl[0].value[0] > '9' || check->lead_id <= 0 ||
		strlen(pl[1].value) < 1 || strlen(pl[1].value) > EC_JTI_MAX)
	{
		Reject(check, 400, "malformed_payload");
		return false;
	}
	check->have_lead = true;

	nowsec = (double) EcUnixSeconds(now) + (double) (now % USECS_PER_SEC) / USECS_PER_SEC;
	if (nowsec >= check->exp)
	{
		Reject(check, 410, "expired");
		return false;
	}
	if (ec_sha256(pl[1].value, strlen(pl[1].value), check->nonce_hash) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256")));
	return true;
}

static Datum
ShaDatum(const unsigned char *sha)
{
	bytea	   *b = palloc(VARHDRSZ + EC_SHA256_LEN);

	SET_VARSIZE(b, VARHDRSZ + EC_SHA256_LEN);
	memcpy(VARDATA(b), sha, EC_SHA256_LEN);
	return PointerGetDatum(b);
}

/*
 * Why the token's row does not allow its use: unknown, for another lead,
 * used, revoked, expired; or ok (200) when it does.  The row is read with
 * one probe of the unique index on nonce_hash, not through SPI: this is the
 * hot path of ec.verify_consent_token, and a planned query costs several
 * times the rest of the checks.  No permission check is skipped that
 * matters: these functions act as the extension owner anyway.
 */
typedef struct EcTokenTable
{
	Oid			relid;
	Oid			indexid;
	AttrNumber	id;
	AttrNumber	lead_id;
	AttrNumber	used_at;
	AttrNumber	revoked_at;
	AttrNumber	expires_at;
} EcTokenTable;

static EcTokenTable ec_tokens;
static bool ec_tokens_callback = false;

static void
EcTokenTableInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == ec_tokens.relid || relid == ec_tokens.indexid)
		ec_tokens.relid = InvalidOid;
}

/* Where ec.consent_tokens, its nonce index and its columns are (cached). */
static const EcTokenTable *
EcTokenTableInfo(void)
{
	Oid			nsp;

	if (OidIsValid(ec_tokens.relid))
		return &ec_tokens;
	if (!ec_tokens_callback)
	{
		CacheRegisterRelcacheCallback(EcTokenTableInvalidate, (Datum) 0);
		ec_tokens_callback = true;
	}
	nsp = get_namespace_oid("ec", false);
	ec_tokens.indexid = get_relname_relid("consent_tokens_nonce_hash_key", nsp);
	ec_tokens.id = get_attnum(get_relname_relid("consent_tokens", nsp), "id");
	ec_tokens.lead_id = get_attnum(get_relname_relid("consent_tokens", nsp), "lead_id");
	ec_tokens.used_at = get_attnum(get_relname_relid("consent_tokens", nsp), "used_at");
	ec_tokens.revoked_at = get_attnum(get_relname_relid("consent_tokens", nsp), "revoked_at");
	ec_tokens.expires_at = get_attnum(get_relname_relid("consent_tokens", nsp), "expires_at");
	if (!OidIsValid(ec_tokens.indexid) || ec_tokens.id == InvalidAttrNumber ||
		ec_tokens.lead_id == InvalidAttrNumber || ec_tokens.used_at == InvalidAttrNumber ||
		ec_tokens.revoked_at == InvalidAttrNumber || ec_tokens.expires_at == InvalidAttrNumber)
		elog(ERROR, "table ec.consent_tokens or its index consent_tokens_nonce_hash_key is not as expected");
	ec_tokens.relid = get_relname_relid("consent_tokens", nsp);
	return &ec_tokens;
}

static void
EcCheckTokenRow(EcTokenCheck *check, TimestampTz now)
{
	const EcTokenTable *t = EcTokenTableInfo();
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	Snapshot	snap;
	bool		found;

	rel = table_open(t->relid, AccessShareLock);
	idx = index_open(t->indexid, AccessShareLock);
	snap = RegisterSnapshot(GetTransactionSnapshot());
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_BYTEAEQ, ShaDatum(check->nonce_hash));
	scan = index_beginscan(rel, idx, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);

	if (!found)
		Reject(check, 401, "unknown_token");
	else
	{
		bool		isnull;
		int64		lead_id;

		lead_id = DatumGetInt64(slot_getattr(slot, t->lead_id, &isnull));
		if (lead_id != check->lead_id)
			Reject(check, 401, "unknown_token");
		else
		{
			check->token_id = DatumGetInt64(slot_getattr(slot, t->id, &isnull));
			(void) slot_getattr(slot, t->used_at, &isnull);
			if (!isnull)
				Reject(check, 409, "already_used");
			else
			{
				(void) slot_getattr(slot, t->revoked_at, &isnull);
				if (!isnull)
					Reject(check, 410, "revoked");
				else if (DatumGetTimestampTz(slot_getattr(slot, t->expires_at,
														  &isnull)) <= now)
					Reject(check, 410, "expired");
				else
					Reject(check, 200, "ok");
			}
		}
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
}

/* Append to the consent evidence (SPI connected). */
static void
EcAudit(int64 lead_id, const char *action, const char *method, const char *reason,
		int64 token_id, inet *client_ip, text *user_agent, Jsonb *detail, TimestampTz now)
{
	Oid			types[9] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INETOID, TEXTOID,
	JSONBOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(lead_id);
	nulls[0] = lead_id > 0 ? ' ' : 'n';
	values[1] = CStringGetTextDatum(action);
	values[2] = method ? CStringGetTextDatum(method) : (Datum) 0;
	nulls[2] = method ? ' ' : 'n';
	values[3] = CStringGetTextDatum(reason);
	values[4] = Int64GetDatum(token_id);
	nulls[4] = token_id > 0 ? ' ' : 'n';
	values[5] = PointerGetDatum(client_ip);
	nulls[5] = client_ip ? ' ' : 'n';
	values[6] = (Datum) 0;
	nulls[6] = 'n';
	if (user_agent != NULL)
	{
		/* a header the sender controls: kept, but bounded */
		const char *ua = VARDATA_ANY(user_agent);
		int			len = VARSIZE_ANY_EXHDR(user_agent);

		if (len > EC_USER_AGENT_MAX)
			len = pg_mbcliplen(ua, len, EC_USER_AGENT_MAX);
		values[6] = PointerGetDatum(cstring_to_text_with_len(ua, len));
		nulls[6] = ' ';
	}
	values[7] = JsonbPGetDatum(detail);
	values[8] = TimestampTzGetDatum(now);
	EcSpiRun(&plan_audit,
			 "INSERT INTO ec.lead_consent_audit"
			 " (lead_id, action, method, reason, token_id, client_ip, user_agent, detail, created_at)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			 9, types, values, nulls, SPI_OK_INSERT);
}

/* A funnel event for a lead (SPI connected). */
static void
EcConsentEvent(const char *event, int64 lead_id, Datum broker_id, bool broker_null)
{
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = CStringGetTextDatum(event);
	values[1] = Int64GetDatum(lead_id);
	values[2] = broker_id;
	nulls[2] = broker_null ? 'n' : ' ';
	EcSpiRun(&plan_event,
			 "INSERT INTO ec.pipeline_events (event_type, lead_id, broker_id) VALUES ($1, $2, $3)",
			 3, types, values, nulls, SPI_OK_INSERT);
}

static Jsonb *
EcTokenAnswer(const EcTokenCheck *check, TimestampTz consented_at)
{
	EcAnswer	a;

	EcAnswerBegin(&a, check->status, check->reason);
	if (check->have_lead)
		EcAnswerInt(&a, "lead_id", check->lead_id);
	if (check->token_id > 0)
		EcAnswerInt(&a, "token_id", check->token_id);
	if (check->key_id[0] != '\0')
		EcAnswerText(&a, "key_id", check->key_id);
	if (check->have_lead && isfinite(check->exp) && fabs(check->exp) < 1e13)
		EcAnswerTimestamp(&a, "expires_at", EcFromUnixSeconds((int64) floor(check->exp)));
	if (consented_at != 0)
		EcAnswerTimestamp(&a, "consented_at", consented_at);
	return EcAnswerEnd(&a);
}

/* The key that signs new tokens: the newest active one (keys are newest first). */
static const EcKey *
EcMintKey(TimestampTz now)
{
	const EcKey *keys;
	int			nkeys;
	int			i;

	keys = EcKeysOf("consent", &nkeys);
	for (i = 0; i < nkeys; i++)
	{
		if (EcKeyActive(&keys[i], now))
			return &keys[i];
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("no active key of purpose \"consent\""),
			 errhint("Add one with ec.generate_key('consent', ...) or ec.add_key('consent', ...).")));
	return NULL;				/* keep compiler quiet */
}

/* n fresh nonces of EC_NONCE_BYTES each (one call of the strong generator for all) */
static void
EcNonces(unsigned char *nonces, int n)
{
	if (!pg_strong_random(nonces, (size_t) n * EC_NONCE_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));
}

/*
 * Signs one token for a lead with a fresh nonce (EC_NONCE_BYTES from
 * EcNonces, used once): the token (palloc'd) and the SHA-256 of its
 * nonce, which is what ec.consent_tokens keeps.
 */
static text *
EcMintOne(const EcKey *key, int64 lead_id, int64 iat, int64 exp, const unsigned char *nonce,
		  unsigned char *nonce_hash)
{
	char		jti[32];
	size_t		jtilen;
	char		header[sizeof(key->key_id) + 64];
	char		payload[256];
	char		out[EC_JWS_MAX_TOKEN];
	size_t		outlen;

	(void) ec_b64url_encode(nonce, EC_NONCE_BYTES, jti, sizeof(jti) - 1, &jtilen);
	jti[jtilen] = '\0';
	if (ec_sha256(jti, jtilen, nonce_hash) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256")));

	/* key ids are [A-Za-z0-9._-]: nothing to escape */
	snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", key->key_id);
	snprintf(payload, sizeof(payload), "{\"sub\":\"" INT64_FORMAT "\",\"jti\":\"%s\",\"iat\":" INT64_FORMAT
			 ",\"exp\":" INT64_FORMAT "}", lead_id, jti, iat, exp);
	if (ec_jws_hs256_encode(key->secret, key->secret_len, header, strlen(header),
							payload, strlen(payload), out, sizeof(out), &outlen) != EC_JWS_OK)
		elog(ERROR, "could not encode a consent token");
	return cstring_to_text_with_len(out, outlen);
}

static void
EcNoSuchLead(int64 lead_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("lead " INT64_FORMAT " does not exist", lead_id)));
}

PG_FUNCTION_INFO_V1(ec_mint_consent_token);

/* ec.mint_consent_token(lead_id): a single-use HS256 token for the consent form */
Datum
ec_mint_consent_token(PG_FUNCTION_ARGS)
{
	int64		lead_id = PG_GETARG_INT64(0);
	TimestampTz now = GetCurrentTimestamp();
	int64		iat = EcUnixSeconds(now);
	int64		exp = iat + ec_consent_token_ttl;
	const EcKey *key = EcMintKey(now);
	unsigned char nonce_hash[EC_SHA256_LEN];
	text	   *token;
	EcOwnerScope scope;
	Oid			types[5] = {INT8OID, TEXTOID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	unsigned char nonce[EC_NONCE_BYTES];

	EcNonces(nonce, 1);
	token = EcMintOne(key, lead_id, iat, exp, nonce, nonce_hash);

	values[0] = Int64GetDatum(lead_id);
	values[1] = CStringGetTextDatum(key->key_id);
	values[2] = ShaDatum(nonce_hash);
	values[3] = TimestampTzGetDatum(EcFromUnixSeconds(iat));
	values[4] = TimestampTzGetDatum(EcFromUnixSeconds(exp));

	EcBecomeOwner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (EcSpiRun(&plan_mint,
				 "INSERT INTO ec.consent_tokens (lead_id, key_id, nonce_hash, issued_at, expires_at)"
				 " SELECT l.id, $2, $3, $4, $5 FROM ec.leads l WHERE l.id OPERATOR(pg_catalog.=) $1",
				 5, types, values, NULL, SPI_OK_INSERT) != 1)
		EcNoSuchLead(lead_id);
	SPI_finish();
	EcRestoreUser(&scope);

	PG_RETURN_TEXT_P(token);
}

PG_FUNCTION_INFO_V1(ec_mint_consent_tokens);

/*
 * ec.mint_consent_tokens(lead_ids): ec.mint_consent_token for each lead of
 * an array (the feeder's 25,000 a day), in the same order, with one
 * INSERT of every nonce hash.  Same key, same claims, same expiry as one
 * by one; a lead that does not exist fails the whole call as it would.
 */
Datum
ec_mint_consent_tokens(PG_FUNCTION_ARGS)
{
	ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(0);
	TimestampTz now = GetCurrentTimestamp();
	int64		iat = EcUnixSeconds(now);
	int64		exp = iat + ec_consent_token_ttl;
	const EcKey *key;
	Datum	   *id_datums;
	bool	   *id_nulls;
	int			n;
	int			i;
	Datum	   *tokens;
	Datum	   *hashes;
	unsigned char *nonces;
	EcOwnerScope scope;
	Oid			types[5] = {INT8ARRAYOID, TEXTOID, BYTEAARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	volatile uint64 inserted = 0;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (ARR_NDIM(ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("lead_ids must be a one-dimensional array")));
	deconstruct_array(ids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &id_datums, &id_nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (id_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("lead_ids cannot contain null")));
	}
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));

	key = EcMintKey(now);
	nonces = palloc((size_t) n * EC_NONCE_BYTES);
	EcNonces(nonces, n);
	tokens = palloc(sizeof(Datum) * n);
	hashes = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		unsigned char nonce_hash[EC_SHA256_LEN];

		tokens[i] = PointerGetDatum(EcMintOne(key, DatumGetInt64(id_datums[i]), iat, exp,
											  nonces + (size_t) i * EC_NONCE_BYTES, nonce_hash));
		hashes[i] = ShaDatum(nonce_hash);
	}

	values[0] = PointerGetDatum(ids);
	values[1] = CStringGetTextDatum(key->key_id);
	values[2] = PointerGetDatum(construct_array(hashes, n, BYTEAOID, -1, false, TYPALIGN_INT));
	values[3] = TimestampTzGetDatum(EcFromUnixSeconds(iat));
	values[4] = TimestampTzGetDatum(EcFromUnixSeconds(exp));

	/*
	 * One insert, written as COPY writes rows (src/common/bulk_insert.c;
	 * a plain INSERT when the table needs one); the foreign key to ec.leads
	 * checks every lead, once for all of them (a join would look each up
	 * twice).  Its violation is caught in a subtransaction and answered as
	 * one by one would: the first lead that does not exist, by name.
	 */
	EcBecomeOwner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		static const char *const columns[5] = {"lead_id", "key_id", "nonce_hash", "issued_at", "expires_at"};
		EcBulkInsert *bi = EcBulkInsertBegin(EcTokenTableInfo()->relid, 5, columns);

		if (bi != NULL)
		{
			/* as COPY writes rows, the foreign key checked once for all */
			Datum		row[5];
			bool		row_nulls[5] = {false, false, false, false, false};
			int			r;

			row[1] = values[1];
			row[3] = values[3];
			row[4] = values[4];
			for (r = 0; r < n; r++)
			{
				row[0] = id_datums[r];
				row[2] = hashes[r];
				EcBulkInsertRow(bi, row, row_nulls);
			}
			inserted = EcBulkInsertEnd(bi);
		}
		else
			inserted = EcSpiRun(&plan_mint_many,
								"INSERT INTO ec.consent_tokens (lead_id, key_id, nonce_hash, issued_at, expires_at)"
								" SELECT t.lead_id, $2, t.nonce_hash, $4, $5"
								" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) AS t(lead_id, nonce_hash)",
								5, types, values, NULL, SPI_OK_INSERT);
		EcSubxactCommit(cxt, owner);
	}
	PG_CATCH();
	{
		ErrorData  *edata = EcSubxactAbort(cxt, owner);

		if (edata->sqlerrcode != ERRCODE_FOREIGN_KEY_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		inserted = 0;
	}
	PG_END_TRY();
	if (inserted != (uint64) n)
	{
		/* name the first lead that does not exist, as one by one would */
		Oid			one_type[1] = {INT8ARRAYOID};

		if (EcSpiRun(&plan_mint_missing,
					 "SELECT t.lead_id FROM pg_catalog.unnest($1) WITH ORDINALITY AS t(lead_id, n)"
					 " WHERE NOT EXISTS (SELECT FROM ec.leads l WHERE l.id OPERATOR(pg_catalog.=) t.lead_id)"
					 " ORDER BY t.n LIMIT 1",
					 1, one_type, values, NULL, SPI_OK_SELECT) == 1)
		{
			bool		isnull;

			EcNoSuchLead(DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
													 &isnull)));
		}
		elog(ERROR, "minted " UINT64_FORMAT " consent tokens for %d leads", inserted, n);
	}
	SPI_finish();
	EcRestoreUser(&scope);

	PG_RETURN_ARRAYTYPE_P(construct_array(tokens, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(ec_verify_consent_token);

/* ec.verify_consent_token(token): every check, nothing used or recorded */
Datum
ec_verify_consent_token(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	EcTokenCheck check;

	memset(&check, 0, sizeof(check));
	if (EcCheckTokenForm(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), now, &check))
		EcCheckTokenRow(&check, now);
	PG_RETURN_JSONB_P(EcTokenAnswer(&check, 0));
}

PG_FUNCTION_INFO_V1(ec_submit_consent);

/* ec.submit_consent(token, client_ip, user_agent): use a token, record consent */
Datum
ec_submit_consent(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	inet	   *client_ip = PG_ARGISNULL(1) ? NULL : PG_GETARG_INET_PP(1);
	text	   *user_agent = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	EcTokenCheck check;
	EcOwnerScope scope;
	TimestampTz consented_at = 0;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;
	Jsonb	   *answer;
	bool		valid;

	memset(&check, 0, sizeof(check));
	valid = EcCheckTokenForm(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), now, &check);

	EcBecomeOwner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (valid)
	{
		Oid			types[3] = {BYTEAOID, INT8OID, TIMESTAMPTZOID};
		Datum		values[3];

		/*
		 * Claim the token: of two sessions with the same token, the second
		 * waits for the first's row lock, then finds used_at set (READ
		 * COMMITTED re-checks the row) and claims nothing.
		 */
		values[0] = ShaDatum(check.nonce_hash);
		values[1] = Int64GetDatum(check.lead_id);
		values[2] = TimestampTzGetDatum(now);
		if (EcSpiRun(&plan_claim,
					 "UPDATE ec.consent_tokens t SET used_at = $3"
					 " WHERE t.nonce_hash OPERATOR(pg_catalog.=) $1 AND t.lead_id OPERATOR(pg_catalog.=) $2"
					 " AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at OPERATOR(pg_catalog.>) $3"
					 " RETURNING t.id",
					 3, types, values, NULL, SPI_OK_UPDATE_RETURNING) == 1)
		{
			bool		isnull;
			Datum		broker;
			bool		broker_null;

			check.token_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
			values[0] = Int64GetDatum(check.lead_id);
			values[1] = TimestampTzGetDatum(now);
			types[0] = INT8OID;
			types[1] = TIMESTAMPTZOID;
			if (EcSpiRun(&plan_consent,
						 "UPDATE ec.leads l SET consent = true, consented_at = $2,"
						 " consent_method = 'form'::ec.consent_method"
						 " WHERE l.id OPERATOR(pg_catalog.=) $1 RETURNING l.assigned_broker_id",
						 2, types, values, NULL, SPI_OK_UPDATE_RETURNING) != 1)
				elog(ERROR, "lead " INT64_FORMAT " of consent token " INT64_FORMAT " vanished",
					 check.lead_id, check.token_id);
			broker = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &broker_null);
			EcConsentEvent("consent_granted", check.lead_id, broker, broker_null);
			Reject(&check, 200, "ok");
			consented_at = now;
		}
		else
			EcCheckTokenRow(&check, now);	/* why not: used, revoked, ... */
	}

	/* the answer outlives SPI_finish: build it in the caller's memory */
	old = MemoryContextSwitchTo(caller);
	answer = EcTokenAnswer(&check, consented_at);
	MemoryContextSwitchTo(old);
	EcAudit(check.have_lead ? check.lead_id : 0,
			check.status == 200 ? "granted" : "rejected",
			"form", check.reason, check.token_id, client_ip, user_agent,
			answer, now);
	SPI_finish();
	EcRestoreUser(&scope);
	PG_RETURN_JSONB_P(answer);
}

/* A withdrawal method: lower-case snake_case, like a reason. */
static bool
ValidMethod(const char *m)
{
	size_t		len = strlen(m);
	size_t		i;

	if (len < 1 || len > 32 || !(m[0] >= 'a' && m[0] <= 'z'))
		return false;
	for (i = 1; i < len; i++)
	{
		if (!((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= '0' && m[i] <= '9') || m[i] == '_'))
			return false;
	}
	return true;
}

PG_FUNCTION_INFO_V1(ec_withdraw_consent);

/* ec.withdraw_consent(lead_id, method, detail): revoke consent and open tokens */
Datum
ec_withdraw_consent(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	char	   *method = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *detail = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	int64		lead_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	EcOwnerScope scope;
	EcAnswer	a;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext old;
	Jsonb	   *answer;
	int			status = 200;
	const char *reason = "ok";
	uint64		revoked = 0;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];

	EcBecomeOwner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (PG_ARGISNULL(0))
	{
		status = 400;
		reason = "missing_lead";
	}
	else if (method == NULL || !ValidMethod(method))
	{
		status = 400;
		reason = "invalid_method";
	}
	else
	{
		values[0] = Int64GetDatum(lead_id);
		values[1] = TimestampTzGetDatum(now);
		if (EcSpiRun(&plan_withdraw,
					 "WITH old AS (SELECT l.id, l.consent, l.assigned_broker_id FROM ec.leads l"
					 "  WHERE l.id OPERATOR(pg_catalog.=) $1 FOR UPDATE)"
					 " UPDATE ec.leads l SET consent = false, consented_at = NULL, consent_method = NULL"
					 " FROM old WHERE l.id OPERATOR(pg_catalog.=) old.id"
					 " RETURNING old.consent, old.assigned_broker_id",
					 1, types, values, NULL, SPI_OK_UPDATE_RETURNING) != 1)
		{
			status = 422;
			reason = "unknown_lead";
		}
		else
		{
			bool		isnull;
			bool		was = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
			bool		broker_null;
			Datum		broker = SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &broker_null);

			if (!was)
				reason = "not_consented";
			EcConsentEvent("consent_withdrawn", lead_id, broker, broker_null);
			/* a token minted before the withdrawal must not bring consent back */
			revoked = EcSpiRun(&plan_revoke,
							   "UPDATE ec.consent_tokens t SET revoked_at = $2"
							   " WHERE t.lead_id OPERATOR(pg_catalog.=) $1"
							   " AND t.used_at IS NULL AND t.revoked_at IS NULL",
							   2, types, values, NULL, SPI_OK_UPDATE);
		}
	}

	/* the answer outlives SPI_finish: build it in the caller's memory */
	old = MemoryContextSwitchTo(caller);
	EcAnswerBegin(&a, status, reason);
	if (!PG_ARGISNULL(0))
		EcAnswerInt(&a, "lead_id", lead_id);
	if (status == 200)
		EcAnswerInt(&a, "revoked_tokens", (int64) revoked);
	answer = EcAnswerEnd(&a);
	MemoryContextSwitchTo(old);

	{
		EcAnswer	d;

		EcAnswerBegin(&d, status, reason);
		EcAnswerText(&d, "detail", detail);
		EcAnswerInt(&d, "revoked_tokens", (int64) revoked);
		EcAudit(lead_id, status == 200 ? "withdrawn" : "rejected", method, reason, 0,
				NULL, NULL, EcAnswerEnd(&d), now);
	}
	SPI_finish();
	EcRestoreUser(&scope);
	PG_RETURN_JSONB_P(answer);
}
