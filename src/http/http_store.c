/*-------------------------------------------------------------------------
 *
 * http_store.c
 *		The HTTP worker's reads and writes of the queue tables, each in a
 *		short transaction of its own (worker_spi's bracket) and never
 *		while a request is being sent.
 *
 * Claiming marks a host's due rows in_flight and counts the attempt;
 * flushing records a batch of outcomes at once (the responses, the new
 * states, the dead letters) with one statement over arrays, which is what
 * lets one worker keep thousands of requests a second moving.  The worker
 * commits asynchronously: a crash may forget the last outcomes, and those
 * requests are then sent again with the same Idempotency-Key.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "core/hmacsha256.h"
#include "core/sigheader.h"
#include "http/http_worker.h"

/*
 * Statements kept for the life of the worker, always planned afresh with
 * their parameters (CURSOR_OPT_CUSTOM_PLAN): the queue grows from empty to
 * a backlog in one transaction, and a plan frozen while it was empty would
 * scan it all.
 */
static const char *hosts_sql = NULL;
static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr flush_plan = NULL;
static SPIPlanPtr still_plan = NULL;

/* Active keys, loaded at most once per claim round and wiped after it. */
typedef struct HttpKey
{
	bool		api;			/* purpose api, else webhook_out */
	char	   *key_id;
	unsigned char *secret;
	size_t		len;
} HttpKey;

static MemoryContext KeyContext = NULL;
static List *keys = NIL;
static bool keys_loaded = false;

static SPIPlanPtr
Prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_CUSTOM_PLAN);

	if (p == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	return p;
}

/* The caller's memory context, restored when the transaction ends. */
static MemoryContext txn_caller_cxt = NULL;

void
HttpTxnBegin(const char *activity)
{
	txn_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

void
HttpTxnEnd(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(txn_caller_cxt);
}

/* Is the extension installed here (the queue tables exist)? */
bool
HttpStoreReady(void)
{
	Oid			nsp = get_namespace_oid("ec", true);

	return OidIsValid(nsp) &&
		OidIsValid(get_relname_relid("http_requests", nsp)) &&
		OidIsValid(get_relname_relid("http_responses", nsp)) &&
		OidIsValid(get_relname_relid("keys", nsp));
}

/*
 * At start: nothing is in flight yet, so an in_flight row was cut off by a
 * crash or a stop.  Its attempt had no outcome and does not count.
 */
void
HttpStoreRecover(void)
{
	int			rc = SPI_execute("UPDATE ec.http_requests SET state = 'pending',"
								 " attempts = GREATEST(attempts OPERATOR(pg_catalog.-) 1, 0)"
								 " WHERE state OPERATOR(pg_catalog.=) 'in_flight' AND finished_at IS NULL",
								 false, 0);

	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not recover in-flight requests: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("HTTP worker requeued %llu requests that were in flight when it last stopped",
						(unsigned long long) SPI_processed)));
}

/*
 * Each host with pending rows and its earliest not_before: a skip scan of
 * the pending index, one probe per host however long the queue.  Read-only,
 * so with the snapshot the transaction began with: it does not see rows the
 * same transaction has just changed (HttpStoreRecover commits first).
 */
List *
HttpStoreHosts(void)
{
	List	   *hosts = NIL;
	int			rc;

	/*
	 * Walk the open index in its order, for this transaction: the filter on
	 * state is not in the index (so that claiming stays a HOT update) and
	 * the planner, misjudging it on a queue that just grew, would rather
	 * read every open row of a host and sort them.
	 */
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);

	if (hosts_sql == NULL)
		hosts_sql = ("WITH RECURSIVE h AS ("
							 " (SELECT host, not_before FROM ec.http_requests WHERE finished_at IS NULL"
							 "   AND state OPERATOR(pg_catalog.=) 'pending' ORDER BY host, not_before, id LIMIT 1)"
							 " UNION ALL"
							 " SELECT n.host, n.not_before FROM h, LATERAL"
							 "  (SELECT r.host, r.not_before FROM ec.http_requests r WHERE r.finished_at IS NULL"
							 "    AND r.state OPERATOR(pg_catalog.=) 'pending' AND r.host OPERATOR(pg_catalog.>) h.host"
							 "    ORDER BY r.host, r.not_before, r.id LIMIT 1) n)"
							 " SELECT host, not_before FROM h");
	/* no parameters: planned on each call (a cached plan would be generic) */
	rc = SPI_execute(hosts_sql, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not list due hosts: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		HttpDueHost *h = palloc(sizeof(HttpDueHost));
		bool		isnull;

		h->host = SPI_getvalue(t, d, 1);
		h->first_due = DatumGetTimestampTz(SPI_getbinval(t, d, 2, &isnull));
		hosts = lappend(hosts, h);
		MemoryContextSwitchTo(old);
	}
	return hosts;
}

