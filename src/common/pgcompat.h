/*-------------------------------------------------------------------------
 *
 * pgcompat.h
 *		Calls whose signature differs between the PostgreSQL versions the
 *		extension builds against (15, 16, 17).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_PGCOMPAT_H
#define EC_PGCOMPAT_H

#include "postgres.h"

#include "access/tableam.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/rel.h"

/*
 * ExecInsertIndexTuples for a new row (not an update, no ON CONFLICT): it
 * gained an argument (only_summarizing) in PostgreSQL 16.  The recheck list
 * it returns (deferred unique checks) is the caller's.
 */
#if PG_VERSION_NUM >= 160000
#define EcInsertIndexTuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define EcInsertIndexTuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/*
 * Writing an UPDATE's row without a statement (src/identity/leadwrite.c):
 * table_tuple_update answers which indexes need entries as a bool before
 * PostgreSQL 16 and as TU_UpdateIndexes since (summarizing indexes only
 * after a HOT update); ExecBRUpdateTriggers gained the lock result and a
 * MERGE flag in 17.  No EvalPlanQual state: the caller has locked the row.
 */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes EcUpdateIndexes;
#define EcIndexesNeeded(u) ((u) != TU_None)
#define EcUpdateIndexTuples(rri, slot, estate, u) \
	ExecInsertIndexTuples((rri), (slot), (estate), true, false, NULL, NIL, (u) == TU_Summarizing)
#else
typedef bool EcUpdateIndexes;
#define EcIndexesNeeded(u) (u)
#define EcUpdateIndexTuples(rri, slot, estate, u) \
	ExecInsertIndexTuples((rri), (slot), (estate), true, false, NULL, NIL)
#endif
#if PG_VERSION_NUM >= 170000
#define EcBRUpdateTriggers(estate, rri, tid, slot) \
	ExecBRUpdateTriggers((estate), NULL, (rri), (tid), NULL, (slot), NULL, NULL, false)
#else
#define EcBRUpdateTriggers(estate, rri, tid, slot) \
	ExecBRUpdateTriggers((estate), NULL, (rri), (tid), NULL, (slot), NULL)
#endif

/*
 * A range table of one relation, for writers that set up the executor's
 * result relation themselves: the privileges and columns asked for sit in
 * the range table entry before PostgreSQL 16 and in an RTEPermissionInfo
 * since.  EcRangeTableMake fills *rt for rel; rt->inserted / rt->updated
 * point at the column sets to fill; EcRangeTableInit gives it to an
 * estate; EcCheckPermissions checks the privileges as the executor does.
 */
typedef struct EcRangeTable
{
	List	   *rtable;
	List	   *perminfos;		/* PostgreSQL 16 and later */
	Bitmapset **inserted;
	Bitmapset **updated;
} EcRangeTable;

static inline void
EcRangeTableMake(EcRangeTable *rt, Relation rel, AclMode perms)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	{
		RTEPermissionInfo *perm = makeNode(RTEPermissionInfo);

		perm->relid = rte->relid;
		perm->inh = false;
		perm->requiredPerms = perms;
		perm->checkAsUser = InvalidOid;
		rte->perminfoindex = 1;
		rt->perminfos = list_make1(perm);
		rt->inserted = &perm->insertedCols;
		rt->updated = &perm->updatedCols;
	}
#else
	rte->requiredPerms = perms;
	rte->checkAsUser = InvalidOid;
	rt->perminfos = NIL;
	rt->inserted = &rte->insertedCols;
	rt->updated = &rte->updatedCols;
#endif
	rt->rtable = list_make1(rte);
}

#if PG_VERSION_NUM >= 160000
#define EcRangeTableInit(estate, rt) ExecInitRangeTable((estate), (rt)->rtable, (rt)->perminfos)
#define EcCheckPermissions(rt) ExecCheckPermissions((rt)->rtable, (rt)->perminfos, true)
#else
#define EcRangeTableInit(estate, rt) ExecInitRangeTable((estate), (rt)->rtable)
#define EcCheckPermissions(rt) ExecCheckRTPerms((rt)->rtable, true)
#endif

#endif							/* EC_PGCOMPAT_H */
