/*-------------------------------------------------------------------------
 *
 * request.c
 *		ec.verify_request: signed uploads (API.md's scheme), the rate limit,
 *		the replay guard, and the record of every rejection.
 *
 * The checks, in order, each with its own reason:
 *   429 rate_limited             more than ec.request_rate_limit a minute
 *   400 missing_body             body is NULL
 *   413 body_too_large           body over ec.request_max_size
 *   400 malformed_headers        headers not an object, or a header twice
 *   400 missing_/malformed_timestamp, _content_sha256, _signature
 *   401 timestamp_outside_window more than ec.request_max_skew from now
 *   401 signature_mismatch       no v1 signature matches an active key
 *   401 content_sha256_mismatch  the body is not what was signed
 *   409 replay                   this content was accepted before
 *   200 ok
 * The signature is checked before the body is hashed, so an unsigned
 * request never costs a hash of its body.  Only validly signed content
 * enters the replay guard (else anyone could block an upload in advance).
 * A rejection is answered, not raised, so its record (pipeline_events,
 * ec.request_auth_failures) commits with the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "core/sigheader.h"
#include "signing/signing.h"

typedef enum EcHeader
{
	EC_HDR_TIMESTAMP = 0,
	EC_HDR_SHA256,
	EC_HDR_SIGNATURE,
	EC_HDR_COUNT
} EcHeader;

static const char *const ec_header_names[EC_HDR_COUNT] = {
	"x-timestamp", "x-content-sha256", "x-signature"
};

typedef struct EcHeaderValues
{
	bool		present[EC_HDR_COUNT];
	bool		bad_type[EC_HDR_COUNT];
	const char *value[EC_HDR_COUNT];
	size_t		len[EC_HDR_COUNT];
} EcHeaderValues;

static SPIPlanPtr plan_rate = NULL;
static SPIPlanPtr plan_guard = NULL;
static SPIPlanPtr plan_guard_seen = NULL;
static SPIPlanPtr plan_rejected = NULL;
static SPIPlanPtr plan_failures = NULL;

/* Which of our headers a JSON key names: case-insensitive, OWS trimmed. */
static int
EcHeaderIndex(const char *name, int len)
{
	int			i;

	while (len > 0 && (*name == ' ' || *name == '\t'))
	{
		name++;
		len--;
	}
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	for (i = 0; i < EC_HDR_COUNT; i++)
	{
		if ((size_t) len == strlen(ec_header_names[i]) &&
			pg_strncasecmp(name, ec_header_names[i], len) == 0)
			return i;
	}
	return -1;
}

/*
 * One header's value: a string; for X-Timestamp also a JSON number; an
 * array of strings (a header sent several times) is joined with commas for
 * X-Signature and must hold exactly one string for the others.
 */
static void
EcHeaderValue(EcHeaderValues *h, int idx, JsonbValue *v)
{
	if (v->type == jbvString)
	{
		h->value[idx] = v->val.string.val;
		h->len[idx] = v->val.string.len;
	}
	else if (v->type == jbvNumeric && idx == EC_HDR_TIMESTAMP)
	{
		char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric)));

		h->value[idx] = s;
		h->len[idx] = strlen(s);
	}
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;
		StringInfoData buf;
		int			n = 0;

		initStringInfo(&buf);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (e.type != jbvString)
			{
				h->bad_type[idx] = true;
				return;
			}
			if (n++ > 0)
				appendStringInfoChar(&buf, ',');
			appendBinaryStringInfo(&buf, e.val.string.val, e.val.string.len);
		}
		if (n == 0 || (n > 1 && idx != EC_HDR_SIGNATURE))
		{
			h->bad_type[idx] = true;
			return;
		}
		h->value[idx] = buf.data;
		h->len[idx] = buf.len;
	}
	else
		h->bad_type[idx] = true;
}

/* Find our three headers; false when headers is no object or repeats one. */
static bool
EcReadHeaders(Jsonb *headers, EcHeaderValues *h)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			current = -1;

	memset(h, 0, sizeof(*h));
	if (headers == NULL)
		return true;			/* every header is missing */
	if (!JB_ROOT_IS_OBJECT(headers))
		return false;

	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			current = EcHeaderIndex(v.val.string.val, v.val.string.len);
			if (current >= 0)
			{
				if (h->present[current])
					return false;	/* X-Signature and x-signature both */
				h->present[current] = true;
			}
		}
		else if (tok == WJB_VALUE && current >= 0)
			EcHeaderValue(h, current, &v);
	}
	return true;
}

