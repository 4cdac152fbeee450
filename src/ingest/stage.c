/*-------------------------------------------------------------------------
 *
 * stage.c
 *		Staging: every row of an upload into ec.leads_staging with its
 *		status and reasons, in batches of ec.ingest_batch_rows.  With
 *		ec.ingest_dedupe = inline each batch's valid rows first go through
 *		identity's set-based path (ec.upsert_leads), so that rows are written
 *		once, with the lead they became (or as duplicate_in_file when an
 *		earlier row of the file became that lead); deferred rows wait as
 *		'valid' for ec.ingest_finish (ec.upsert_staged_leads).
 *
 * Rows are written as COPY writes them (src/common/bulk_insert.c):
 * table_multi_insert of up to a thousand rows at a time (one WAL record per
 * page, not per row), index entries through ExecInsertIndexTuples, column
 * defaults (the identity id, created_at) evaluated as COPY evaluates them,
 * CHECK constraints by ExecConstraints, foreign keys checked once per batch.
 * The INSERT privilege of the columns is checked first.  When row security
 * applies to the caller, or someone has put an INSERT trigger (other than a
 * foreign key's check) on the table, the rows go through one prepared
 * INSERT over arrays instead, so that policies and triggers see every row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "rewrite/rewriteHandler.h"

#include "common/bulk_insert.h"
#include "identity/identity.h"
#include "ingest/ingest.h"

/* Writing rows straight into the table, as COPY does (src/common/bulk_insert.c). */
typedef struct IngestWriter
{
	Oid			relid;
	Datum		valid,
				upserted,
				rejected,
				duplicate;		/* ec.staging_status labels */
} IngestWriter;

/* the columns written, in the order of IngestWriteRows' values */
static const char *const StagingCols[] = {
	"upload_id", "row_number", "record", "validation_status", "reasons", "lead_id", "action"
};

struct IngestStager
{
	int64		upload_id;
	char	   *source;
	bool		dedupe;			/* upsert each batch as it is staged */
	int			batches;
	int64		batch_valid;	/* valid rows in the batch being filled */
	IngestUpsertCounts counts;
	MemoryContext cxt;			/* the batch's values */
	MemoryContext long_cxt;		/* the upload's */
	int			n;
	int			cap;
	Datum	   *rownums;
	Datum	   *records;
	Datum	   *reasons;
	char	   *state;			/* 'v' valid (waits), 'u' upserted, 'r' rejected,
								 * 'd' duplicate_in_file */
	int64	   *lead_ids;		/* 0: none */
	const char **actions;		/* identity's action, or NULL */
	int64		rows;
	int64		rejected;
	HTAB	   *leads_seen;		/* lead ids rows of this upload became */
	int64		duplicates;
	IngestWriter *writer;		/* NULL: not opened yet */
};

static SPIPlanPtr plan_stage = NULL;
static SPIPlanPtr plan_upsert = NULL;
static SPIPlanPtr plan_upsert_staged = NULL;
static SPIPlanPtr plan_event = NULL;

IngestStager *
IngestStagerBegin(int64 upload_id, const char *source, bool dedupe)
{
	IngestStager *st = palloc0(sizeof(IngestStager));

	st->upload_id = upload_id;
	st->source = pstrdup(source);
	st->dedupe = dedupe;
	st->cap = Max(ec_ingest_batch_rows, 1);
	st->long_cxt = CurrentMemoryContext;
	st->cxt = AllocSetContextCreate(CurrentMemoryContext, "ingest staging batch",
									ALLOCSET_DEFAULT_SIZES);
	st->rownums = palloc(sizeof(Datum) * st->cap);
	st->records = palloc(sizeof(Datum) * st->cap);
	st->reasons = palloc(sizeof(Datum) * st->cap);
	st->state = palloc(st->cap);
	st->lead_ids = palloc(sizeof(int64) * st->cap);
	st->actions = palloc(sizeof(char *) * st->cap);
	return st;
}