/* Load the active api and webhook_out keys (newest first). */
static void
LoadKeys(void)
{
	int			rc;
	MemoryContext caller;

	if (keys_loaded)
		return;
	if (KeyContext == NULL)
		KeyContext = AllocSetContextCreate(TopMemoryContext, "equity_connect http keys",
										   ALLOCSET_SMALL_SIZES);
	/* SPI leaves its own context current: come back to the caller's */
	caller = CurrentMemoryContext;
	rc = SPI_execute("SELECT purpose OPERATOR(pg_catalog.=) 'api', key_id, secret FROM ec.keys"
					 " WHERE purpose IN ('api', 'webhook_out') AND retired_at IS NULL"
					 " AND (not_after IS NULL OR not_after OPERATOR(pg_catalog.>) pg_catalog.now())"
					 " ORDER BY created_at DESC, key_id",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read keys: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		bytea	   *secret;
		MemoryContext old;
		HttpKey    *k;

		old = MemoryContextSwitchTo(KeyContext);
		k = palloc(sizeof(HttpKey));
		k->api = DatumGetBool(SPI_getbinval(t, d, 1, &isnull));
		k->key_id = SPI_getvalue(t, d, 2);
		secret = DatumGetByteaPCopy(SPI_getbinval(t, d, 3, &isnull));
		k->len = VARSIZE_ANY_EXHDR(secret);
		k->secret = palloc(k->len + 1);
		memcpy(k->secret, VARDATA_ANY(secret), k->len);
		k->secret[k->len] = '\0';
		explicit_bzero(VARDATA_ANY(secret), k->len);
		keys = lappend(keys, k);
		MemoryContextSwitchTo(old);
	}
	keys_loaded = true;
	MemoryContextSwitchTo(caller);
}

void
HttpStoreForgetKeys(void)
{
	ListCell   *lc;

	foreach(lc, keys)
	{
		HttpKey    *k = (HttpKey *) lfirst(lc);

		explicit_bzero(k->secret, k->len);
	}
	keys = NIL;
	keys_loaded = false;
	if (KeyContext != NULL)
		MemoryContextReset(KeyContext);
}

static void
PreError(HttpReq *r, bool retryable, const char *fmt, const char *arg)
{
	if (r->pre_error == NULL)
	{
		r->pre_error = psprintf(fmt, arg);
		r->retryable = retryable;
	}
}

/*
 * The key in place of its placeholder in the body (an {"api_key": id,
 * "in_body": placeholder} header: Melissa takes its key as "CustomerID" in
 * the body). The key stands inside a JSON string, so it may hold no quote,
 * backslash or control character. The body with the key lives only in the
 * request's memory and is wiped when the transfer ends (HttpReqWipe).
 */
static void
ApiKeyInBody(HttpReq *r, const char *id, const HttpKey *k, const JsonbValue *ph)
{
	const char *at;
	char	   *body;
	size_t		before;
	size_t		len;

	for (size_t i = 0; i < k->len; i++)
		if (k->secret[i] < 0x20 || k->secret[i] == 0x7f || k->secret[i] == '"' || k->secret[i] == '\\')
		{
			PreError(r, false, "API key \"%s\" cannot be put in a JSON body", id);
			return;
		}
	at = (r->has_body && ph->val.string.len > 0) ?
		memmem(r->body, r->body_len, ph->val.string.val, ph->val.string.len) : NULL;
	if (at == NULL)
	{
		PreError(r, false, "the body has no placeholder for API key \"%s\"", id);
		return;
	}
	before = at - r->body;
	len = r->body_len - ph->val.string.len + k->len;
	body = palloc(len + 1);
	memcpy(body, r->body, before);
	memcpy(body + before, k->secret, k->len);
	memcpy(body + before + k->len, at + ph->val.string.len, r->body_len - before - ph->val.string.len);
	body[len] = '\0';
	pfree(r->body);
	r->body = body;
	r->body_len = len;
	r->body_secret = true;
}

