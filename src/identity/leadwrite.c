/*-------------------------------------------------------------------------
 *
 * leadwrite.c
 *		Writing merges into the versions of leads that were read, as the
 *		executor's UPDATE writes rows, without an UPDATE statement.
 *
 * Why: a merged lead was one "UPDATE ec.leads SET ... WHERE ctid = $t AND
 * id = $i AND xmin = $x" through SPI, and a batch's merges one such UPDATE
 * over unnest()ed arrays.  The statement around the rows (the executor's
 * start, a projection of the whole 50-column row, the TID scan, for a batch
 * the function scans into tuplestores and the join) and its setup (the
 * result relation, seven index descriptions, the CHECK read from its text)
 * cost 178,000 instructions of a one-lead merge; written here, with that
 * setup kept for the session (KeptUpdate), the merge costs 103,000.
 *
 * The same row and the same effects as that statement:
 *	- the statement's snapshot as SPI takes one (command counter advanced,
 *	  a fresh snapshot under READ COMMITTED);
 *	- the version at the TID is locked in the mode the UPDATE would take
 *	  (ExecUpdateLockMode over the columns it sets), waiting for a writer
 *	  that holds it; a version that was updated, deleted or is not the one
 *	  read (id, xmin) is not written, as the statement's WHERE and its
 *	  EvalPlanQual recheck would skip it; under REPEATABLE READ a version
 *	  changed since the snapshot raises the serialization failure the
 *	  statement raises;
 *	- BEFORE and AFTER STATEMENT and ROW triggers, column-specific ones
 *	  included (the set columns are the statement's updated columns),
 *	  transition tables, the CHECK constraints, HOT or index entries as
 *	  heap_update decides, the queued AFTER events (foreign keys) at the end.
 * Row security, no table-level UPDATE or SELECT privilege, SERIALIZABLE,
 * rules, a generated column, a column type other than expected: the caller
 * runs its UPDATE instead (EcLeadUpdateBegin answers NULL, nothing written).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "common/bulk_insert.h"
#include "common/pgcompat.h"
#include "common/rowcheck.h"
#include "identity/identity.h"

/* the columns written, and updated_at (checked when the layout is resolved again) */
static EcLeadLayout Layout;
static AttrNumber UpdatedAtAtt;
static bool UpdatedAtUsable;

/*
 * What a statement sets up before its first row, kept for the session: the
 * result relation with its index descriptions, CHECK states and trigger
 * functions, the slots.  Dropped when ec.leads or one of its indexes
 * changes (any relcache invalidation of them), when a function or a type
 * changes, and after a statement that ended in an error (it is marked
 * invalid until its end); the next statement builds it again.
 */
typedef struct KeptUpdate
{
	EcKeptRel	k;				/* the result relation; k.cxt holds all below */
	Bitmapset **updated;		/* the range table's updated columns */
	TupleTableSlot *oldslot;	/* over a copy of the row type */
	TupleTableSlot *newslot;
} KeptUpdate;

static KeptUpdate Kept;

/* (Re)builds Kept for rel, open and locked by the caller, with its indexes open. */
static void
KeptBuild(Relation rel)
{
	MemoryContext old = EcKeptRelStart(&Kept.k, rel, "ec lead update");
	EcRangeTable rt;
	TupleDesc	desc;

	EcRangeTableMake(&rt, rel, ACL_UPDATE | ACL_SELECT);
	EcKeptRelFinish(&Kept.k, &rt, true);
	Kept.updated = rt.updated;	/* given each statement */

	/* over a copy of the row type: a slot over the relation's own pins it */
	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	Kept.oldslot = MakeSingleTupleTableSlot(desc, table_slot_callbacks(rel));
	Kept.newslot = MakeSingleTupleTableSlot(desc, table_slot_callbacks(rel));
	MemoryContextSwitchTo(old);
}

struct EcLeadUpdater
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	int			ncols;
	bool	   *set;
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot;
	TransitionCaptureState *transitions;
	LockTupleMode lockmode;
};

