/*-------------------------------------------------------------------------
 *
 * ingest.c
 *		ec.ingest_upload and ec.ingest_unsigned: one upload from body to
 *		staged rows and an answer {status, reason, counts}.
 *
 * Order of work, each step answering for itself:
 *   400 unknown_source        the source names no profile
 *   (signed uploads only) the signing room's verdict: 400/401/409/413/429
 *   the upload row (ec.ingest_uploads), recorded whatever follows
 *   422 <reason>              the body cannot be read (csvscan.h lists the
 *                             reasons; also too_many_columns, invalid_json,
 *                             no_records, no_rows, all_rows_rejected)
 *   200 ok / some_rows_rejected
 *
 * Parsing and staging run in a subtransaction.  An unreadable body found
 * half way (a format error COPY or jsonb_in raises) rolls back every row
 * staged so far and is answered 422; any other error is not the sender's
 * doing and is raised.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "core/hmacsha256.h"
#include "ingest/ingest.h"
#include "signing/signing.h"
#include "common/jsonb_push.h"
#include "common/subxact.h"

int			ec_ingest_max_columns = 1000;
int			ec_ingest_rejected_shown = 20;
int			ec_ingest_batch_rows = 5000;
int			ec_ingest_dedupe = INGEST_DEDUPE_INLINE;

static const struct config_enum_entry ingest_dedupe_options[] = {
	{"inline", INGEST_DEDUPE_INLINE, false},
	{"deferred", INGEST_DEDUPE_DEFERRED, false},
	{NULL, 0, false}
};

bool		ingest_in_parser = false;

/* Settings of uploads. */
void
IngestInit(void)
{
	DefineCustomIntVariable("ec.ingest_max_columns",
							"Most fields a record of an uploaded CSV may have.",
							"A body with a wider record is refused (422 too_many_columns) before it is parsed.",
							&ec_ingest_max_columns,
							1000, 1, 100000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.ingest_rejected_shown",
							"How many rejected rows an upload's answer lists with their reasons.",
							"Every rejected row is in ec.leads_staging; the answer shows the first ones.",
							&ec_ingest_rejected_shown,
							20, 0, 10000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.ingest_batch_rows",
							"Rows an upload stages per statement.",
							NULL,
							&ec_ingest_batch_rows,
							5000, 1, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("ec.ingest_dedupe",
							 "When an upload's valid rows are deduplicated into ec.leads.",
							 "inline: within the upload; deferred: the upload stages and answers, "
							 "ec.ingest_finish(upload_id) deduplicates later (a job, or a session without a statement timeout).",
							 &ec_ingest_dedupe,
							 INGEST_DEDUPE_INLINE, ingest_dedupe_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* Progress: COPY's slots against ec.leads_staging, plus ours (ingest.h). */

static int64 progress_upload_id = 0;
static int64 progress_bytes = 0;

void
IngestProgressStart(int64 upload_id, int phase, int64 bytes_total)
{
	const int	index[] = {PROGRESS_COPY_COMMAND, PROGRESS_COPY_TYPE, PROGRESS_COPY_BYTES_TOTAL,
	INGEST_PROGRESS_UPLOAD_ID, INGEST_PROGRESS_PHASE};
	int64		val[5];
	Oid			relid = get_relname_relid("leads_staging", get_namespace_oid("ec", false));

	progress_upload_id = upload_id;
	progress_bytes = bytes_total;
	val[0] = PROGRESS_COPY_COMMAND_FROM;
	val[1] = PROGRESS_COPY_TYPE_CALLBACK;
	val[2] = bytes_total;
	val[3] = upload_id;
	val[4] = phase;
	pgstat_progress_start_command(PROGRESS_COMMAND_COPY, relid);
	pgstat_progress_update_multi_param(5, index, val);
}

/*
 * After COPY's own report ended (EndCopyFrom ends it), the upload's goes
 * on: the same slots again, the body read.
 */
void
IngestProgressResume(int phase, int64 rows)
{
	IngestProgressStart(progress_upload_id, phase, progress_bytes);
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, progress_bytes);
	pgstat_progress_update_param(INGEST_PROGRESS_ROWS, rows);
}

void
IngestProgressPhase(int phase)
{
	const int	index[] = {INGEST_PROGRESS_UPLOAD_ID, INGEST_PROGRESS_PHASE};
	int64		val[2];

	val[0] = progress_upload_id;
	val[1] = phase;
	pgstat_progress_update_multi_param(2, index, val);
}

/* The answer. */

static void
AnsMs(JsonbParseState **st, const char *key, double ms)
{
	JsonbValue	v;
	char		buf[32];

	snprintf(buf, sizeof(buf), "%.3f", ms);
	EcJsonbPushKey(st, key);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	pushJsonbValue(st, WJB_VALUE, &v);
}

static Jsonb *
AnsSimple(int status, const char *reason, const char *detail)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	EcJsonbPushInt(&st, "status", status);
	EcJsonbPushText(&st, "reason", reason);
	if (detail != NULL)
		EcJsonbPushText(&st, "detail", detail);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* csv or json: the content type when given, else the first character. */
static const char *
IngestFormat(const char *body, size_t len, const char *content_type)
{
	size_t		i = 0;

	if (content_type != NULL)
	{
		if (pg_strncasecmp(content_type, "application/json", 16) == 0 ||
			strstr(content_type, "+json") != NULL)
			return "json";
		if (pg_strncasecmp(content_type, "text/csv", 8) == 0 ||
			pg_strncasecmp(content_type, "text/plain", 10) == 0 ||
			pg_strncasecmp(content_type, "application/csv", 15) == 0)
			return "csv";
	}
	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	return (i < len && (body[i] == '[' || body[i] == '{')) ? "json" : "csv";
}

/* The Content-Type header of a headers object, any case; NULL when absent. */
static char *
IngestContentType(Jsonb *headers)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	bool		match = false;

	if (headers == NULL || !JB_ROOT_IS_OBJECT(headers))
		return NULL;
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			match = v.val.string.len == 12 &&
				pg_strncasecmp(v.val.string.val, "content-type", 12) == 0;
		else if (tok == WJB_VALUE && match && v.type == jbvString)
			return pnstrdup(v.val.string.val, v.val.string.len);
	}
	return NULL;
}

