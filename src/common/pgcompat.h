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

#endif							/* EC_PGCOMPAT_H */