/* Forget a body that holds a key, once it is sent or will not be. */
void
HttpReqWipe(HttpReq *r)
{
	if (r->body_secret && r->body != NULL)
	{
		explicit_bzero(r->body, r->body_len);
		r->body_secret = false;
	}
}

/*
 * Authorization-style header from an {"api_key": id, "prefix": p} value, or
 * the key in the body for {"api_key": id, "in_body": placeholder}.
 */
static void
ApiKeyHeader(HttpReq *r, const char *name, JsonbContainer *obj)
{
	JsonbValue *idv = getKeyJsonValueFromContainer(obj, "api_key", 7, NULL);
	JsonbValue *pv = getKeyJsonValueFromContainer(obj, "prefix", 6, NULL);
	JsonbValue *ph = getKeyJsonValueFromContainer(obj, "in_body", 7, NULL);
	char	   *id;
	char	   *prefix;
	char	   *base;
	ListCell   *lc;

	if (idv == NULL || idv->type != jbvString)
	{
		PreError(r, false, "header \"%s\" names no API key", name);
		return;
	}
	id = pnstrdup(idv->val.string.val, idv->val.string.len);
	prefix = (pv && pv->type == jbvString) ? pnstrdup(pv->val.string.val, pv->val.string.len) : pstrdup("Bearer ");

	/* the key goes only where it is bound, whatever the row says */
	base = HttpApiKeyBaseUrl(id);
	if (base == NULL || !HttpUrlUnderBase(r->url, base))
	{
		PreError(r, false, "API key \"%s\" may not be sent to this URL", id);
		return;
	}

	LoadKeys();
	foreach(lc, keys)
	{
		HttpKey    *k = (HttpKey *) lfirst(lc);

		if (k->api && strcmp(k->key_id, id) == 0)
		{
			StringInfoData line;

			if (ph != NULL && ph->type == jbvString)
			{
				ApiKeyInBody(r, id, k, ph);
				return;
			}
			if (memchr(k->secret, '\r', k->len) || memchr(k->secret, '\n', k->len) ||
				strlen((char *) k->secret) != k->len)
			{
				PreError(r, false, "API key \"%s\" cannot be sent in a header", id);
				return;
			}
			initStringInfo(&line);
			appendStringInfo(&line, "%s: %s%s", name, prefix, (char *) k->secret);
			r->header_lines = lappend(r->header_lines, line.data);
			return;
		}
	}
	PreError(r, true, "API key \"%s\" is not in the key store or not active", id);
}

/* X-Timestamp, X-Content-SHA256 and X-Signature with every active webhook_out key. */
static void
SignatureHeaders(HttpReq *r)
{
	unsigned char digest[EC_SHA256_LEN];
	char		sha_hex[EC_SHA256_HEX_LEN + 1];
	char		ts[32];
	StringInfoData sig;
	ListCell   *lc;
	int			n = 0;

	LoadKeys();
	if (ec_sha256(r->has_body ? r->body : "", r->has_body ? r->body_len : 0, digest) != 0)
	{
		PreError(r, true, "could not compute %s", "SHA-256");
		return;
	}
	ec_hex_encode(digest, EC_SHA256_LEN, sha_hex);
	sha_hex[EC_SHA256_HEX_LEN] = '\0';
	snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));

	initStringInfo(&sig);
	appendStringInfoString(&sig, "X-Signature: ");
	foreach(lc, keys)
	{
		HttpKey    *k = (HttpKey *) lfirst(lc);
		unsigned char mac[EC_SHA256_LEN];
		char		hex[EC_SHA256_HEX_LEN + 1];

		if (k->api || n >= EC_SIG_MAX_ELEMENTS)
			continue;
		if (ec_sig_compute(k->secret, k->len, ts, strlen(ts), sha_hex, EC_SHA256_HEX_LEN, mac) != EC_SIG_OK)
		{
			PreError(r, true, "could not compute %s", "HMAC-SHA256");
			return;
		}
		ec_hex_encode(mac, EC_SHA256_LEN, hex);
		hex[EC_SHA256_HEX_LEN] = '\0';
		appendStringInfo(&sig, "%sv1=%s", n > 0 ? "," : "", hex);
		n++;
	}
	if (n == 0)
	{
		PreError(r, true, "no active %s key to sign with", "webhook_out");
		return;
	}
	r->header_lines = lappend(r->header_lines, psprintf("X-Timestamp: %s", ts));
	r->header_lines = lappend(r->header_lines, psprintf("X-Content-SHA256: %s", sha_hex));
	r->header_lines = lappend(r->header_lines, sig.data);
}

