/*-------------------------------------------------------------------------
 *
 * http_enqueue.c
 *		ec.http_enqueue: put a request on the durable queue in the
 *		caller's transaction, and ec.http_host: the host key of a URL.
 *
 * The row is written as the owner of ec.http_requests (the API roles may
 * read the queue, not write it), after checking everything the worker
 * would otherwise find out too late: the method, the URL, each header,
 * API-key references and where they may go, the callback's signature and
 * the caller's right to execute it.  The worker's latch is set when the
 * transaction commits (http_init.c), never before: a rolled-back enqueue
 * is never sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "common/pgcompat.h"
#include "http/http.h"

#define EC_HTTP_MAX_URL			8192
#define EC_HTTP_MAX_HEADER		8192
#define EC_HTTP_MAX_KEY_LEN		255

PG_FUNCTION_INFO_V1(ec_http_enqueue);
PG_FUNCTION_INFO_V1(ec_http_host);
PG_FUNCTION_INFO_V1(ec_http_retry);

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr lookup_plan = NULL;

char *
HttpUrlHost(const char *url, const char **why)
{
	CURLU	   *u;
	CURLUcode	rc;
	char	   *scheme = NULL;
	char	   *user = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *result = NULL;

	*why = NULL;
	if (strlen(url) > EC_HTTP_MAX_URL)
	{
		*why = "The URL is longer than 8192 bytes.";
		return NULL;
	}
	u = curl_url();
	if (u == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK)
		*why = "libcurl cannot parse it.";
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		*why = "Only http and https URLs are sent.";
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		*why = "Credentials in the URL are not accepted; send them in a header.";
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
		*why = "The URL has no host.";
	else
	{
		bool		default_port = true;

		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			default_port = (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
				(strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
		if (strlen(host) + (port ? strlen(port) + 1 : 0) > EC_HOST_MAX_LEN)
			*why = "The host name is too long.";
		else
		{
			result = default_port ? pstrdup(host) : psprintf("%s:%s", host, port);
			for (char *c = result; *c; c++)
				*c = pg_ascii_tolower((unsigned char) *c);
		}
	}
	curl_free(scheme);
	curl_free(user);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return result;
}

/* RFC 9110 token characters (header names). */
static bool
IsTokenChar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A header value may not break the header block. */
static bool
IsSafeHeaderValue(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

static void
InvalidHeaderValue(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value of HTTP header \"%s\"", name),
			 errdetail("A header value is a string without line breaks, or an object {\"api_key\": \"<key id>\"}, {\"api_key\": \"<key id>\", \"in_body\": \"<placeholder>\"} or {\"sign\": \"webhook_out\"}.")));
}