/* Status and reason of a header that failed to parse. */
static void
EcHeaderReject(EcRequestVerdict *verdict, EcHeader which, bool empty)
{
	static const char *const missing[EC_HDR_COUNT] = {
		"missing_timestamp", "missing_content_sha256", "missing_signature"
	};
	static const char *const malformed[EC_HDR_COUNT] = {
		"malformed_timestamp", "malformed_content_sha256", "malformed_signature"
	};

	verdict->status = 400;
	verdict->reason = empty ? missing[which] : malformed[which];
}

/*
 * The scheme's checks (no table is touched): headers, window, signature,
 * body hash.  True when the request is validly signed.
 */
static bool
EcCheckSignedRequest(bytea *body, Jsonb *headers, TimestampTz now,
					 EcRequestVerdict *verdict)
{
	EcHeaderValues h;
	EcSigStatus st;
	int64		ts;
	const char *tstok;
	size_t		tslen;
	unsigned char claimed[EC_SHA256_LEN];
	const char *shatok;
	EcSigSet	sigs;
	const EcKey *keys;
	int			nkeys;
	int			i;
	int64		skew;

	if (!EcReadHeaders(headers, &h))
	{
		verdict->status = 400;
		verdict->reason = "malformed_headers";
		return false;
	}
	for (i = 0; i < EC_HDR_COUNT; i++)
	{
		if (h.bad_type[i])
		{
			EcHeaderReject(verdict, i, false);
			return false;
		}
	}

	st = ec_sig_parse_timestamp(h.value[EC_HDR_TIMESTAMP], h.len[EC_HDR_TIMESTAMP],
								&ts, &tstok, &tslen);
	if (st != EC_SIG_OK)
	{
		EcHeaderReject(verdict, EC_HDR_TIMESTAMP, st == EC_SIG_EMPTY);
		return false;
	}
	st = ec_sig_parse_sha256(h.value[EC_HDR_SHA256], h.len[EC_HDR_SHA256], claimed, &shatok);
	if (st != EC_SIG_OK)
	{
		EcHeaderReject(verdict, EC_HDR_SHA256, st == EC_SIG_EMPTY);
		return false;
	}
	st = ec_sig_parse_signatures(h.value[EC_HDR_SIGNATURE], h.len[EC_HDR_SIGNATURE], &sigs);
	if (st != EC_SIG_OK)
	{
		EcHeaderReject(verdict, EC_HDR_SIGNATURE, st == EC_SIG_EMPTY);
		return false;
	}

	skew = EcUnixSeconds(now) - ts;
	if (skew > ec_request_max_skew || skew < -(int64) ec_request_max_skew)
	{
		verdict->status = 401;
		verdict->reason = "timestamp_outside_window";
		return false;
	}

	/* every active key is tried, every signature compared in constant time */
	keys = EcKeysOf("request", &nkeys);
	for (i = 0; i < nkeys; i++)
	{
		unsigned char mac[EC_SHA256_LEN];

		if (!EcKeyActive(&keys[i], now))
			continue;
		if (ec_sig_compute(keys[i].secret, keys[i].secret_len, tstok, tslen,
						   shatok, EC_SHA256_HEX_LEN, mac) != EC_SIG_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not compute HMAC-SHA256")));
		if (ec_sig_match(&sigs, mac) && verdict->key_id[0] == '\0')
			strlcpy(verdict->key_id, keys[i].key_id, sizeof(verdict->key_id));
	}
	if (verdict->key_id[0] == '\0')
	{
		verdict->status = 401;
		verdict->reason = "signature_mismatch";
		return false;
	}

	if (ec_sha256(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), verdict->content_sha256) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256")));
	verdict->have_sha256 = true;
	if (!ec_ct_equal(verdict->content_sha256, claimed, EC_SHA256_LEN))
	{
		verdict->status = 401;
		verdict->reason = "content_sha256_mismatch";
		return false;
	}

	verdict->status = 200;
	verdict->reason = "ok";
	return true;
}

/* SQL of the client bucket: an IPv4 address, an IPv6 /64, or unknown. */
#define EC_CLIENT_NET(p) \
	"COALESCE(CASE WHEN pg_catalog.family(" p ") OPERATOR(pg_catalog.=) 6" \
	" THEN pg_catalog.network(pg_catalog.set_masklen(" p ", 64))" \
	" ELSE pg_catalog.network(pg_catalog.set_masklen(" p ", 32)) END," \
	" '0.0.0.0/0'::pg_catalog.cidr)"

/*
 * Count this request against its client's budget (sliding window over two
 * fixed minutes: the previous minute's count weighs by how much of it is
 * still within the last 60 s).  True when over the limit; *retry_after is
 * then the seconds until the next minute.
 */
static bool
EcRateLimited(inet *client_ip, TimestampTz now, int *retry_after)
{
	Oid			types[2] = {INETOID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	TimestampTz window = now - (now % USECS_PER_MINUTE);
	bool		isnull;
	int64		hits;
	int64		prev;
	double		elapsed;
	double		estimate;

	if (ec_request_rate_limit <= 0)
		return false;
	values[0] = PointerGetDatum(client_ip);
	if (client_ip == NULL)
		nulls[0] = 'n';
	values[1] = TimestampTzGetDatum(window);

	EcSpiRun(&plan_rate,
			 "INSERT INTO ec.request_rate AS r (client_net, window_start, hits, prev_hits)"
			 " VALUES (" EC_CLIENT_NET("$1") ", $2, 1, 0)"
			 " ON CONFLICT (client_net) DO UPDATE SET"
			 "  prev_hits = CASE WHEN r.window_start OPERATOR(pg_catalog.>=) excluded.window_start THEN r.prev_hits"
			 "   WHEN r.window_start OPERATOR(pg_catalog.=) (excluded.window_start"
			 "     OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval) THEN r.hits ELSE 0 END,"
			 "  hits = CASE WHEN r.window_start OPERATOR(pg_catalog.>=) excluded.window_start"
			 "   THEN r.hits OPERATOR(pg_catalog.+) 1 ELSE 1 END,"
			 "  window_start = pg_catalog.timestamptz_larger(r.window_start, excluded.window_start)"
			 " RETURNING r.hits, r.prev_hits",
			 2, types, values, nulls, SPI_OK_INSERT_RETURNING);
	hits = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	prev = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	elapsed = (double) (now - window) / USECS_PER_SEC;
	estimate = (double) prev * (60.0 - elapsed) / 60.0 + (double) hits;
	if (estimate <= (double) ec_request_rate_limit)
		return false;
	*retry_after = (int) (60.0 - elapsed) + 1;
	return true;
}

/*
 * Remember validly signed content; a replay sets verdict to 409 with the
 * first upload's id.  A fresh entry reserves an id of ec.ingest_uploads
 * for the upload (ec.ingest_upload stores its row under it).
 */
static void
EcReplayGuard(inet *client_ip, TimestampTz now, EcRequestVerdict *verdict)
{
	Oid			types[5] = {BYTEAOID, TEXTOID, INETOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bytea	   *sha = palloc(VARHDRSZ + EC_SHA256_LEN);
	bool		isnull;

	SET_VARSIZE(sha, VARHDRSZ + EC_SHA256_LEN);
	memcpy(VARDATA(sha), verdict->content_sha256, EC_SHA256_LEN);
	values[0] = PointerGetDatum(sha);
	values[1] = CStringGetTextDatum(verdict->key_id);
	values[2] = PointerGetDatum(client_ip);
	if (client_ip == NULL)
		nulls[2] = 'n';
	values[3] = TimestampTzGetDatum(now);
	values[4] = TimestampTzGetDatum(now + (int64) ec_replay_guard_retention * USECS_PER_SEC);

	if (EcSpiRun(&plan_guard,
				 "INSERT INTO ec.ingest_replay_guard AS g"
				 " (content_sha256, upload_id, key_id, client_ip, first_seen_at, expires_at)"
				 " VALUES ($1, pg_catalog.nextval('ec.ingest_uploads_id_seq'::pg_catalog.regclass), $2, $3, $4, $5)"
				 " ON CONFLICT (content_sha256) DO UPDATE SET upload_id = excluded.upload_id,"
				 "  key_id = excluded.key_id, client_ip = excluded.client_ip,"
				 "  first_seen_at = excluded.first_seen_at, expires_at = excluded.expires_at"
				 " WHERE g.expires_at OPERATOR(pg_catalog.<=) excluded.first_seen_at"
				 " RETURNING g.upload_id",
				 5, types, values, nulls, SPI_OK_INSERT_RETURNING) == 1)
	{
		verdict->upload_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
		return;
	}

	/* seen and not expired: a new statement (snapshot) sees the first one */
	verdict->status = 409;
	verdict->reason = "replay";
	verdict->upload_id = 0;
	if (EcSpiRun(&plan_guard_seen,
				 "SELECT g.upload_id FROM ec.ingest_replay_guard g"
				 " WHERE g.content_sha256 OPERATOR(pg_catalog.=) $1",
				 1, types, values, NULL, SPI_OK_SELECT) == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			verdict->upload_id = DatumGetInt64(d);
	}
}

/* The answer of a verdict {status, reason, ...}; with client_ip, a record of it. */
static Jsonb *
EcVerdictJsonb(const EcRequestVerdict *verdict, inet *client_ip, int retry_after)
{
	EcAnswer	a;

	EcAnswerBegin(&a, verdict->status, verdict->reason);
	if (verdict->key_id[0] != '\0')
		EcAnswerText(&a, "key_id", verdict->key_id);
	if (verdict->have_sha256)
	{
		char		hex[EC_SHA256_HEX_LEN + 1];

		ec_hex_encode(verdict->content_sha256, EC_SHA256_LEN, hex);
		hex[EC_SHA256_HEX_LEN] = '\0';
		EcAnswerText(&a, "content_sha256", hex);
	}
	if (verdict->upload_id != 0)
		EcAnswerInt(&a, "upload_id", verdict->upload_id);
	if (retry_after > 0)
		EcAnswerInt(&a, "retry_after", retry_after);
	if (client_ip != NULL)
		EcAnswerText(&a, "client_ip",
					 DatumGetCString(DirectFunctionCall1(inet_out, PointerGetDatum(client_ip))));
	return EcAnswerEnd(&a);
}

/* Record a rejection: an event, and for 400/401 the client's failure count. */
static void
EcRecordRejection(const EcRequestVerdict *verdict, Jsonb *detail, inet *client_ip,
				  TimestampTz now)
{
	Oid			types[3] = {INT8OID, JSONBOID, INETOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(verdict->upload_id);
	if (verdict->upload_id == 0)
		nulls[0] = 'n';
	values[1] = JsonbPGetDatum(detail);
	EcSpiRun(&plan_rejected,
			 "INSERT INTO ec.pipeline_events (event_type, ok, upload_id, detail)"
			 " VALUES ('request_rejected', false, $1, $2)",
			 2, types, values, nulls, SPI_OK_INSERT);

	if (verdict->status == 400 || verdict->status == 401)
	{
		Oid			ftypes[3] = {INETOID, TIMESTAMPTZOID, TEXTOID};

		values[0] = PointerGetDatum(client_ip);
		nulls[0] = client_ip == NULL ? 'n' : ' ';
		values[1] = TimestampTzGetDatum(now);
		values[2] = CStringGetTextDatum(verdict->reason);
		EcSpiRun(&plan_failures,
				 "INSERT INTO ec.request_auth_failures AS f"
				 " (client_net, failures, first_failed_at, last_failed_at, last_reason)"
				 " VALUES (" EC_CLIENT_NET("$1") ", 1, $2, $2, $3)"
				 " ON CONFLICT (client_net) DO UPDATE SET failures = f.failures OPERATOR(pg_catalog.+) 1,"
				 "  last_failed_at = excluded.last_failed_at, last_reason = excluded.last_reason",
				 3, ftypes, values, nulls, SPI_OK_INSERT);
	}
}

Jsonb *
EcVerifyRequest(bytea *body, Jsonb *headers, inet *client_ip, bool record,
				EcRequestVerdict *verdict)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext caller = CurrentMemoryContext;
	EcOwnerScope scope;
	int			retry_after = 0;
	bool		checked = false;
	Jsonb	   *answer;

	memset(verdict, 0, sizeof(*verdict));

	if (record)
	{
		EcBecomeOwner(&scope);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
	}

	if (record && EcRateLimited(client_ip, now, &retry_after))
	{
		verdict->status = 429;
		verdict->reason = "rate_limited";
	}
	else if (body == NULL)
	{
		verdict->status = 400;
		verdict->reason = "missing_body";
	}
	else if (VARSIZE_ANY_EXHDR(body) > (Size) ec_request_max_size * 1024)
	{
		verdict->status = 413;
		verdict->reason = "body_too_large";
	}
	else
		checked = EcCheckSignedRequest(body, headers, now, verdict);

	if (record && checked)
		EcReplayGuard(client_ip, now, verdict);

	/* the answer outlives SPI_finish: build it in the caller's memory */
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		answer = EcVerdictJsonb(verdict, NULL, retry_after);
		MemoryContextSwitchTo(old);
	}

	if (record)
	{
		if (verdict->status != 200)
			EcRecordRejection(verdict, EcVerdictJsonb(verdict, client_ip, retry_after),
							  client_ip, now);
		SPI_finish();
		EcRestoreUser(&scope);
	}
	return answer;
}

PG_FUNCTION_INFO_V1(ec_verify_request);

/* ec.verify_request(body, headers, client_ip): check, rate-limit, guard, record */
Datum
ec_verify_request(PG_FUNCTION_ARGS)
{
	EcRequestVerdict verdict;

	PG_RETURN_JSONB_P(EcVerifyRequest(PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_PP(0),
									  PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
									  PG_ARGISNULL(2) ? NULL : PG_GETARG_INET_PP(2),
									  true, &verdict));
}

PG_FUNCTION_INFO_V1(ec_check_request_signature);

/* ec.check_request_signature(body, headers): the scheme's checks, nothing recorded */
Datum
ec_check_request_signature(PG_FUNCTION_ARGS)
{
	EcRequestVerdict verdict;

	PG_RETURN_JSONB_P(EcVerifyRequest(PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_PP(0),
									  PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
									  NULL, false, &verdict));
}
