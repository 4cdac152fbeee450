/*-------------------------------------------------------------------------
 *
 * rowwriter.h
 *		Writing rows into a table as COPY FROM writes them when the table has
 *		BEFORE ROW triggers: one row at a time, at once, with the table's
 *		INSERT triggers fired as an INSERT statement fires them (BEFORE/AFTER
 *		STATEMENT, BEFORE/AFTER ROW, transition tables, foreign-key checks at
 *		the end of the statement), index entries through
 *		ExecInsertIndexTuples, the defaults of the columns not given
 *		(identity, now()) evaluated as COPY evaluates them, CHECK and NOT NULL
 *		constraints through ExecConstraints.
 *
 *		EcRowWriterOpen answers NULL, and the caller writes through SQL
 *		instead, when row security applies to the caller or the caller lacks
 *		the table-level INSERT privilege (SQL then checks each column), so
 *		that policies and grants see every row.
 *
 *		w = EcRowWriterOpen("leads", n, cols);
 *		if (w != NULL)
 *		{
 *			slot = EcRowWriterPut(w, values, nulls);	 ... per row ...
 *			EcRowWriterClose(w);						 the statement's end
 *		}
 *
 *		(Tables without such triggers: src/common/bulk_insert.c.)
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_ROWWRITER_H
#define EC_ROWWRITER_H

#include "postgres.h"

#include "executor/executor.h"

#include "common/pgcompat.h"


typedef struct EcRowWriter EcRowWriter;

/*
 * Open ec.<relname> for inserting rows of the ncols named columns (the
 * others take their defaults); NULL when the rows must go through SQL.
 */
extern EcRowWriter *EcRowWriterOpen(const char *relname, int ncols, const char *const *colnames);

/*
 * One row: values of the named columns, in their order.  The row as
 * written (valid until the next call), or NULL when a BEFORE ROW trigger
 * skipped it.
 */
extern TupleTableSlot *EcRowWriterPut(EcRowWriter *w, const Datum *values, const bool *nulls);

/* The statement's end: AFTER STATEMENT triggers, the queued AFTER events; release everything. */
extern void EcRowWriterClose(EcRowWriter *w);

#endif							/* EC_ROWWRITER_H */