/* The string member key of a nested object, or NULL. */
static JsonbValue *
ObjectMember(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

/*
 * A placeholder for a key in the body: printable ASCII without quotes or
 * backslashes (it stands inside a JSON string), 4 to 64 bytes.
 */
static bool
IsPlaceholder(const char *s, int len)
{
	if (len < 4 || len > 64)
		return false;
	for (int i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* How many times needle occurs in haystack (counting from each match's end). */
static int
CountOccurrences(const char *hay, size_t haylen, const char *needle, size_t len)
{
	int			n = 0;
	const char *p = hay;
	const char *end = hay + haylen;

	while ((size_t) (end - p) >= len && (p = memmem(p, end - p, needle, len)) != NULL)
	{
		n++;
		p += len;
	}
	return n;
}

/*
 * Check an {"api_key": ...} or {"sign": ...} header value: only known
 * members, strings, a key id the store accepts, and a URL the key may go to.
 * With "in_body", the key is not a header: the worker puts it in the body in
 * place of the placeholder, which must stand there exactly once.
 */
static void
CheckSpecialHeader(const char *name, JsonbContainer *obj, const char *url, const char *host,
				   const bytea *body, bool *in_body)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *key;
	JsonbValue *sign;
	int			members = 0;

	if (!JsonContainerIsObject(obj))
		InvalidHeaderValue(name);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			members++;
			if (!((v.val.string.len == 7 && strncmp(v.val.string.val, "api_key", 7) == 0) ||
				  (v.val.string.len == 6 && strncmp(v.val.string.val, "prefix", 6) == 0) ||
				  (v.val.string.len == 7 && strncmp(v.val.string.val, "in_body", 7) == 0) ||
				  (v.val.string.len == 4 && strncmp(v.val.string.val, "sign", 4) == 0)))
				InvalidHeaderValue(name);
		}
		else if (tok == WJB_VALUE && v.type != jbvString)
			InvalidHeaderValue(name);
	}

	key = ObjectMember(obj, "api_key");
	sign = ObjectMember(obj, "sign");
	if ((key == NULL) == (sign == NULL))
		InvalidHeaderValue(name);

	if (sign != NULL)
	{
		if (members != 1 ||
			!(sign->val.string.len == 11 && strncmp(sign->val.string.val, "webhook_out", 11) == 0))
			InvalidHeaderValue(name);
		if (pg_strcasecmp(name, "X-Signature") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("only header \"X-Signature\" can be signed"),
					 errdetail("The worker adds X-Timestamp, X-Content-SHA256 and X-Signature when it sends the request.")));
	}
	else
	{
		char	   *id = pnstrdup(key->val.string.val, key->val.string.len);
		JsonbValue *prefix = ObjectMember(obj, "prefix");
		JsonbValue *placeholder = ObjectMember(obj, "in_body");
		char	   *base;

		if (key->val.string.len < 1 || key->val.string.len > 64)
			InvalidHeaderValue(name);
		for (char *c = id; *c; c++)
			if (!(isalnum((unsigned char) *c) || *c == '.' || *c == '_' || *c == '-'))
				InvalidHeaderValue(name);
		if (prefix != NULL &&
			(prefix->val.string.len > 64 ||
			 !IsSafeHeaderValue(prefix->val.string.val, prefix->val.string.len)))
			InvalidHeaderValue(name);
		if (placeholder != NULL)
		{
			int			n;

			if (prefix != NULL ||
				!IsPlaceholder(placeholder->val.string.val, placeholder->val.string.len))
				InvalidHeaderValue(name);
			n = body == NULL ? 0 :
				CountOccurrences(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
								 placeholder->val.string.val, placeholder->val.string.len);
			if (n != 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the body must hold the placeholder of API key \"%s\" exactly once", id),
						 errdetail("Header \"%s\" puts the key in the body in place of \"%.*s\", found %d times.",
								   name, placeholder->val.string.len, placeholder->val.string.val, n)));
			if (*in_body)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("only one API key can go in the body of a request")));
			*in_body = true;
		}

		base = HttpApiKeyBaseUrl(id);
		if (base == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("API key \"%s\" is not bound to a URL", id),
					 errhint("Bind it in \"ec.http_api_key_urls\"; keys \"instantly\" and \"vapi\" go to \"ec.instantly_base_url\" and \"ec.vapi_base_url\".")));
		if (!HttpUrlUnderBase(url, base))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("API key \"%s\" may not be sent to host \"%s\"", id, host),
					 errdetail("The key is sent only to URLs under its bound base URL.")));
	}
}

/*
 * Validate the headers object; returns whether it asks for signing.
 * A signed request's signature is over the body as enqueued, so it cannot
 * also carry a key in its body.
 */
static bool
CheckHeaders(Jsonb *headers, const char *url, const char *host, const bytea *body)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;
	bool		sign = false;
	bool		in_body = false;
	static const char *const reserved[] = {
		"idempotency-key", "content-length", "transfer-encoding", "connection",
		"expect", "host", "te", "upgrade", "keep-alive", "proxy-connection"
	};

	if (!JB_ROOT_IS_OBJECT(headers) || JB_ROOT_IS_SCALAR(headers))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("HTTP headers must be a JSON object")));

	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			if (v.val.string.len == 0 || v.val.string.len > 256)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid HTTP header name \"%s\"", name)));
			for (int i = 0; i < v.val.string.len; i++)
				if (!IsTokenChar(name[i]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid HTTP header name \"%s\"", name)));
			for (int i = 0; i < lengthof(reserved); i++)
				if (pg_strcasecmp(name, reserved[i]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("header \"%s\" is set by the HTTP queue", name),
							 pg_strcasecmp(name, "idempotency-key") == 0 ?
							 errhint("Pass the key as the idempotency_key argument.") : 0));
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type == jbvString)
			{
				if (v.val.string.len > EC_HTTP_MAX_HEADER ||
					!IsSafeHeaderValue(v.val.string.val, v.val.string.len))
					InvalidHeaderValue(name);
			}
			else if (v.type == jbvBinary)
			{
				CheckSpecialHeader(name, v.val.binary.data, url, host, body, &in_body);
				if (pg_strcasecmp(name, "X-Signature") == 0)
					sign = true;
			}
			else
				InvalidHeaderValue(name);
		}
	}
	if (sign && in_body)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signed request cannot carry an API key in its body"),
				 errdetail("The signature covers the body as it is sent.")));
	return sign;
}