/* The reasons of a mask as text[]; one shared empty array for none. */
static Datum
IngestReasonsArray(uint32 mask)
{
	Datum		elems[IR_COUNT];
	int			n = 0;
	int			i;

	if (mask == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	for (i = 0; i < IR_COUNT; i++)
	{
		if (mask & (1u << i))
			elems[n++] = CStringGetTextDatum(IngestReasonName((IngestReason) i));
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* An integer of identity's answer (0 when absent). */
static int64
IngestCount(Jsonb *answer, const char *key)
{
	JsonbValue	vbuf;
	JsonbValue *v = getKeyJsonValueFromContainer(&answer->root, key, strlen(key), &vbuf);

	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/* The counts of identity's answer to one batch. */
static void
IngestCounts(Jsonb *answer, IngestUpsertCounts *c)
{
	memset(c, 0, sizeof(*c));
	c->inserted = IngestCount(answer, "inserted");
	c->merged = IngestCount(answer, "merged");
	c->unchanged = IngestCount(answer, "unchanged");
	c->rejected = IngestCount(answer, "rejected");
	c->conflicts = IngestCount(answer, "conflicts");
}

/* One dedupe_success event for a batch. */
static void
IngestBatchEvent(IngestStager *st, int64 rows, const IngestUpsertCounts *c, double ms)
{
	Oid			etypes[4] = {INT8OID, FLOAT8OID, JSONBOID, BOOLOID};
	Datum		evalues[4];
	char	   *detail;

	st->batches++;
	detail = psprintf("{\"batch\": %d, \"rows\": " INT64_FORMAT ", \"inserted\": " INT64_FORMAT
					  ", \"merged\": " INT64_FORMAT ", \"unchanged\": " INT64_FORMAT
					  ", \"rejected\": " INT64_FORMAT ", \"conflicts\": " INT64_FORMAT "}",
					  st->batches, rows, c->inserted, c->merged, c->unchanged, c->rejected, c->conflicts);
	evalues[0] = Int64GetDatum(st->upload_id);
	evalues[1] = Float8GetDatum(ms);
	evalues[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail));
	evalues[3] = BoolGetDatum(c->rejected < rows);
	if (plan_event == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("INSERT INTO ec.pipeline_events (event_type, ok, upload_id, duration_ms, detail)"
									" VALUES ('dedupe_success', $4, $1, $2::pg_catalog.numeric(12, 3), $3)",
									4, etypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the batch event");
		plan_event = p;
	}
	if (SPI_execute_plan(plan_event, evalues, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the batch event");
	st->counts.inserted += c->inserted;
	st->counts.merged += c->merged;
	st->counts.unchanged += c->unchanged;
	st->counts.rejected += c->rejected;
	st->counts.conflicts += c->conflicts;
	pgstat_progress_update_param(INGEST_PROGRESS_UPSERTED,
								 st->counts.inserted + st->counts.merged + st->counts.unchanged);
}

/*
 * Identity's set-based call, logged per batch here (IngestBatchEvent): it
 * writes no dedupe event per lead, since each row's lead and action are
 * staged (ec.leads_staging) and the batch's event carries the counts.
 */
static int
IngestRunUpsert(SPIPlanPtr plan, Datum *values)
{
	volatile int rc = 0;

	IdentityNextCallLogsBatch(true);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, NULL, false, 1);
	}
	PG_FINALLY();
	{
		IdentityNextCallLogsBatch(false);
	}
	PG_END_TRY();
	return rc;
}

/*
 * The upload's waiting (valid) rows through identity's path over staging
 * rows, ec.upsert_staged_leads, which writes lead_id and action back: what
 * ec.ingest_finish does for an upload staged with ec.ingest_dedupe =
 * deferred.
 */
static void
IngestUpsertBatch(IngestStager *st, int64 rows)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	instr_time	t0,
				t1;
	Jsonb	   *answer;
	bool		isnull;
	IngestUpsertCounts c;

	IngestProgressPhase(INGEST_PHASE_DEDUPLICATING);
	INSTR_TIME_SET_CURRENT(t0);
	values[0] = Int64GetDatum(st->upload_id);
	values[1] = CStringGetTextDatum(st->source);
	if (plan_upsert_staged == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT ec.upsert_staged_leads($1, $2)", 2, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the staged upsert");
		plan_upsert_staged = p;
	}
	if (IngestRunUpsert(plan_upsert_staged, values) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ec.upsert_staged_leads gave no answer");
	answer = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	IngestCounts(answer, &c);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	if (rows < 0)
		rows = c.inserted + c.merged + c.unchanged + c.rejected;
	IngestBatchEvent(st, rows, &c, INSTR_TIME_GET_MILLISEC(t1));
	IngestProgressPhase(INGEST_PHASE_PARSING);
}

/* text[] a with s appended. */
static ArrayType *
array_append_text(ArrayType *a, const char *s)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum	   *out;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	out = palloc(sizeof(Datum) * (n + 1));
	memcpy(out, elems, sizeof(Datum) * n);
	out[n] = CStringGetTextDatum(s);
	return construct_array(out, n + 1, TEXTOID, -1, false, TYPALIGN_INT);
}

/* A string member of a result object, or NULL. */
static char *
IngestResultText(JsonbContainer *obj, const char *key)
{
	JsonbValue	vbuf;
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), &vbuf);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * A row that became a lead an earlier row of the file already became is a
 * duplicate within the file (whatever identity made of it); known here, as
 * the answers come back, so the row is staged once in that state instead
 * of being found again by a query over the upload's rows afterwards.
 */
static void
IngestMarkDuplicate(IngestStager *st, int i)
{
	bool		found;

	if (st->lead_ids[i] == 0)
		return;
	if (st->leads_seen == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(int64);
		ctl.hcxt = st->long_cxt;
		st->leads_seen = hash_create("ingest leads seen", 1024, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	hash_search(st->leads_seen, &st->lead_ids[i], HASH_ENTER, &found);
	if (found)
	{
		st->state[i] = 'd';
		st->duplicates++;
	}
}

/*
 * One jsonb array of the batch's valid records, assembled from their binary
 * containers as jsonb's own convertJsonbArray lays an array out (a header,
 * one JEntry per element, every JB_OFFSET_STRIDE'th an end offset and the
 * others lengths, each element int-aligned), so the records are copied once
 * instead of being unpacked into values and serialized again.
 */
static Jsonb *
IngestRecordArray(IngestStager *st, int nvalid)
{
	Size		datalen = 0;
	Size		total;
	Jsonb	   *arr;
	char	   *base;
	JEntry	   *entries;
	uint32		offset = 0;
	int			i,
				k = 0;

	for (i = 0; i < st->n; i++)
	{
		if (st->state[i] == 'v')
			datalen = INTALIGN(datalen) + VARSIZE(DatumGetPointer(st->records[i])) - VARHDRSZ;
	}
	if (datalen > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb array elements exceeds the maximum of %u bytes",
						JENTRY_OFFLENMASK),
				 errhint("Lower \"ec.ingest_batch_rows\".")));
	total = VARHDRSZ + sizeof(uint32) + sizeof(JEntry) * nvalid + datalen;
	arr = palloc(total);
	SET_VARSIZE(arr, total);
	arr->root.header = (uint32) nvalid | JB_FARRAY;
	entries = arr->root.children;
	base = (char *) &entries[nvalid];
	for (i = 0; i < st->n; i++)
	{
		Jsonb	   *rec;
		uint32		start;
		uint32		len;

		if (st->state[i] != 'v')
			continue;
		rec = DatumGetJsonbP(st->records[i]);
		Assert(JB_ROOT_IS_OBJECT(rec));
		/* the padding before an element counts as part of it */
		start = INTALIGN(offset);
		if (start > offset)
			memset(base + offset, 0, start - offset);
		len = VARSIZE(rec) - VARHDRSZ;
		memcpy(base + start, &rec->root, len);
		/* an end offset every JB_OFFSET_STRIDE'th element, else a length */
		if ((k % JB_OFFSET_STRIDE) == 0)
			entries[k] = JENTRY_ISCONTAINER | JENTRY_HAS_OFF | (start + len);
		else
			entries[k] = JENTRY_ISCONTAINER | (start + len - offset);
		offset = start + len;
		k++;
	}
	Assert(k == nvalid && offset == datalen);
	return arr;
}

/*
 * The batch's valid rows through identity's set-based path before they are
 * written: ec.upsert_leads over the records (a JSON array, one call), whose
 * per-row results say which lead each row became and how.  The rows are
 * then staged once, in their final state (upserted with lead_id and
 * action, or rejected with identity's reason), and no write-back is needed.
 */
static void
IngestUpsertRows(IngestStager *st)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2];
	Jsonb	   *answer;
	JsonbValue	vbuf;
	JsonbValue *results;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	IngestUpsertCounts c;
	instr_time	t0,
				t1;
	MemoryContext old;
	bool		isnull;
	int			i;
	int64		rows;

	IngestProgressPhase(INGEST_PHASE_DEDUPLICATING);
	INSTR_TIME_SET_CURRENT(t0);
	old = MemoryContextSwitchTo(st->cxt);
	rows = st->batch_valid;
	values[0] = JsonbPGetDatum(IngestRecordArray(st, (int) rows));
	values[1] = CStringGetTextDatum(st->source);
	MemoryContextSwitchTo(old);

	if (plan_upsert == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT ec.upsert_leads($1, $2)", 2, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the bulk upsert");
		plan_upsert = p;
	}
	if (IngestRunUpsert(plan_upsert, values) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ec.upsert_leads gave no answer");
	answer = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* per-row results, in the order of the rows sent */
	results = getKeyJsonValueFromContainer(&answer->root, "results", 7, &vbuf);
	if (results == NULL || results->type != jbvBinary || !JsonContainerIsArray(results->val.binary.data))
		elog(ERROR, "ec.upsert_leads answered without per-row results");
	it = JsonbIteratorInit(results->val.binary.data);
	i = 0;
	old = MemoryContextSwitchTo(st->cxt);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	lbuf;
		JsonbValue *lv;
		char	   *action;

		if (tok != WJB_ELEM || v.type != jbvBinary)
			continue;
		while (i < st->n && st->state[i] != 'v')
			i++;
		if (i >= st->n)
			elog(ERROR, "ec.upsert_leads answered for more rows than it was sent");
		action = IngestResultText(v.val.binary.data, "action");
		lv = getKeyJsonValueFromContainer(v.val.binary.data, "lead_id", 7, &lbuf);
		st->actions[i] = action;
		st->lead_ids[i] = (lv != NULL && lv->type == jbvNumeric)
			? DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(lv->val.numeric))) : 0;
		if (action != NULL && strcmp(action, "rejected") == 0)
		{
			/* identity's reason joins ours */
			char	   *reason = IngestResultText(v.val.binary.data, "reason");
			ArrayType  *a = DatumGetArrayTypeP(st->reasons[i]);

			st->state[i] = 'r';
			if (reason != NULL)
				st->reasons[i] = PointerGetDatum(array_append_text(a, reason));
		}
		else
			st->state[i] = 'u';
		IngestMarkDuplicate(st, i);
		i++;
	}
	MemoryContextSwitchTo(old);

	IngestCounts(answer, &c);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	IngestBatchEvent(st, rows, &c, INSTR_TIME_GET_MILLISEC(t1));
	IngestProgressPhase(INGEST_PHASE_PARSING);
}

