/*-------------------------------------------------------------------------
 *
 * rowwriter.c
 *		Appending rows to one of the extension's tables as COPY FROM does
 *		(see rowwriter.h).
 *
 * Why: ec.upsert_leads writes a pipeline_events row per lead.  Through an
 * INSERT ... SELECT over unnest() each row went through the executor's
 * function scan (a tuplestore), a projection, and one heap_insert with its
 * own WAL record; that was a fifth of a bulk upsert's CPU.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "common/rowwriter.h"

/* rows buffered before a multi-insert, as COPY's MAX_BUFFERED_TUPLES */
#define EC_ROWWRITER_ROWS 1000

struct EcRowWriter
{
	Relation	rel;
	TupleDesc	desc;			/* a copy that is not reference-counted */
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	int			natts;
	int			ncols;
	int		   *attnos;			/* per given column: attribute number - 1 */
	bool	   *given;			/* per attribute: among the given columns */
	ExprState **defaults;		/* per attribute not given, or NULL */
	bool		triggers;		/* EC_ROWWRITER_TRIGGERS */
	TransitionCaptureState *transitions;
	TupleTableSlot *slots[EC_ROWWRITER_ROWS];
	int			nslots;			/* slots created */
	int			n;				/* rows buffered */
};

/* whether an INSERT fires any trigger on rel */
static bool
HasInsertTriggers(Relation rel)
{
	TriggerDesc *t = rel->trigdesc;

	return t != NULL && (t->trig_insert_before_row || t->trig_insert_after_row ||
						 t->trig_insert_instead_row || t->trig_insert_before_statement ||
						 t->trig_insert_after_statement || t->trig_insert_new_table);
}

EcRowWriter *
EcRowWriterOpen(const char *relname, int ncols, const char *const *colnames)
{
	return EcRowWriterOpenExtended(relname, ncols, colnames, 0);
}

EcRowWriter *
EcRowWriterOpenExtended(const char *relname, int ncols, const char *const *colnames, int flags)
{
	bool		triggers = (flags & EC_ROWWRITER_TRIGGERS) != 0;
	Oid			relid = get_relname_relid(relname, get_namespace_oid("ec", false));
	Relation	rel;
	EcRowWriter *w;
	AclResult	acl;
	TupleDesc	desc;
	int			i;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"ec.%s\" does not exist", relname)));
	rel = table_open(relid, RowExclusiveLock);
	/*
	 * Without the table-level INSERT privilege (a grant on some columns
	 * only), SQL decides: it checks each column.
	 */
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (acl != ACLCHECK_OK || rel->rd_rel->relkind != RELKIND_RELATION ||
		(triggers ? (rel->trigdesc != NULL && rel->trigdesc->trig_insert_instead_row) : HasInsertTriggers(rel)) ||
		(rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored) ||
		check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
	{
		/* the lock stays until the end of the transaction, as SQL's would */
		table_close(rel, NoLock);
		return NULL;
	}

	w = palloc0(sizeof(EcRowWriter));
	w->rel = rel;
	w->triggers = triggers;
	desc = RelationGetDescr(rel);
	w->natts = desc->natts;
	w->ncols = ncols;
	w->attnos = palloc(sizeof(int) * ncols);
	w->given = palloc0(sizeof(bool) * w->natts);
	for (i = 0; i < ncols; i++)
	{
		AttrNumber	a = get_attnum(relid, colnames[i]);

		if (a == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"ec.%s\" does not exist", colnames[i], relname)));
		w->attnos[i] = a - 1;
		w->given[a - 1] = true;
	}

	/*
	 * Slots over the relation's own descriptor pin it, each through the
	 * resource owner, whose bookkeeping cost more than the rows' writing.
	 */
	w->desc = CreateTupleDescCopy(desc);
	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, rel, 0, NULL, 0);
	ExecOpenIndices(w->rri, false);
	w->bistate = GetBulkInsertState();
	w->estate->es_output_cid = GetCurrentCommandId(true);

	/* the other columns take their defaults, as COPY gives them */
	w->defaults = palloc0(sizeof(ExprState *) * w->natts);
	for (i = 0; i < w->natts; i++)
	{
		Node	   *def;

		if (TupleDescAttr(desc, i)->attisdropped || w->given[i])
			continue;
		def = build_column_default(rel, i + 1);
		if (def != NULL)
			w->defaults[i] = ExecPrepareExpr((Expr *) def, w->estate);
	}

	/* as an INSERT statement starts */
	if (triggers)
	{
		AfterTriggerBeginQuery();
		w->transitions = MakeTransitionCaptureState(rel->trigdesc, relid, CMD_INSERT);
		ExecBSInsertTriggers(w->estate, w->rri);
	}
	return w;
}

