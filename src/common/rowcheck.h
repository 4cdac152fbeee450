/*-------------------------------------------------------------------------
 *
 * rowcheck.h
 *		The CHECK constraints of a result relation for writers that hold
 *		the row as values: the checks written in C over a whole row
 *		(ec.leads_row_ok, ec.pipeline_events_row_ok) called with the values,
 *		every other CHECK and NOT NULL as the executor evaluates them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_ROWCHECK_H
#define EC_ROWCHECK_H

#include "access/tupdesc.h"
#include "nodes/execnodes.h"

/* src/identity/checks.c: one of the C row checks, prepared for a row type */
typedef struct EcRowCheck EcRowCheck;

/* the check for a call of funcid over desc's rows, or NULL if it is not one */
extern EcRowCheck *EcRowCheckFor(Oid funcid, TupleDesc desc);

/* raises check_violation as the function does; values in desc's order */
extern void EcRowCheckRun(const EcRowCheck *rc, const Datum *values, const bool *isnull);

/*
 * src/common/bulk_insert.c: a result relation's CHECKs, prepared in the
 * current memory context with estate (which must live as long).
 * EcConstraintsCheck answers as ExecConstraints: it returns when the row
 * passes and raises ExecConstraints' own error when it does not.
 */
typedef struct EcConstraints EcConstraints;

extern EcConstraints *EcConstraintsPrepare(ResultRelInfo *rri, EState *estate);
extern void EcConstraintsCheck(EcConstraints *cs, ResultRelInfo *rri, TupleTableSlot *slot, EState *estate);

#endif							/* EC_ROWCHECK_H */