/* Open ec.leads_staging for this upload: the direct writer, or the SQL path. */
static void
IngestWriterOpen(IngestStager *st)
{
	IngestWriter *w = palloc0(sizeof(IngestWriter));
	Oid			status_type;

	st->writer = w;
	w->relid = get_relname_relid("leads_staging", get_namespace_oid("ec", false));
	if (!OidIsValid(w->relid))
		elog(ERROR, "table ec.leads_staging is missing");
	status_type = get_atttype(w->relid, get_attnum(w->relid, "validation_status"));
	w->valid = DirectFunctionCall2(enum_in, CStringGetDatum("valid"), ObjectIdGetDatum(status_type));
	w->rejected = DirectFunctionCall2(enum_in, CStringGetDatum("rejected"), ObjectIdGetDatum(status_type));
	w->upserted = DirectFunctionCall2(enum_in, CStringGetDatum("upserted"), ObjectIdGetDatum(status_type));
	w->duplicate = DirectFunctionCall2(enum_in, CStringGetDatum("duplicate_in_file"), ObjectIdGetDatum(status_type));
}

static void
IngestWriterClose(IngestStager *st)
{
	st->writer = NULL;
}

static void IngestWriteSql(IngestStager *st);

/*
 * The batch's rows into the table and its indexes, as COPY writes them
 * (src/common/bulk_insert.c), the table's foreign keys checked once for
 * the batch; through SQL when the table needs the executor's INSERT.
 */
