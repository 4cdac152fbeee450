/*-------------------------------------------------------------------------
 *
 * rowcheck.h
 *		What the writers that keep a result relation (bulk_insert.c,
 *		leadwrite.c) know of the extension's own checks and triggers: the
 *		CHECKs written in C over a whole row (ec.leads_row_ok,
 *		ec.pipeline_events_row_ok), called with the values, every other
 *		CHECK and NOT NULL as the executor evaluates them; and the AFTER ROW
 *		events that would do nothing for a row, left unqueued.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_ROWCHECK_H
#define EC_ROWCHECK_H

#include "access/tupdesc.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

/* src/identity/checks.c: one of the C row checks, prepared for a row type */
typedef struct EcRowCheck EcRowCheck;

/* the check for a call of funcid over desc's rows, or NULL if it is not one */
extern EcRowCheck *EcRowCheckFor(Oid funcid, TupleDesc desc);

/* raises check_violation as the function does; values in desc's order */
extern void EcRowCheckRun(const EcRowCheck *rc, const Datum *values, const bool *isnull);

/*
 * src/identity/contactable_log.c: whether funcid is the contactable change
 * log's trigger function, and whether it would log anything for a row
 * (old NULL: an insert; new NULL: a delete).
 */
extern bool EcContactableLogFunction(Oid funcid);
extern bool EcContactableLogs(Relation rel, TupleTableSlot *old, TupleTableSlot *new);

/*
 * src/common/bulk_insert.c: a result relation's CHECKs, prepared in the
 * current memory context with estate (which must live as long).
 * EcConstraintsCheck answers as ExecConstraints: it returns when the row
 * passes and raises ExecConstraints' own error when it does not.
 */
typedef struct EcConstraints EcConstraints;

extern EcConstraints *EcConstraintsPrepare(ResultRelInfo *rri, EState *estate);
extern void EcConstraintsCheck(EcConstraints *cs, ResultRelInfo *rri, TupleTableSlot *slot, EState *estate);

/*
 * src/common/bulk_insert.c: the AFTER ROW events of a row that would do
 * nothing, left out as PostgreSQL leaves out a foreign key's check when the
 * key did not change.  Begin, right before ExecARInsertTriggers or
 * ExecARUpdateTriggers, gives rri the trigger list without them (old NULL
 * for an insert); End, right after, gives the whole list back.
 */
typedef struct EcAfterRowSkip EcAfterRowSkip;

extern EcAfterRowSkip *EcAfterRowSkipPrepare(ResultRelInfo *rri);
extern void EcAfterRowSkipBegin(EcAfterRowSkip *s, ResultRelInfo *rri, TupleTableSlot *old,
								TupleTableSlot *new);
extern void EcAfterRowSkipEnd(EcAfterRowSkip *s, ResultRelInfo *rri);

#endif							/* EC_ROWCHECK_H */
