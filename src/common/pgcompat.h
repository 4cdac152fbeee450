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

#endif							/* EC_PGCOMPAT_H */