/* The header lines of a claimed row, secrets and signature resolved. */
static void
BuildHeaders(HttpReq *r, Jsonb *headers)
{
	JsonbIterator *it = JsonbIteratorInit(&headers->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;
	bool		has_type = false;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			if (pg_strcasecmp(name, "Content-Type") == 0)
				has_type = true;
		}
		else if (tok == WJB_VALUE && name != NULL)
		{
			if (v.type == jbvString)
				r->header_lines = lappend(r->header_lines,
										  psprintf("%s: %.*s", name, v.val.string.len, v.val.string.val));
			else if (v.type == jbvBinary &&
					 getKeyJsonValueFromContainer(v.val.binary.data, "sign", 4, NULL) != NULL)
				SignatureHeaders(r);
			else if (v.type == jbvBinary)
				ApiKeyHeader(r, name, v.val.binary.data);
			else
				PreError(r, false, "header \"%s\" has a value that is not a string", name);
		}
	}
	/* libcurl would call a body form data; say what it is not */
	if (r->has_body && !has_type)
		r->header_lines = lappend(r->header_lines, pstrdup("Content-Type: application/octet-stream"));
}

/*
 * Claim up to limit due rows of one host: mark them in_flight, count the
 * attempt, and return them as HttpReq (each in a child context of cxt;
 * the list itself in listcxt).
 */
List *
HttpStoreClaim(const char *host, int limit, TimestampTz now, MemoryContext cxt,
			   MemoryContext listcxt)
{
	Datum		args[3];
	List	   *reqs = NIL;
	int			rc;
	SPITupleTable *tt;
	uint64		n;

	if (claim_plan == NULL)
		claim_plan = Prepare("WITH c AS ("
							 " SELECT id FROM ec.http_requests"
							 "  WHERE finished_at IS NULL AND state OPERATOR(pg_catalog.=) 'pending'"
							 "    AND host OPERATOR(pg_catalog.=) $1 AND not_before OPERATOR(pg_catalog.<=) $2"
							 "  ORDER BY not_before, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
							 " UPDATE ec.http_requests r SET state = 'in_flight',"
							 "  attempts = r.attempts OPERATOR(pg_catalog.+) 1"
							 " FROM c WHERE r.id OPERATOR(pg_catalog.=) c.id"
							 " RETURNING r.id, r.method, r.url, r.headers, r.body, r.idempotency_key,"
							 "  r.attempts, r.max_attempts",
							 3, (Oid[]) {TEXTOID, TIMESTAMPTZOID, INT4OID});
	args[0] = CStringGetTextDatum(host);
	args[1] = TimestampTzGetDatum(now);
	args[2] = Int32GetDatum(limit);
	rc = SPI_execute_plan(claim_plan, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not claim requests: %s", SPI_result_code_string(rc));

	/* keep the result: loading keys below runs another query */
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		MemoryContext rcxt = AllocSetContextCreate(cxt, "equity_connect http request",
												   ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(rcxt);
		HttpReq    *r = palloc0(sizeof(HttpReq));
		bool		isnull;
		Datum		body;
		Jsonb	   *headers;

		r->cxt = rcxt;

		r->id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		r->method = SPI_getvalue(t, d, 2);
		r->url = SPI_getvalue(t, d, 3);
		headers = DatumGetJsonbP(SPI_getbinval(t, d, 4, &isnull));
		body = SPI_getbinval(t, d, 5, &isnull);
		r->has_body = !isnull;
		if (r->has_body)
		{
			bytea	   *b = DatumGetByteaPP(body);

			r->body_len = VARSIZE_ANY_EXHDR(b);
			r->body = palloc(r->body_len + 1);
			memcpy(r->body, VARDATA_ANY(b), r->body_len);
		}
		r->header_lines = list_make1(psprintf("Idempotency-Key: %s", SPI_getvalue(t, d, 6)));
		r->attempt = DatumGetInt32(SPI_getbinval(t, d, 7, &isnull));
		r->max_attempts = DatumGetInt32(SPI_getbinval(t, d, 8, &isnull));
		r->retry_after = -1;
		BuildHeaders(r, headers);
		MemoryContextSwitchTo(listcxt);
		reqs = lappend(reqs, r);
		MemoryContextSwitchTo(old);
	}
	return reqs;
}

static ArrayType *
MakeArray(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		len;
	bool		byval;
	char		align;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &len, &byval, &align);
	return construct_md_array(elems, nulls, 1, dims, lbs, type, len, byval, align);
}