/* one row with the table's row triggers, written at once (as COPY does with BEFORE ROW triggers) */
static TupleTableSlot *
PutNow(EcRowWriter *w, TupleTableSlot *slot)
{
	ResultRelInfo *rri = w->rri;
	List	   *recheck;

	if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_insert_before_row &&
		!ExecBRInsertTriggers(w->estate, rri, slot))
	{
		ResetPerTupleExprContext(w->estate);
		return NULL;
	}
	if (w->rel->rd_att->constr != NULL)
		ExecConstraints(rri, slot, w->estate);
	table_tuple_insert(w->rel, slot, w->estate->es_output_cid, 0, w->bistate);
	recheck = EcInsertIndexTuples(rri, slot, w->estate);
	ExecARInsertTriggers(w->estate, rri, slot, recheck, w->transitions);
	list_free(recheck);
	ResetPerTupleExprContext(w->estate);
	return slot;
}

TupleTableSlot *
EcRowWriterPut(EcRowWriter *w, const Datum *values, const bool *nulls)
{
	ExprContext *econtext = GetPerTupleExprContext(w->estate);
	TupleTableSlot *slot;
	int			i;

	if (w->n == EC_ROWWRITER_ROWS)
		EcRowWriterFlush(w);
	if (w->n == w->nslots)
		w->slots[w->nslots++] = MakeSingleTupleTableSlot(w->desc, table_slot_callbacks(w->rel));
	slot = w->slots[w->n];
	ExecClearTuple(slot);
	for (i = 0; i < w->natts; i++)
	{
		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
		if (w->defaults[i] != NULL)
			slot->tts_values[i] = ExecEvalExpr(w->defaults[i], econtext, &slot->tts_isnull[i]);
	}
	for (i = 0; i < w->ncols; i++)
	{
		slot->tts_values[w->attnos[i]] = values[i];
		slot->tts_isnull[w->attnos[i]] = nulls[i];
	}
	ExecStoreVirtualTuple(slot);
	if (w->triggers)
		return PutNow(w, slot);
	if (w->rel->rd_att->constr != NULL)
		ExecConstraints(w->rri, slot, w->estate);
	/* the row into the slot's own memory: the caller's values may go */
	ExecMaterializeSlot(slot);
	ResetPerTupleExprContext(w->estate);
	w->n++;
	return NULL;
}

Relation
EcRowWriterRelation(EcRowWriter *w)
{
	return w->rel;
}

void
EcRowWriterFlush(EcRowWriter *w)
{
	int			k;

	if (w->n == 0)
		return;
	table_multi_insert(w->rel, w->slots, w->n, GetCurrentCommandId(true), 0, w->bistate);
	for (k = 0; k < w->n; k++)
	{
		List	   *recheck = EcInsertIndexTuples(w->rri, w->slots[k], w->estate);

		list_free(recheck);
		ResetPerTupleExprContext(w->estate);
		ExecClearTuple(w->slots[k]);
	}
	w->n = 0;
}

void
EcRowWriterClose(EcRowWriter *w)
{
	int			k;

	EcRowWriterFlush(w);
	/* as an INSERT statement ends: AFTER STATEMENT, then what was queued */
	if (w->triggers)
	{
		ExecASInsertTriggers(w->estate, w->rri, w->transitions);
		AfterTriggerEndQuery(w->estate);
	}
	for (k = 0; k < w->nslots; k++)
		ExecDropSingleTupleTableSlot(w->slots[k]);
	FreeBulkInsertState(w->bistate);
	ExecCloseIndices(w->rri);
	/* what the triggers opened: the relations of their events, their slots */
	ExecCloseResultRelations(w->estate);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	FreeTupleDesc(w->desc);
	pfree(w->defaults);
	pfree(w->given);
	pfree(w->attnos);
	pfree(w);
}
