/*-------------------------------------------------------------------------
 *
 * rowwriter.c
 *		Writing rows into a table that has triggers as COPY FROM writes them
 *		(see rowwriter.h): a batch of new leads.
 *
 * Why: through an INSERT ... SELECT over unnest() each new lead of a batch
 * went through the executor's function scan (a tuplestore), a projection,
 * its text[] columns' text form, and a RETURNING.  Tables without INSERT
 * triggers other than foreign-key checks take src/common/bulk_insert.c,
 * which also writes a page of rows at a time and checks each foreign key
 * once for all the rows.
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
	TransitionCaptureState *transitions;
	TupleTableSlot *slot;
};

EcRowWriter *
EcRowWriterOpen(const char *relname, int ncols, const char *const *colnames)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid("ec", false));
	Relation	rel;
	EcRowWriter *w;
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
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK ||
		rel->rd_rel->relkind != RELKIND_RELATION ||
		(rel->trigdesc != NULL && rel->trigdesc->trig_insert_instead_row) ||
		(rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored) ||
		check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
	{
		/* the lock stays until the end of the transaction, as SQL's would */
		table_close(rel, NoLock);
		return NULL;
	}

	w = palloc0(sizeof(EcRowWriter));
	w->rel = rel;
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
	 * A slot over the relation's own descriptor pins it through the resource
	 * owner; a copy does not.
	 */
	w->desc = CreateTupleDescCopy(desc);
	w->slot = MakeSingleTupleTableSlot(w->desc, table_slot_callbacks(rel));
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
	AfterTriggerBeginQuery();
	w->transitions = MakeTransitionCaptureState(rel->trigdesc, relid, CMD_INSERT);
	ExecBSInsertTriggers(w->estate, w->rri);
	return w;
}

/*
 * One row, written at once with the table's row triggers (as COPY writes
 * rows when BEFORE ROW triggers exist): BEFORE ROW triggers, constraints,
 * the heap row, its index entries, AFTER ROW triggers and transition rows.
 */
TupleTableSlot *
EcRowWriterPut(EcRowWriter *w, const Datum *values, const bool *nulls)
{
	ExprContext *econtext = GetPerTupleExprContext(w->estate);
	ResultRelInfo *rri = w->rri;
	TupleTableSlot *slot = w->slot;
	List	   *recheck;
	int			i;

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

void
EcRowWriterClose(EcRowWriter *w)
{
	/* as an INSERT statement ends: AFTER STATEMENT, then what was queued */
	ExecASInsertTriggers(w->estate, w->rri, w->transitions);
	AfterTriggerEndQuery(w->estate);

	ExecDropSingleTupleTableSlot(w->slot);
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