/* Is this error the body's fault (answered 422) rather than ours (raised)? */
static bool
IngestBodyError(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

static int64
IngestNewUpload(int64 reserved_id, const char *source, const char *format, bytea *body,
				const unsigned char *sha, const char *key_id, inet *client_ip)
{
	Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, INETOID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bytea	   *shab = NULL;
	bool		isnull;

	values[0] = Int64GetDatum(reserved_id);
	if (reserved_id <= 0)
		nulls[0] = 'n';
	values[1] = CStringGetTextDatum(source);
	values[2] = CStringGetTextDatum(format);
	if (sha != NULL)
	{
		shab = palloc(VARHDRSZ + EC_SHA256_LEN);
		SET_VARSIZE(shab, VARHDRSZ + EC_SHA256_LEN);
		memcpy(VARDATA(shab), sha, EC_SHA256_LEN);
		values[3] = PointerGetDatum(shab);
	}
	else
		nulls[3] = 'n';
	if (key_id != NULL && key_id[0] != '\0')
		values[4] = CStringGetTextDatum(key_id);
	else
		nulls[4] = 'n';
	values[5] = PointerGetDatum(client_ip);
	if (client_ip == NULL)
		nulls[5] = 'n';
	values[6] = Int64GetDatum((int64) VARSIZE_ANY_EXHDR(body));
	if (SPI_execute_with_args("INSERT INTO ec.ingest_uploads"
							  " (id, source, format, content_sha256, key_id, client_ip, byte_count)"
							  " VALUES (COALESCE($1, pg_catalog.nextval('ec.ingest_uploads_id_seq'::pg_catalog.regclass)),"
							  " $2, $3, $4, $5, $6, $7) RETURNING id",
							  7, types, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record the upload");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
IngestFinishUpload(int64 upload_id, int status, const char *reason, Jsonb *answer, double ms,
				   const char *event)
{
	Oid			types[6] = {INT8OID, INT4OID, TEXTOID, JSONBOID, FLOAT8OID, TEXTOID};
	Datum		values[6];

	values[0] = Int64GetDatum(upload_id);
	values[1] = Int32GetDatum(status);
	values[2] = CStringGetTextDatum(reason);
	values[3] = JsonbPGetDatum(answer);
	values[4] = Float8GetDatum(ms);
	values[5] = CStringGetTextDatum(event);
	if (SPI_execute_with_args("UPDATE ec.ingest_uploads SET status = $2, reason = $3, counts = $4,"
							  " finished_at = pg_catalog.clock_timestamp(),"
							  " duration_ms = COALESCE(duration_ms, 0) OPERATOR(pg_catalog.+) $5"
							  " WHERE id OPERATOR(pg_catalog.=) $1",
							  5, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the upload's answer");
	if (SPI_execute_with_args("INSERT INTO ec.pipeline_events (event_type, ok, upload_id, duration_ms, detail)"
							  " VALUES ($6, $2 OPERATOR(pg_catalog.=) 200, $1, $5, $4)",
							  6, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the upload event");
}

/*
 * Rows of this upload that became a lead an earlier row of the same file
 * already became: marked duplicate_in_file (they were merged into it).
 * For ec.ingest_finish, after identity wrote the lead ids back; an inline
 * upload marks them as it stages (IngestStagerDuplicates).
 */
static int64
IngestMarkDuplicates(int64 upload_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(upload_id);
	if (SPI_execute_with_args("UPDATE ec.leads_staging s SET validation_status = 'duplicate_in_file'"
							  " FROM (SELECT x.id, pg_catalog.row_number() OVER (PARTITION BY x.lead_id ORDER BY x.row_number) AS n"
							  "  FROM ec.leads_staging x WHERE x.upload_id OPERATOR(pg_catalog.=) $1"
							  "  AND x.lead_id IS NOT NULL) d"
							  " WHERE s.id OPERATOR(pg_catalog.=) d.id AND d.n OPERATOR(pg_catalog.>) 1",
							  1, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark duplicate rows");
	return (int64) SPI_processed;
}

/*
 * Leads of this upload without a verified contact, to the skip-trace router
 * (ec.skiptrace_queue): requests go out through the HTTP queue after the
 * upload commits.  A router that fails (a provider turned on without its key
 * bound, say) does not fail the upload: the answer says so and an event
 * records it.  Returns the number queued, or -1.
 */
static int64
IngestSkiptrace(int64 upload_id, char **error)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	int64		queued = 0;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	*error = NULL;
	if (SPI_execute("SELECT 1 FROM ec.skiptrace_providers WHERE enabled LIMIT 1", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ec.skiptrace_providers");
	if (SPI_processed == 0)
		return 0;

	IngestProgressPhase(INGEST_PHASE_SKIPTRACE);
	values[0] = Int64GetDatum(upload_id);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT ec.skiptrace_queue(ARRAY(SELECT DISTINCT s.lead_id FROM ec.leads_staging s"
								  " WHERE s.upload_id OPERATOR(pg_catalog.=) $1 AND s.lead_id IS NOT NULL), $1)",
								  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not queue skip-traces");
		queued = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		EcSubxactCommit(oldcxt, oldowner);
	}
	PG_CATCH();
	{
		ErrorData  *edata = EcSubxactAbort(oldcxt, oldowner);

		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
		*error = pstrdup(edata->message);
		FreeErrorData(edata);
		queued = -1;
	}
	PG_END_TRY();

	if (*error != NULL)
	{
		Oid			etypes[2] = {INT8OID, TEXTOID};
		Datum		evalues[2];

		evalues[0] = Int64GetDatum(upload_id);
		evalues[1] = CStringGetTextDatum(*error);
		if (SPI_execute_with_args("INSERT INTO ec.pipeline_events (event_type, ok, upload_id, detail)"
								  " VALUES ('skiptrace_failed', false, $1, pg_catalog.jsonb_build_object('error', $2))",
								  2, etypes, evalues, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the skip-trace failure");
	}
	return queued;
}

/* The first rejected rows of the upload: [{"row": n, "reasons": [...]}]. */
static void
IngestPushRejectedRows(int64 upload_id, int64 rejected, JsonbParseState **ps)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	uint64		i;

	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	if (rejected > 0 && ec_ingest_rejected_shown > 0)
	{
		values[0] = Int64GetDatum(upload_id);
		values[1] = Int32GetDatum(ec_ingest_rejected_shown);
		if (SPI_execute_with_args("SELECT s.row_number, s.reasons FROM ec.leads_staging s"
								  " WHERE s.upload_id OPERATOR(pg_catalog.=) $1"
								  " AND s.validation_status OPERATOR(pg_catalog.=) 'rejected'"
								  " ORDER BY s.row_number LIMIT $2",
								  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the rejected rows");
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int32		row = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
			ArrayType  *arr = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
			Datum	   *elems;
			bool	   *nulls;
			int			n,
						k;

			pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
			EcJsonbPushInt(ps, "row", row);
			EcJsonbPushKey(ps, "reasons");
			pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (k = 0; k < n; k++)
			{
				JsonbValue	v;
				char	   *r = TextDatumGetCString(elems[k]);

				v.type = jbvString;
				v.val.string.val = r;
				v.val.string.len = strlen(r);
				pushJsonbValue(ps, WJB_ELEM, &v);
			}
			pushJsonbValue(ps, WJB_END_ARRAY, NULL);
			pushJsonbValue(ps, WJB_END_OBJECT, NULL);
		}
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

/*
 * Parse and stage the body in a subtransaction; a body error found on the
 * way becomes res->reason with nothing staged.
 */
static void
IngestParseAndStage(const char *body, size_t len, const char *format, const IngestProfile *profile,
					IngestStager *st, IngestParseResult *res)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Relation	staging = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		if (strcmp(format, "csv") == 0)
		{
			staging = table_open(get_relname_relid("leads_staging", get_namespace_oid("ec", false)),
								 RowExclusiveLock);
			IngestParseCsv(body, len, profile, staging, st, res);
			table_close(staging, NoLock);
		}
		else
			IngestParseJson(body, len, profile, st, res);
		if (res->reason == NULL)
		{
			IngestProgressPhase(INGEST_PHASE_STAGING);
			IngestStagerFinish(st);
		}
		EcSubxactCommit(oldcxt, oldowner);
	}
	PG_CATCH();
	{
		ErrorData  *edata = EcSubxactAbort(oldcxt, oldowner);

		if (!ingest_in_parser || !IngestBodyError(edata->sqlerrcode))
		{
			ingest_in_parser = false;
			ReThrowError(edata);
		}
		ingest_in_parser = false;
		memset(res, 0, sizeof(*res));
		res->reason = strcmp(format, "json") == 0 ? "invalid_json" : "malformed_csv";
		res->detail = edata->context != NULL
			? psprintf("%s (%s)", edata->message, edata->context) : pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/* A copy of an answer in the caller's memory (SPI_finish frees SPI's). */
static Jsonb *
IngestCopyOut(Jsonb *answer, MemoryContext caller)
{
	Jsonb	   *copy = MemoryContextAlloc(caller, VARSIZE(answer));

	memcpy(copy, answer, VARSIZE(answer));
	return copy;
}

/* Milliseconds since t0. */
static double
IngestMsSince(TimestampTz t0)
{
	long		secs;
	int			usecs;

	TimestampDifference(t0, GetCurrentTimestamp(), &secs, &usecs);
	return (double) secs * 1000.0 + (double) usecs / 1000.0;
}

/* What an upload's rows came to, for its answer. */
typedef struct IngestOutcome
{
	int64		received;
	int64		rejected;		/* by the checks here and by identity */
	bool		deduplicated;	/* false: rows wait for ec.ingest_finish */
	IngestUpsertCounts counts;
	int64		duplicates;
	int64		skiptraced;		/* -1: the router failed (skiptrace_error) */
	char	   *skiptrace_error;
} IngestOutcome;

/* 422 when nothing could be read or every row was refused, else 200. */
static int
IngestStatus(const IngestParseResult *res, const IngestOutcome *out, const char **reason)
{
	if (res->reason != NULL)
	{
		*reason = res->reason;
		return 422;
	}
	if (out->rejected == out->received)
	{
		*reason = "all_rows_rejected";
		return 422;
	}
	*reason = out->rejected > 0 ? "some_rows_rejected" : "ok";
	return 200;
}

static Jsonb *
IngestAnswer(int status, const char *reason, const IngestParseResult *res, int64 upload_id,
			 const char *source, const char *format, const IngestOutcome *out, double ms)
{
	JsonbParseState *ps = NULL;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	EcJsonbPushInt(&ps, "status", status);
	EcJsonbPushText(&ps, "reason", reason);
	if (res != NULL && res->detail != NULL)
		EcJsonbPushText(&ps, "detail", res->detail);
	if (res != NULL && res->line > 0)
		EcJsonbPushInt(&ps, "line", res->line);
	EcJsonbPushInt(&ps, "upload_id", upload_id);
	EcJsonbPushText(&ps, "source", source);
	EcJsonbPushText(&ps, "format", format);
	if (res == NULL || res->reason == NULL)
	{
		EcJsonbPushInt(&ps, "received", out->received);
		if (out->deduplicated)
		{
			EcJsonbPushInt(&ps, "inserted", out->counts.inserted);
			EcJsonbPushInt(&ps, "merged", out->counts.merged);
			EcJsonbPushInt(&ps, "unchanged", out->counts.unchanged);
		}
		else
			EcJsonbPushText(&ps, "dedupe", "deferred");
		EcJsonbPushInt(&ps, "rejected", out->rejected);
		if (out->deduplicated)
		{
			EcJsonbPushInt(&ps, "duplicate_in_file", out->duplicates);
			EcJsonbPushInt(&ps, "conflicts", out->counts.conflicts);
			if (out->skiptraced >= 0)
				EcJsonbPushInt(&ps, "skiptrace_queued", out->skiptraced);
			else
				EcJsonbPushText(&ps, "skiptrace_error", out->skiptrace_error);
		}
		EcJsonbPushKey(&ps, "rejected_rows");
		IngestPushRejectedRows(upload_id, out->rejected, &ps);
	}
	AnsMs(&ps, "duration_ms", ms);
	return JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));
}

/*
 * One upload.  verify: check the signature first (ec.ingest_upload);
 * otherwise the caller vouches for the body (ec.ingest_unsigned).
 */
static Jsonb *
IngestRun(bytea *body, Jsonb *headers, const char *source, inet *client_ip,
		  const char *content_type, bool verify)
{
	TimestampTz t0 = GetCurrentTimestamp();
	MemoryContext caller = CurrentMemoryContext;
	IngestProfile *profile;
	const char *data;
	size_t		len;
	const char *format;
	unsigned char sha[EC_SHA256_LEN];
	char		key_id[65] = "";
	int64		reserved_id = 0;
	int64		upload_id;
	IngestStager *st;
	IngestParseResult res;
	IngestOutcome out;
	int			status;
	const char *reason;
	Jsonb	   *answer;
	double		ms;

	if (source == NULL)
		return AnsSimple(400, "unknown_source", "No source profile was named.");
	if (body == NULL)
		return AnsSimple(400, "missing_body", NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	profile = IngestLoadProfile(source);
	if (profile == NULL)
	{
		SPI_finish();
		return AnsSimple(400, "unknown_source",
						 psprintf("No profile \"%s\" in ec.ingest_profiles.", source));
	}

	data = VARDATA_ANY(body);
	len = VARSIZE_ANY_EXHDR(body);
	if (verify)
	{
		/* signature, window, replay guard, rate limit, size (issue #5) */
		EcRequestVerdict verdict;
		Jsonb	   *refusal;

		IngestProgressStart(0, INGEST_PHASE_VERIFYING, (int64) len);
		refusal = EcVerifyRequest(body, headers, client_ip, true, &verdict);
		if (verdict.status != 200)
		{
			refusal = IngestCopyOut(refusal, caller);
			pgstat_progress_end_command();
			SPI_finish();
			return refusal;
		}
		memcpy(sha, verdict.content_sha256, EC_SHA256_LEN);
		strlcpy(key_id, verdict.key_id, sizeof(key_id));
		reserved_id = verdict.upload_id;
	}
	else if (ec_sha256(data, len, sha) != 0)
		elog(ERROR, "could not compute SHA-256");

	if (content_type == NULL)
		content_type = IngestContentType(headers);
	format = IngestFormat(data, len, content_type);
	upload_id = IngestNewUpload(reserved_id, source, format, body, sha, key_id, client_ip);
	IngestProgressStart(upload_id, INGEST_PHASE_PARSING, (int64) len);

	st = IngestStagerBegin(upload_id, source, ec_ingest_dedupe == INGEST_DEDUPE_INLINE);
	IngestParseAndStage(data, len, format, profile, st, &res);

	memset(&out, 0, sizeof(out));
	if (res.reason == NULL)
	{
		out.received = IngestStagerRows(st);
		out.counts = *IngestStagerCounts(st);
		out.rejected = IngestStagerRejected(st) + out.counts.rejected;
		out.deduplicated = ec_ingest_dedupe == INGEST_DEDUPE_INLINE;
		if (out.deduplicated)
		{
			out.duplicates = IngestStagerDuplicates(st);
			out.skiptraced = IngestSkiptrace(upload_id, &out.skiptrace_error);
		}
	}
	status = IngestStatus(&res, &out, &reason);
	ms = IngestMsSince(t0);
	answer = IngestAnswer(status, reason, &res, upload_id, source, format, &out, ms);

	IngestFinishUpload(upload_id, status, reason, answer, ms, "upload_received");
	answer = IngestCopyOut(answer, caller);
	pgstat_progress_end_command();
	SPI_finish();
	return answer;
}

/*
 * The deduplication an upload staged with ec.ingest_dedupe = deferred left
 * for later (a background job, or a session without the API roles' time
 * limit): the valid rows through identity's bulk path, the answer and the
 * upload row brought up to date.
 */
static Jsonb *
IngestFinish(int64 upload_id)
{
	TimestampTz t0 = GetCurrentTimestamp();
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	char	   *source;
	char	   *format;
	int			old_status;
	IngestStager *st;
	IngestOutcome out;
	IngestParseResult res;
	int			status;
	const char *reason;
	Jsonb	   *answer;
	double		ms;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(upload_id);
	if (SPI_execute_with_args("SELECT u.source, u.format, u.status, u.counts OPERATOR(pg_catalog.->>) 'dedupe'"
							  " FROM ec.ingest_uploads u WHERE u.id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the upload");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("upload " INT64_FORMAT " does not exist", upload_id)));
	source = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	format = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	old_status = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (isnull || old_status != 200 || SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("upload " INT64_FORMAT " has no rows waiting for deduplication", upload_id),
				 errhint("Only an upload staged with ec.ingest_dedupe = deferred and answered 200 waits for ec.ingest_finish.")));

	IngestProgressStart(upload_id, INGEST_PHASE_DEDUPLICATING, 0);
	st = IngestStagerBegin(upload_id, source, true);
	IngestStagerUpsertWaiting(st);

	memset(&out, 0, sizeof(out));
	memset(&res, 0, sizeof(res));
	out.deduplicated = true;
	out.counts = *IngestStagerCounts(st);
	out.duplicates = IngestMarkDuplicates(upload_id);
	out.skiptraced = IngestSkiptrace(upload_id, &out.skiptrace_error);
	if (SPI_execute_with_args("SELECT pg_catalog.count(*),"
							  " pg_catalog.count(*) FILTER (WHERE s.validation_status OPERATOR(pg_catalog.=) 'rejected')"
							  " FROM ec.leads_staging s WHERE s.upload_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the staged rows");
	out.received = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	out.rejected = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	status = IngestStatus(&res, &out, &reason);
	ms = IngestMsSince(t0);
	answer = IngestAnswer(status, reason, NULL, upload_id, source, format, &out, ms);
	IngestFinishUpload(upload_id, status, reason, answer, ms, "upload_deduplicated");
	answer = IngestCopyOut(answer, caller);
	pgstat_progress_end_command();
	SPI_finish();
	return answer;
}

PG_FUNCTION_INFO_V1(ec_ingest_upload);

/* ec.ingest_upload(body, headers, source, client_ip): a signed upload */
Datum
ec_ingest_upload(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(IngestRun(PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_PP(0),
								PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
								PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
								PG_ARGISNULL(3) ? NULL : PG_GETARG_INET_PP(3),
								NULL, true));
}

PG_FUNCTION_INFO_V1(ec_ingest_finish);

/* ec.ingest_finish(upload_id): the deferred deduplication of an upload */
Datum
ec_ingest_finish(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(IngestFinish(PG_GETARG_INT64(0)));
}

PG_FUNCTION_INFO_V1(ec_ingest_unsigned);

/* ec.ingest_unsigned(body, source, content_type): a body the caller vouches for */
Datum
ec_ingest_unsigned(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(IngestRun(PG_ARGISNULL(0) ? NULL : PG_GETARG_BYTEA_PP(0),
								NULL,
								PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
								NULL,
								PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
								false));
}