EcLeadUpdater *
EcLeadUpdateBegin(int ncols, const char *const *names, const Oid *types, const bool *set)
{
	Oid			relid = EcRelationOid("leads");
	Relation	rel;
	EcLeadUpdater *u;
	Bitmapset  *cols = NULL;
	int			i;

	if (!OidIsValid(relid) || IsolationIsSerializable() ||
		pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return NULL;

	rel = table_open(relid, RowExclusiveLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rules != NULL ||
		(rel->trigdesc != NULL && rel->trigdesc->trig_update_instead_row) ||
		(rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored))
	{
		/* the lock stays until the end of the transaction, as SQL's would */
		table_close(rel, NoLock);
		return NULL;
	}
	if (EcLeadLayoutGet(&Layout, rel, ncols, names, types))
	{
		UpdatedAtAtt = get_attnum(relid, "updated_at");
		UpdatedAtUsable = UpdatedAtAtt != InvalidAttrNumber &&
			TupleDescAttr(RelationGetDescr(rel), UpdatedAtAtt - 1)->atttypid == TIMESTAMPTZOID;
	}
	if (!Layout.usable || !UpdatedAtUsable)
	{
		table_close(rel, NoLock);
		return NULL;
	}

	if (!EcKeptRelUsable(&Kept.k, rel))
		KeptBuild(rel);			/* opens the indexes */
	/* invalid until the statement's end: an error on the way leaves it half made */
	Kept.k.valid = false;

	u = palloc0(sizeof(EcLeadUpdater));
	u->rel = rel;
	u->ncols = ncols;
	u->set = palloc(sizeof(bool) * ncols);
	memcpy(u->set, set, sizeof(bool) * ncols);
	u->estate = Kept.k.estate;
	u->rri = Kept.k.rri;
	u->oldslot = Kept.oldslot;
	u->newslot = Kept.newslot;

	/* the columns the statement sets: its own, and updated_at */
	for (i = 0; i < ncols; i++)
		if (set[i])
			cols = bms_add_member(cols, Layout.attno[i] - FirstLowInvalidHeapAttributeNumber);
	cols = bms_add_member(cols, UpdatedAtAtt - FirstLowInvalidHeapAttributeNumber);
	*Kept.updated = cols;

	/* the snapshot SPI would give the statement (see _SPI_execute_plan) */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	u->estate->es_snapshot = GetActiveSnapshot();
	u->estate->es_output_cid = GetCurrentCommandId(true);
	u->lockmode = ExecUpdateLockMode(u->estate, u->rri);

	/* as an UPDATE statement starts */
	AfterTriggerBeginQuery();
	u->transitions = MakeTransitionCaptureState(rel->trigdesc, relid, CMD_UPDATE);
	ExecBSUpdateTriggers(u->estate, u->rri);
	return u;
}

int
EcLeadUpdateRow(EcLeadUpdater *u, const Datum *values, const bool *nulls,
				int64 id, TransactionId xmin, ItemPointer tid)
{
	EState	   *estate = u->estate;
	ResultRelInfo *rri = u->rri;
	Relation	rel = u->rel;
	TupleTableSlot *oldslot = u->oldslot;
	TupleTableSlot *newslot = u->newslot;
	TM_FailureData tmfd;
	TM_Result	tmres;
	EcUpdateIndexes update_indexes;
	LockTupleMode mode;
	List	   *recheck = NIL;
	bool		isnull;
	int			natts = RelationGetDescr(rel)->natts;
	int			i;

	ResetPerTupleExprContext(estate);
	ExecClearTuple(oldslot);
	ExecClearTuple(newslot);
	tmres = table_tuple_lock(rel, tid, estate->es_snapshot, oldslot, estate->es_output_cid,
							 u->lockmode, LockWaitBlock, 0, &tmfd);
	if (tmres != TM_Ok)
	{
		/*
		 * Not the version read any more.  The statement would have skipped
		 * it (read committed: its recheck of the newer version fails on
		 * xmin) or raised this (repeatable read).
		 */
		if ((tmres == TM_Updated || tmres == TM_Deleted) && IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
		return 0;
	}
	if (!TransactionIdEquals(DatumGetTransactionId(slot_getsysattr(oldslot, MinTransactionIdAttributeNumber,
																   &isnull)), xmin) ||
		DatumGetInt64(slot_getattr(oldslot, Layout.id_att, &isnull)) != id || isnull)
		return 0;

	/* the new row: the version read, with the set columns */
	slot_getallattrs(oldslot);
	memcpy(newslot->tts_values, oldslot->tts_values, sizeof(Datum) * natts);
	memcpy(newslot->tts_isnull, oldslot->tts_isnull, sizeof(bool) * natts);
	for (i = 0; i < u->ncols; i++)
	{
		int			a = Layout.attno[i] - 1;

		if (!u->set[i])
			continue;
		newslot->tts_isnull[a] = nulls[i];
		newslot->tts_values[a] = values[i];
		if (!nulls[i] && OidIsValid(Layout.enum_type[i]))
			newslot->tts_values[a] = EcEnumValue(Layout.enum_type[i], values[i]);
	}
	newslot->tts_values[UpdatedAtAtt - 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	newslot->tts_isnull[UpdatedAtAtt - 1] = false;
	ExecStoreVirtualTuple(newslot);

	if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_update_before_row &&
		!EcBRUpdateTriggers(estate, rri, tid, newslot))
		return 0;				/* a BEFORE trigger skipped the row */
	if (rel->rd_att->constr != NULL)
		EcConstraintsCheck(Kept.k.checks, rri, newslot, estate);
	tmres = table_tuple_update(rel, tid, newslot, estate->es_output_cid, estate->es_snapshot,
							   InvalidSnapshot, true, &tmfd, &mode, &update_indexes);
	if (tmres != TM_Ok)
		elog(ERROR, "a locked lead could not be updated: %d", (int) tmres);
	if (rri->ri_NumIndices > 0 && EcIndexesNeeded(update_indexes))
		recheck = EcUpdateIndexTuples(rri, newslot, estate, update_indexes);
	EcAfterRowSkipBegin(Kept.k.skip, rri, oldslot, newslot);
	ExecARUpdateTriggers(estate, rri, NULL, NULL, tid, NULL, newslot, recheck, u->transitions, false);
	EcAfterRowSkipEnd(Kept.k.skip, rri);
	list_free(recheck);
	return 1;
}

void
EcLeadUpdateEnd(EcLeadUpdater *u)
{
	EState	   *estate = u->estate;

	/* as an UPDATE statement ends: AFTER STATEMENT, then what was queued */
	ExecASUpdateTriggers(estate, u->rri, u->transitions);
	AfterTriggerEndQuery(estate);
	EcKeptStatementEnd(estate, u->rri);
	ExecClearTuple(u->oldslot);
	ExecClearTuple(u->newslot);
	ResetPerTupleExprContext(estate);
	*Kept.updated = NULL;
	PopActiveSnapshot();

	EcKeptIndexesClose(Kept.k.rri);
	table_close(u->rel, NoLock);
	Kept.k.valid = true;
	pfree(u->set);
	pfree(u);
}
