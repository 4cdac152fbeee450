/*-------------------------------------------------------------------------
 *
 * stage.c
 *		Staging: every row of an upload into ec.leads_staging, in batches of
 *		ec.ingest_batch_rows through one prepared INSERT over arrays (one
 *		executor run per batch, not per row), with its status and reasons.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "ingest/ingest.h"

struct IngestStager
{
	int64		upload_id;
	MemoryContext cxt;			/* the batch's values */
	int			n;
	int			cap;
	Datum	   *rownums;
	Datum	   *records;
	Datum	   *statuses;
	Datum	   *reasons;
	int64		rows;
	int64		rejected;
	int			nshown;
	int64	   *shown_rows;
	uint32	   *shown_reasons;
};

static SPIPlanPtr plan_stage = NULL;

IngestStager *
IngestStagerBegin(int64 upload_id)
{
	IngestStager *st = palloc0(sizeof(IngestStager));

	st->upload_id = upload_id;
	st->cap = Max(ec_ingest_batch_rows, 1);
	st->cxt = AllocSetContextCreate(CurrentMemoryContext, "ingest staging batch",
									ALLOCSET_DEFAULT_SIZES);
	st->rownums = palloc(sizeof(Datum) * st->cap);
	st->records = palloc(sizeof(Datum) * st->cap);
	st->statuses = palloc(sizeof(Datum) * st->cap);
	st->reasons = palloc(sizeof(Datum) * st->cap);
	st->shown_rows = palloc(sizeof(int64) * Max(ec_ingest_rejected_shown, 1));
	st->shown_reasons = palloc(sizeof(uint32) * Max(ec_ingest_rejected_shown, 1));
	return st;
}

/* "a,b,c" of the reasons in a mask (the SQL side splits it). */
static text *
IngestReasonsText(uint32 mask)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < IR_COUNT; i++)
	{
		if (mask & (1u << i))
		{
			if (buf.len > 0)
				appendStringInfoChar(&buf, ',');
			appendStringInfoString(&buf, IngestReasonName((IngestReason) i));
		}
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

static void
IngestStagerFlush(IngestStager *st)
{
	Oid			types[5] = {INT8OID, INT4ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[5];
	MemoryContext old;
	int			rc;

	if (st->n == 0)
		return;
	old = MemoryContextSwitchTo(st->cxt);
	values[0] = Int64GetDatum(st->upload_id);
	values[1] = PointerGetDatum(construct_array(st->rownums, st->n, INT4OID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(st->records, st->n, JSONBOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(st->statuses, st->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(st->reasons, st->n, TEXTOID, -1, false, TYPALIGN_INT));
	MemoryContextSwitchTo(old);

	if (plan_stage == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("INSERT INTO ec.leads_staging"
									" (upload_id, row_number, record, validation_status, reasons)"
									" SELECT $1, r.n, r.rec, r.st::ec.staging_status,"
									"  CASE WHEN r.rs OPERATOR(pg_catalog.=) '' THEN '{}'::text[]"
									"  ELSE pg_catalog.string_to_array(r.rs, ',') END"
									" FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3),"
									"  pg_catalog.unnest($4), pg_catalog.unnest($5)) AS r (n, rec, st, rs)",
									5, types);

		if (p == NULL)
			elog(ERROR, "could not prepare the staging insert: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "could not keep the staging insert plan");
		plan_stage = p;
	}
	rc = SPI_execute_plan(plan_stage, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "staging insert failed: %s", SPI_result_code_string(rc));

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
	st->statuses[st->n] = CStringGetTextDatum(checked->rejected ? "rejected" : "valid");
	st->reasons[st->n] = PointerGetDatum(IngestReasonsText(checked->reasons));
	MemoryContextSwitchTo(old);
	st->n++;
	st->rows++;
	if (checked->rejected)
	{
		st->rejected++;
		if (st->nshown < ec_ingest_rejected_shown)
		{
			st->shown_rows[st->nshown] = row_number;
			st->shown_reasons[st->nshown] = checked->reasons;
			st->nshown++;
		}
	}
	if (st->n >= st->cap)
		IngestStagerFlush(st);
}

void
IngestStagerFinish(IngestStager *st)
{
	IngestStagerFlush(st);
}

int64
IngestStagerRows(const IngestStager *st)
{
	return st->rows;
}

int64
IngestStagerRejected(const IngestStager *st)
{
	return st->rejected;
}

void
IngestStagerPushRejected(const IngestStager *st, JsonbParseState **state)
{
	int			i;

	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < st->nshown; i++)
	{
		JsonbValue	v;
		int			r;

		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		v.type = jbvString;
		v.val.string.val = "row";
		v.val.string.len = 3;
		pushJsonbValue(state, WJB_KEY, &v);
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(st->shown_rows[i]);
		pushJsonbValue(state, WJB_VALUE, &v);
		v.type = jbvString;
		v.val.string.val = "reasons";
		v.val.string.len = 7;
		pushJsonbValue(state, WJB_KEY, &v);
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		for (r = 0; r < IR_COUNT; r++)
		{
			if (st->shown_reasons[i] & (1u << r))
			{
				v.type = jbvString;
				v.val.string.val = (char *) IngestReasonName((IngestReason) r);
				v.val.string.len = strlen(v.val.string.val);
				pushJsonbValue(state, WJB_ELEM, &v);
			}
		}
		pushJsonbValue(state, WJB_END_ARRAY, NULL);
		pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}
