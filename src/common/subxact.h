/*-------------------------------------------------------------------------
 *
 * subxact.h
 *		Ending an internal subtransaction, the PL/pgSQL way (pl_exec.c's
 *		exec_stmt_block): after the work, or after an error caught in
 *		PG_CATCH, with the caller's memory context and resource owner back.
 *
 *		BeginInternalSubTransaction(NULL);
 *		MemoryContextSwitchTo(cxt);
 *		PG_TRY();
 *		{
 *			... work ...
 *			EcSubxactCommit(cxt, owner);
 *		}
 *		PG_CATCH();
 *		{
 *			ErrorData  *edata = EcSubxactAbort(cxt, owner);
 *
 *			... rethrow (ReThrowError) or handle, then FreeErrorData ...
 *		}
 *		PG_END_TRY();
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_SUBXACT_H
#define EC_SUBXACT_H

#include "access/xact.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

/* Commits the subtransaction and restores cxt and owner. */
static inline void
EcSubxactCommit(MemoryContext cxt, ResourceOwner owner)
{
	ReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

/*
 * In PG_CATCH: copies the error into cxt, rolls the subtransaction back,
 * restores cxt and owner, and returns the error for the caller to judge.
 */
static inline ErrorData *
EcSubxactAbort(MemoryContext cxt, ResourceOwner owner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return edata;
}

/* Rolls the subtransaction back without an error; restores cxt and owner. */
static inline void
EcSubxactRollback(MemoryContext cxt, ResourceOwner owner)
{
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

#endif							/* EC_SUBXACT_H */