/*
 * Record the outcomes of n finished attempts at once.  done[i] is set for
 * each one that needs no further flush: recorded, or its row gone.  A row
 * someone else holds locked stays for the next flush.  Returns how many
 * requests now wait for their callback.
 */
int
HttpStoreFlush(HttpReq **reqs, int n, bool *done)
{
	Datum	   *ids = palloc(n * sizeof(Datum));
	Datum	   *attempts = palloc(n * sizeof(Datum));
	Datum	   *status = palloc(n * sizeof(Datum));
	bool	   *status_n = palloc(n * sizeof(bool));
	Datum	   *headers = palloc(n * sizeof(Datum));
	Datum	   *bodies = palloc(n * sizeof(Datum));
	bool	   *bodies_n = palloc(n * sizeof(bool));
	Datum	   *trunc = palloc(n * sizeof(Datum));
	Datum	   *errors = palloc(n * sizeof(Datum));
	bool	   *errors_n = palloc(n * sizeof(bool));
	Datum	   *durations = palloc(n * sizeof(Datum));
	Datum	   *started = palloc(n * sizeof(Datum));
	Datum	   *states = palloc(n * sizeof(Datum));
	Datum	   *retry = palloc(n * sizeof(Datum));
	bool	   *retry_n = palloc(n * sizeof(bool));
	bool	   *no_nulls = palloc0(n * sizeof(bool));
	Datum		args[11];
	int			rc;
	int			callbacks = 0;
	int			missing = 0;

	for (int i = 0; i < n; i++)
	{
		HttpReq    *r = reqs[i];

		done[i] = false;
		ids[i] = Int64GetDatum(r->id);
		attempts[i] = Int32GetDatum(r->attempt);
		status[i] = Int32GetDatum(r->status);
		status_n[i] = r->status == 0;
		headers[i] = CStringGetTextDatum(r->headers_json ? r->headers_json : "{}");
		bodies_n[i] = r->status == 0;
		if (!bodies_n[i])
		{
			bytea	   *b = palloc(VARHDRSZ + r->resp_body.len);

			SET_VARSIZE(b, VARHDRSZ + r->resp_body.len);
			memcpy(VARDATA(b), r->resp_body.data, r->resp_body.len);
			bodies[i] = PointerGetDatum(b);
		}
		else
			bodies[i] = (Datum) 0;
		trunc[i] = BoolGetDatum(r->truncated);
		errors_n[i] = r->error == NULL;
		errors[i] = r->error ? CStringGetTextDatum(r->error) : (Datum) 0;
		durations[i] = Float8GetDatum(r->duration_ms);
		started[i] = TimestampTzGetDatum(r->started_at);
		states[i] = CStringGetTextDatum(r->verdict == EC_HTTP_SUCCEEDED ? "succeeded" :
										r->verdict == EC_HTTP_RETRY ? "pending" : "failed");
		retry_n[i] = r->verdict != EC_HTTP_RETRY;
		retry[i] = retry_n[i] ? (Datum) 0 : TimestampTzGetDatum(r->retry_at);
	}
	args[0] = PointerGetDatum(MakeArray(ids, no_nulls, n, INT8OID));
	args[1] = PointerGetDatum(MakeArray(attempts, no_nulls, n, INT4OID));
	args[2] = PointerGetDatum(MakeArray(status, status_n, n, INT4OID));
	args[3] = PointerGetDatum(MakeArray(headers, no_nulls, n, TEXTOID));
	args[4] = PointerGetDatum(MakeArray(bodies, bodies_n, n, BYTEAOID));
	args[5] = PointerGetDatum(MakeArray(trunc, no_nulls, n, BOOLOID));
	args[6] = PointerGetDatum(MakeArray(errors, errors_n, n, TEXTOID));
	args[7] = PointerGetDatum(MakeArray(durations, no_nulls, n, FLOAT8OID));
	args[8] = PointerGetDatum(MakeArray(started, no_nulls, n, TIMESTAMPTZOID));
	args[9] = PointerGetDatum(MakeArray(states, no_nulls, n, TEXTOID));
	args[10] = PointerGetDatum(MakeArray(retry, retry_n, n, TIMESTAMPTZOID));

	if (flush_plan == NULL)
		flush_plan = Prepare("WITH d AS ("
							 " SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
							 "  pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
							 "  pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11))"
							 "  AS d(id, attempt, status, headers, body, truncated, error, duration_ms, started_at, state, retry_at)),"
							 " l AS (SELECT d.* FROM d, LATERAL (SELECT 1 FROM ec.http_requests r"
							 "   WHERE r.id OPERATOR(pg_catalog.=) d.id AND r.state OPERATOR(pg_catalog.=) 'in_flight'"
							 "   AND r.attempts OPERATOR(pg_catalog.=) d.attempt FOR UPDATE SKIP LOCKED) x),"
							 " u AS (UPDATE ec.http_requests r SET"
							 "   state = d.state::ec.http_state, last_status = d.status, last_error = d.error,"
							 "   not_before = COALESCE(d.retry_at, r.not_before),"
							 "   finished_at = CASE WHEN d.state OPERATOR(pg_catalog.=) 'pending' THEN NULL ELSE pg_catalog.now() END,"
							 "   callback_pending = (d.state OPERATOR(pg_catalog.<>) 'pending' AND r.callback IS NOT NULL)"
							 "  FROM l d WHERE r.id OPERATOR(pg_catalog.=) d.id"
							 "  RETURNING r.id, r.state, r.purpose, r.method, r.url, r.idempotency_key, r.attempts, r.callback_pending),"
							 " i AS (INSERT INTO ec.http_responses (request_id, attempt, status, headers, body, body_truncated,"
							 "   error, duration_ms, started_at)"
							 "  SELECT d.id, d.attempt, d.status, d.headers::pg_catalog.jsonb, d.body, d.truncated, d.error,"
							 "   d.duration_ms::pg_catalog.numeric(12, 3), d.started_at FROM d JOIN u ON u.id OPERATOR(pg_catalog.=) d.id),"
							 " q AS (INSERT INTO ec.pipeline_dlq (source, kind, ref_id, payload, error, last_status, attempts)"
							 "  SELECT 'http', u.purpose, u.id, pg_catalog.jsonb_build_object('request_id', u.id, 'method', u.method,"
							 "   'url', u.url, 'idempotency_key', u.idempotency_key), d.error, d.status, u.attempts"
							 "  FROM u JOIN d ON d.id OPERATOR(pg_catalog.=) u.id WHERE u.state OPERATOR(pg_catalog.=) 'failed')"
							 " SELECT id, callback_pending FROM u",
							 11, (Oid[]) {INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, BYTEAARRAYOID,
		BOOLARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID});

	rc = SPI_execute_plan(flush_plan, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not record HTTP outcomes: %s", SPI_result_code_string(rc));
	for (uint64 k = 0; k < SPI_processed; k++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2, &isnull)))
			callbacks++;
		for (int i = 0; i < n; i++)
			if (reqs[i]->id == id)
				done[i] = true;
	}

	/* Not recorded: the row is locked by someone (retry later) or gone. */
	for (int i = 0; i < n; i++)
		if (!done[i])
			ids[missing++] = Int64GetDatum(reqs[i]->id);
	if (missing > 0)
	{
		Datum		a[1];

		if (still_plan == NULL)
			still_plan = Prepare("SELECT id FROM ec.http_requests WHERE id OPERATOR(pg_catalog.=) ANY ($1)"
								 " AND state OPERATOR(pg_catalog.=) 'in_flight' AND finished_at IS NULL",
								 1, (Oid[]) {INT8ARRAYOID});
		a[0] = PointerGetDatum(MakeArray(ids, no_nulls, missing, INT8OID));
		rc = SPI_execute_plan(still_plan, a, NULL, true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "could not check requests: %s", SPI_result_code_string(rc));
		for (int i = 0; i < n; i++)
		{
			bool		held = false;

			if (done[i])
				continue;
			for (uint64 k = 0; k < SPI_processed; k++)
			{
				bool		isnull;

				if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull)) == reqs[i]->id)
					held = true;
			}
			if (!held)
				done[i] = true;
		}
	}
	return callbacks;
}