/* The headers a signed request gets from the worker are its alone. */
static void
CheckSignedHeaders(Jsonb *headers)
{
	static const char *const names[] = {"X-Timestamp", "X-Content-SHA256"};
	JsonbIterator *it = JsonbIteratorInit(&headers->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY)
			for (int i = 0; i < lengthof(names); i++)
				if (v.val.string.len == (int) strlen(names[i]) &&
					pg_strncasecmp(v.val.string.val, names[i], v.val.string.len) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("header \"%s\" is set by the HTTP queue", names[i]),
							 errdetail("A signed request gets X-Timestamp, X-Content-SHA256 and X-Signature when it is sent.")));
}

/* A version 4 UUID as text: the key the queue makes when none is given. */
static char *
RandomKey(void)
{
	unsigned char b[16];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
					b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void
CheckIdempotencyKey(const char *key)
{
	size_t		len = strlen(key);

	if (len < 1 || len > EC_HTTP_MAX_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idempotency key must be 1 to %d characters long", EC_HTTP_MAX_KEY_LEN)));
	for (size_t i = 0; i < len; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid idempotency key \"%s\"", key),
					 errdetail("An idempotency key is printable ASCII without spaces.")));
}

/*
 * The callback takes one bigint (the request id), and the caller may
 * execute it.  Returns its regprocedure text, which is what is stored.
 */
static char *
CheckCallback(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", fn)));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	ok = proc->prokind == PROKIND_FUNCTION && proc->pronargs == 1 &&
		proc->proargtypes.values[0] == INT8OID;
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("callback \"%s\" must be a function taking one bigint", format_procedure(fn)),
				 errdetail("The callback is called with the request id once the request has succeeded or failed.")));
	if (EcProcAclCheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", format_procedure(fn))));
	return format_procedure_qualified(fn);
}

static Oid
QueueOwner(void)
{
	Oid			nsp = get_namespace_oid("ec", false);
	Oid			rel = get_relname_relid("http_requests", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"ec.http_requests\" does not exist")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", rel);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static void
PreparePlans(void)
{
	if (insert_plan == NULL)
	{
		Oid			types[11] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, BYTEAOID, TEXTOID,
		TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTOID, NAMEOID};
		SPIPlanPtr	p = SPI_prepare("INSERT INTO ec.http_requests (method, url, host, headers, body, purpose,"
									" idempotency_key, max_attempts, not_before, callback, enqueued_by)"
									" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
									" ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
									11, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		insert_plan = p;
	}
	if (lookup_plan == NULL)
	{
		Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID};
		SPIPlanPtr	p = SPI_prepare("SELECT id, method OPERATOR(pg_catalog.=) $2 AND url OPERATOR(pg_catalog.=) $3"
									" AND body IS NOT DISTINCT FROM $4 AND purpose OPERATOR(pg_catalog.=) $5"
									" FROM ec.http_requests WHERE idempotency_key OPERATOR(pg_catalog.=) $1",
									5, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		lookup_plan = p;
	}
}

/*
 * ec.http_enqueue(method, url, headers, body, purpose, idempotency_key,
 * max_attempts, not_before, callback) returns bigint: the request id.
 */
Datum
ec_http_enqueue(PG_FUNCTION_ARGS)
{
	char	   *method;
	char	   *url;
	char	   *host;
	const char *why;
	Jsonb	   *headers;
	char	   *purpose;
	char	   *key;
	int32		max_attempts;
	TimestampTz not_before;
	char	   *callback = NULL;
	Datum		values[11];
	char		nulls[11];
	Oid			save_userid;
	int			save_sec;
	Oid			owner;
	int64		id = 0;
	bool		inserted = false;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method, url and purpose of an HTTP request cannot be null")));

	method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (char *c = method; *c; c++)
		*c = pg_ascii_toupper((unsigned char) *c);
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
		strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0 && strcmp(method, "HEAD") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported HTTP method \"%s\"", method),
				 errhint("Use GET, POST, PUT, PATCH, DELETE or HEAD.")));

	url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strlen(url) > EC_HTTP_MAX_URL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("URL is too long"),
				 errdetail("A URL is at most %d bytes.", EC_HTTP_MAX_URL)));
	host = HttpUrlHost(url, &why);
	if (host == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid URL \"%s\"", url),
				 errdetail("%s", why)));

	headers = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	if (headers != NULL &&
		CheckHeaders(headers, url, host, PG_ARGISNULL(3) ? NULL : PG_GETARG_BYTEA_PP(3)))
		CheckSignedHeaders(headers);

	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		if (!PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s request cannot have a body", method)));

	purpose = text_to_cstring(PG_GETARG_TEXT_PP(4));
	{
		bool		ok = purpose[0] >= 'a' && purpose[0] <= 'z' && strlen(purpose) <= 63;

		for (char *c = purpose; *c && ok; c++)
			ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid purpose \"%s\"", purpose),
					 errdetail("A purpose is a lower-case word such as \"instantly_add_leads\" (letters, digits, underscores).")));
	}

	if (PG_ARGISNULL(5))
		key = RandomKey();
	else
	{
		key = text_to_cstring(PG_GETARG_TEXT_PP(5));
		CheckIdempotencyKey(key);
	}

	max_attempts = PG_ARGISNULL(6) ? 8 : PG_GETARG_INT32(6);
	if (max_attempts < 1 || max_attempts > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_attempts must be between 1 and 100")));

	not_before = PG_ARGISNULL(7) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(7);
	if (TIMESTAMP_NOT_FINITE(not_before))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("not_before must be a finite time")));

	if (!PG_ARGISNULL(8))
		callback = CheckCallback(PG_GETARG_OID(8));

	values[0] = CStringGetTextDatum(method);
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(host);
	values[3] = headers ? JsonbPGetDatum(headers) : DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	values[4] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	values[5] = CStringGetTextDatum(purpose);
	values[6] = CStringGetTextDatum(key);
	values[7] = Int32GetDatum(max_attempts);
	values[8] = TimestampTzGetDatum(not_before);
	values[9] = callback ? CStringGetTextDatum(callback) : (Datum) 0;
	values[10] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	memset(nulls, ' ', sizeof(nulls));
	if (PG_ARGISNULL(3))
		nulls[4] = 'n';
	if (callback == NULL)
		nulls[9] = 'n';

	/* the queue is written as its owner, as pg_cron writes cron.job */
	owner = QueueOwner();
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PreparePlans();
	if (SPI_execute_plan(insert_plan, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert into ec.http_requests");
	if (SPI_processed == 1)
	{
		bool		isnull;

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		inserted = true;
	}
	else
	{
		/* the key is taken: the same request again is the same request */
		Datum		lv[5] = {values[6], values[0], values[1], values[4], values[5]};
		char		ln[5] = {' ', ' ', ' ', nulls[4], ' '};
		bool		isnull;
		bool		same;

		/* not read-only: a fresh snapshot sees the row a concurrent commit made */
		if (SPI_execute_plan(lookup_plan, lv, ln, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look up idempotency key");
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("the request with idempotency key \"%s\" changed concurrently", key),
					 errhint("Retry the transaction.")));
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		same = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (isnull || !same)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("idempotency key \"%s\" belongs to another request", key),
					 errdetail("Request %lld was enqueued with this key and a different method, URL, body or purpose.",
							   (long long) id)));
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);

	if (inserted)
		HttpWakeOnCommit();
	PG_RETURN_INT64(id);
}