static void
IngestWriteRows(IngestStager *st)
{
	IngestWriter *w = st->writer;
	EcBulkInsert *bi = EcBulkInsertBegin(w->relid, lengthof(StagingCols), StagingCols);
	int			r;

	if (bi == NULL)
	{
		IngestWriteSql(st);
		return;
	}
	for (r = 0; r < st->n; r++)
	{
		Datum		v[lengthof(StagingCols)];
		bool		nulls[lengthof(StagingCols)] = {false, false, false, false, false, false, false};

		v[0] = Int64GetDatum(st->upload_id);
		v[1] = st->rownums[r];
		v[2] = st->records[r];
		v[3] = st->state[r] == 'r' ? w->rejected :
			st->state[r] == 'u' ? w->upserted : st->state[r] == 'd' ? w->duplicate : w->valid;
		v[4] = st->reasons[r];
		v[5] = Int64GetDatum(st->lead_ids[r]);
		nulls[5] = st->lead_ids[r] == 0;
		v[6] = st->actions[r] ? CStringGetTextDatum(st->actions[r]) : (Datum) 0;
		nulls[6] = st->actions[r] == NULL;
		EcBulkInsertRow(bi, v, nulls);
	}
	(void) EcBulkInsertEnd(bi);
}

/* The same rows through SQL, for when policies or triggers must see them. */
static void
IngestWriteSql(IngestStager *st)
{
	Oid			types[7] = {INT8OID, INT4ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	INT8ARRAYOID, TEXTARRAYOID};
	Datum		values[7];
	Datum	   *statuses;
	Datum	   *reasons;
	Datum	   *leads;
	bool	   *lead_nulls;
	Datum	   *actions;
	bool	   *action_nulls;
	int			dims[1];
	int			lbs[1] = {1};
	MemoryContext old;
	int			rc;
	int			i;

	old = MemoryContextSwitchTo(st->cxt);
	statuses = palloc(sizeof(Datum) * st->n);
	reasons = palloc(sizeof(Datum) * st->n);
	leads = palloc(sizeof(Datum) * st->n);
	lead_nulls = palloc(sizeof(bool) * st->n);
	actions = palloc(sizeof(Datum) * st->n);
	action_nulls = palloc(sizeof(bool) * st->n);
	for (i = 0; i < st->n; i++)
	{
		statuses[i] = CStringGetTextDatum(st->state[i] == 'r' ? "rejected" : st->state[i] == 'u' ? "upserted" :
										  st->state[i] == 'd' ? "duplicate_in_file" : "valid");
		reasons[i] = CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT, st->reasons[i]));
		leads[i] = Int64GetDatum(st->lead_ids[i]);
		lead_nulls[i] = st->lead_ids[i] == 0;
		actions[i] = st->actions[i] ? CStringGetTextDatum(st->actions[i]) : (Datum) 0;
		action_nulls[i] = st->actions[i] == NULL;
	}
	values[0] = Int64GetDatum(st->upload_id);
	values[1] = PointerGetDatum(construct_array(st->rownums, st->n, INT4OID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(st->records, st->n, JSONBOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(statuses, st->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(reasons, st->n, TEXTOID, -1, false, TYPALIGN_INT));
	dims[0] = st->n;
	values[5] = PointerGetDatum(construct_md_array(leads, lead_nulls, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_md_array(actions, action_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	MemoryContextSwitchTo(old);

	if (plan_stage == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("INSERT INTO ec.leads_staging"
									" (upload_id, row_number, record, validation_status, reasons, lead_id, action)"
									" SELECT $1, r.n, r.rec, r.st::ec.staging_status, r.rs::text[], r.l, r.a"
									" FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3),"
									"  pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6),"
									"  pg_catalog.unnest($7)) AS r (n, rec, st, rs, l, a)",
									7, types);

		if (p == NULL)
			elog(ERROR, "could not prepare the staging insert: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "could not keep the staging insert plan");
		plan_stage = p;
	}
	rc = SPI_execute_plan(plan_stage, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "staging insert failed: %s", SPI_result_code_string(rc));
}

static void
IngestStagerFlush(IngestStager *st)
{
	if (st->dedupe && st->batch_valid > 0)
		IngestUpsertRows(st);
	st->batch_valid = 0;
	if (st->n > 0)
	{
		if (st->writer == NULL)
			IngestWriterOpen(st);
		IngestWriteRows(st);
	}
	st->n = 0;
	MemoryContextReset(st->cxt);
	pgstat_progress_update_param(INGEST_PROGRESS_ROWS, st->rows);
	pgstat_progress_update_param(INGEST_PROGRESS_REJECTED, st->rejected);
}

void
IngestStagerAdd(IngestStager *st, int64 row_number, const IngestChecked *checked)
{
	MemoryContext old;
	Size		sz;
	Jsonb	   *copy;

	if (row_number > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("upload has more than %d rows", PG_INT32_MAX)));
	old = MemoryContextSwitchTo(st->cxt);
	sz = VARSIZE(checked->record);
	copy = palloc(sz);
	memcpy(copy, checked->record, sz);
	st->rownums[st->n] = Int32GetDatum((int32) row_number);
	st->records[st->n] = JsonbPGetDatum(copy);
	st->reasons[st->n] = IngestReasonsArray(checked->reasons);
	st->state[st->n] = checked->rejected ? 'r' : 'v';
	st->lead_ids[st->n] = 0;
	st->actions[st->n] = NULL;
	MemoryContextSwitchTo(old);
	st->n++;
	st->rows++;
	if (!checked->rejected)
		st->batch_valid++;
	if (checked->rejected)
		st->rejected++;
	if (st->n >= st->cap)
		IngestStagerFlush(st);
}

void
IngestStagerUpsertWaiting(IngestStager *st)
{
	IngestUpsertBatch(st, -1);
}

void
IngestStagerFinish(IngestStager *st)
{
	IngestStagerFlush(st);
	IngestWriterClose(st);
}

int64
IngestStagerRows(const IngestStager *st)
{
	return st->rows;
}

int64
IngestStagerDuplicates(const IngestStager *st)
{
	return st->duplicates;
}

int64
IngestStagerRejected(const IngestStager *st)
{
	return st->rejected;
}

const IngestUpsertCounts *
IngestStagerCounts(const IngestStager *st)
{
	return &st->counts;
}