/* On a clean stop: what was in flight goes back to the queue. */
void
HttpStoreRequeue(HttpReq **reqs, int n)
{
	Datum	   *ids = palloc(n * sizeof(Datum));
	bool	   *nulls = palloc0(n * sizeof(bool));
	Datum		args[1];
	int			rc;

	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(reqs[i]->id);
	args[0] = PointerGetDatum(MakeArray(ids, nulls, n, INT8OID));
	rc = SPI_execute_with_args("UPDATE ec.http_requests SET state = 'pending',"
							   " attempts = GREATEST(attempts OPERATOR(pg_catalog.-) 1, 0)"
							   " WHERE id OPERATOR(pg_catalog.=) ANY ($1) AND state OPERATOR(pg_catalog.=) 'in_flight'",
							   1, (Oid[]) {INT8ARRAYOID}, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not requeue requests: %s", SPI_result_code_string(rc));
}

/* Up to limit requests whose callback is due, oldest first. */
int
HttpStorePendingCallbacks(int limit, int64 *ids)
{
	Datum		args[1] = {Int32GetDatum(limit)};
	int			rc = SPI_execute_with_args("SELECT id FROM ec.http_requests WHERE callback_pending"
										   " ORDER BY id LIMIT $1",
										   1, (Oid[]) {INT4OID}, args, NULL, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not list callbacks: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed && i < (uint64) limit; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return (int) Min(SPI_processed, (uint64) limit);
}

/* The callback of one request, inside the current transaction. */
static void
CallCallback(int64 id)
{
	Datum		args[2] = {Int64GetDatum(id)};
	int			rc;
	char	   *callback;
	char	   *role_name;
	Oid			fn;
	Oid			role;
	char	   *sql;
	Oid			save_userid;
	int			save_sec;

	rc = SPI_execute_with_args("SELECT callback, enqueued_by FROM ec.http_requests"
							   " WHERE id OPERATOR(pg_catalog.=) $1 AND callback_pending FOR UPDATE",
							   1, (Oid[]) {INT8OID}, args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read callback: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		return;
	callback = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	role_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	if (callback != NULL)
	{
		fn = DatumGetObjectId(DirectFunctionCall1(to_regprocedure, CStringGetTextDatum(callback)));
		if (!OidIsValid(fn))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("callback function %s does not exist", callback)));
		role = get_role_oid(role_name, true);
		if (!OidIsValid(role))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\" that enqueued the request does not exist", role_name)));
		sql = psprintf("SELECT %s.%s($1)",
					   quote_identifier(get_namespace_name(get_func_namespace(fn))),
					   quote_identifier(get_func_name(fn)));

		/* as the role that enqueued the request, for at most the timeout */
		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (ec_http_callback_timeout_ms > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, ec_http_callback_timeout_ms);
		rc = SPI_execute_with_args(sql, 1, (Oid[]) {INT8OID}, args, NULL, false, 0);
		disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "callback %s did not run: %s", callback, SPI_result_code_string(rc));
	}
	rc = SPI_execute_with_args("UPDATE ec.http_requests SET callback_pending = false, callback_error = NULL"
							   " WHERE id OPERATOR(pg_catalog.=) $1",
							   1, (Oid[]) {INT8OID}, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not record callback: %s", SPI_result_code_string(rc));
}