/* ec.http_host(url text) returns text: the key per-host limits use. */
Datum
ec_http_host(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *why;
	char	   *host = HttpUrlHost(url, &why);

	if (host == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid URL \"%s\"", url),
				 errdetail("%s", why)));
	PG_RETURN_TEXT_P(cstring_to_text(host));
}

/*
 * ec.http_retry(request_id bigint, extra_attempts integer) returns boolean:
 * send a failed request again (extra_attempts more attempts) and resolve
 * its dead letter; false when the request is not failed.
 */
Datum
ec_http_retry(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int32		extra = PG_GETARG_INT32(1);
	Datum		args[2];
	Oid			save_userid;
	int			save_sec;
	bool		requeued;

	if (extra < 1 || extra > 99)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("extra_attempts must be between 1 and 99")));
	args[0] = Int64GetDatum(id);
	args[1] = Int32GetDatum(extra);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(QueueOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE ec.http_requests SET state = 'pending',"
							  " max_attempts = LEAST(100, attempts OPERATOR(pg_catalog.+) $2),"
							  " not_before = pg_catalog.now(), finished_at = NULL, last_status = NULL, last_error = NULL,"
							  " callback_pending = false, callback_error = NULL"
							  " WHERE id OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'failed'"
							  " AND attempts OPERATOR(pg_catalog.<) 100",
							  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not requeue request");
	requeued = SPI_processed == 1;
	if (requeued &&
		SPI_execute_with_args("UPDATE ec.pipeline_dlq SET resolved_at = pg_catalog.now(), resolution = 'retried'"
							  " WHERE source OPERATOR(pg_catalog.=) 'http' AND ref_id OPERATOR(pg_catalog.=) $1"
							  " AND resolved_at IS NULL",
							  1, (Oid[]) {INT8OID}, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not resolve the dead letter");
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	if (requeued)
		HttpWakeOnCommit();
	PG_RETURN_BOOL(requeued);
}
