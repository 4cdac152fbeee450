/*-------------------------------------------------------------------------
 *
 * rowwriter.h
 *		Appending rows to a table the way COPY FROM does: table_multi_insert
 *		of a buffer of slots (one WAL record per page, not per row), index
 *		entries through ExecInsertIndexTuples, the defaults of the columns
 *		not given (identity, now()) evaluated as COPY evaluates them, CHECK
 *		and NOT NULL constraints through ExecConstraints.
 *
 *		It is for the extension's own tables (logs, staging, new leads).
 *		EcRowWriterOpen answers NULL, and the caller writes through SQL
 *		instead, when row security applies to the caller, when the caller
 *		lacks the table-level INSERT privilege (SQL then checks each column),
 *		and, without EC_ROWWRITER_TRIGGERS, when the table has an INSERT
 *		trigger (a user's audit trigger, a foreign key): policies, grants
 *		and triggers see every row.
 *
 *		With EC_ROWWRITER_TRIGGERS the table's INSERT triggers fire as an
 *		INSERT statement fires them (BEFORE/AFTER STATEMENT, BEFORE/AFTER
 *		ROW, transition tables, foreign-key checks at the end of the
 *		statement); rows are then written one at a time, at once, and
 *		EcRowWriterPut answers each row as written.
 *
 *		w = EcRowWriterOpen("pipeline_events", 3, cols);
 *		if (w != NULL)
 *		{
 *			EcRowWriterPut(w, values, nulls);	 ... per row ...
 *			EcRowWriterClose(w);				 writes what is buffered
 *		}
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_ROWWRITER_H
#define EC_ROWWRITER_H

#include "postgres.h"

#include "executor/executor.h"
#include "utils/relcache.h"

/*
 * ExecInsertIndexTuples gained an argument (only_summarizing) in
 * PostgreSQL 16.
 */
#if PG_VERSION_NUM >= 160000
#define EcInsertIndexTuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define EcInsertIndexTuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

typedef struct EcRowWriter EcRowWriter;

/*
 * Open ec.<relname> for appending rows of the ncols named columns (the
 * others take their defaults); NULL when the rows must go through SQL: row
 * security applies to the caller, the caller lacks the table-level INSERT
 * privilege (SQL then checks each column), or (without
 * EC_ROWWRITER_TRIGGERS) the table has an INSERT trigger.
 */
extern EcRowWriter *EcRowWriterOpen(const char *relname, int ncols, const char *const *colnames);

#define EC_ROWWRITER_TRIGGERS 0x01
extern EcRowWriter *EcRowWriterOpenExtended(const char *relname, int ncols, const char *const *colnames,
											int flags);

/*
 * One row: values of the named columns, in their order (copied at once).
 * With EC_ROWWRITER_TRIGGERS: the row as written (valid until the next
 * call), or NULL when a BEFORE ROW trigger skipped it; else NULL.
 */
extern TupleTableSlot *EcRowWriterPut(EcRowWriter *w, const Datum *values, const bool *nulls);

/* The table being written. */
extern Relation EcRowWriterRelation(EcRowWriter *w);

/* Write the buffered rows now. */
extern void EcRowWriterFlush(EcRowWriter *w);

/* Write the buffered rows, fire what waits for the end of the statement, release everything. */
extern void EcRowWriterClose(EcRowWriter *w);

#endif							/* EC_ROWWRITER_H */