/*
 * Run one request's callback in a transaction of its own.  The callback's
 * effects and the end of callback_pending commit together, so a crash
 * neither loses nor repeats a callback.  If it fails, its error is kept
 * on the request and it is not run again.
 */
void
HttpRunCallback(int64 id)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		HttpTxnBegin("running an HTTP callback");
		CallCallback(id);
		HttpTxnEnd();
	}
	PG_CATCH();
	{
		ErrorData  *ed;
		Datum		args[2];
		int			rc;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		QueryCancelPending = false;
		pgstat_report_activity(STATE_IDLE, NULL);

		ereport(WARNING,
				(errmsg("callback of HTTP request %lld failed: %s", (long long) id, ed->message)));

		HttpTxnBegin("recording an HTTP callback error");
		args[0] = Int64GetDatum(id);
		args[1] = CStringGetTextDatum(ed->message);
		rc = SPI_execute_with_args("UPDATE ec.http_requests SET callback_pending = false, callback_error = $2"
								   " WHERE id OPERATOR(pg_catalog.=) $1",
								   2, (Oid[]) {INT8OID, TEXTOID}, args, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "could not record callback error: %s", SPI_result_code_string(rc));
		HttpTxnEnd();
		FreeErrorData(ed);
	}
	PG_END_TRY();
}
