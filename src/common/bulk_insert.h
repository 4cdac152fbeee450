/*-------------------------------------------------------------------------
 *
 * bulk_insert.h
 *		Many rows into one table as COPY FROM writes them (a
 *		table_multi_insert per batch, then each row's index entries), with
 *		each foreign key of the table checked once for all the rows instead
 *		of one query per row (src/common/bulk_insert.c says why that is the
 *		same guarantee).
 *
 *		EcBulkInsert *bi = EcBulkInsertBegin(relid, ncolumns, names);
 *
 *		if (bi == NULL)
 *			... a plain INSERT (row security, triggers or rules need it) ...
 *		else
 *		{
 *			for each row: EcBulkInsertRow(bi, values, nulls);
 *			n = EcBulkInsertEnd(bi);
 *		}
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_BULK_INSERT_H
#define EC_BULK_INSERT_H

#include "postgres.h"

#include "nodes/execnodes.h"

#include "common/pgcompat.h"

typedef struct EcBulkInsert EcBulkInsert;

/*
 * Starts inserting into relid the named columns (the others get their
 * defaults), after the INSERT privilege check of those columns. NULL when
 * the table needs the executor's INSERT: row security applies, a trigger
 * other than a foreign key's check fires on insert, a rule, a generated
 * column, a foreign key this module does not check.
 */
extern EcBulkInsert *EcBulkInsertBegin(Oid relid, int ncolumns, const char *const *columns);

/* One row: the values of the named columns, in their order (copied). */
extern void EcBulkInsertRow(EcBulkInsert *bi, const Datum *values, const bool *nulls);

/* Writes what is buffered, checks the foreign keys, ends; the rows inserted. */
extern uint64 EcBulkInsertEnd(EcBulkInsert *bi);

/*
 * One row into relid's named columns, as EcBulkInsertRow would write it,
 * for callers that write one row per call: what an INSERT sets up per
 * statement (result relation, index descriptions, CHECK and default
 * expressions) is kept for the session in *cache (NULL at first) and built
 * again when the table, its indexes, a function or a type change.  False,
 * with nothing written, when the table needs the executor's INSERT (as for
 * EcBulkInsertBegin, and for any foreign key): the caller runs its INSERT.
 */
typedef struct EcRowInsert EcRowInsert;

extern bool EcRowInsertOne(EcRowInsert **cache, Oid relid, int ncolumns, const char *const *columns,
						   const Datum *values, const bool *nulls);

/*
 * One row into relid's named columns as an INSERT statement of that one row
 * writes it, with the table's triggers fired (BEFORE and AFTER, ROW and
 * STATEMENT, transition tables, foreign keys, deferred unique checks), the
 * setup kept as for EcRowInsertOne.  types: each column's type, or text
 * for an enum column (converted here); NULL: the values are of the columns'
 * types.  1: written, *inserted the row as written (valid until the next
 * call with the cache); 0: a BEFORE trigger skipped it; -1: nothing done,
 * the caller runs its INSERT (row security, rules, other column types).
 */
/*
 * A result relation kept for the session by a writer (EcRowInsert here, the
 * merge writer of src/identity/leadwrite.c): its index descriptions, CHECK
 * states and trigger functions, in an executor state of its own.  Every
 * one of the session is marked invalid on a relcache invalidation of its
 * table or one of its indexes, and on any change of a function or a type;
 * the writer marks it invalid during a statement, so one that ended in an
 * error is built again.  Start (re)starts k for rel, open and locked by
 * the caller: a fresh k->cxt, made current (the previous context is
 * returned); the caller builds its range table there; Finish makes the
 * result relation and opens its indexes (fire: the AFTER events find it
 * and its trigger functions are looked up into k->cxt).  Usable: k is
 * valid for rel, and its indexes are open and locked for the statement.
 */
typedef struct EcKeptRel
{
	MemoryContext cxt;			/* a child of CacheMemoryContext */
	EState	   *estate;			/* its query context is cxt's child */
	ResultRelInfo *rri;
	Oid		   *indexids;
	struct EcConstraints *checks;	/* its CHECKs (common/rowcheck.h) */
	struct EcAfterRowSkip *skip;	/* AFTER ROW events left out (fire only) */
	bool		valid;
	Oid			relid;
	Relation	rel;			/* the relcache entry it was built on */
	bool		registered;
	struct EcKeptRel *next;		/* every one of the session */
} EcKeptRel;

extern MemoryContext EcKeptRelStart(EcKeptRel *k, Relation rel, const char *name);
extern void EcKeptRelFinish(EcKeptRel *k, EcRangeTable *rt, bool fire);
extern bool EcKeptRelUsable(EcKeptRel *k, Relation rel);

/*
 * For writers that keep a statement's result relation for the session:
 * lock and open its indexes for a statement (false if one is not the one
 * kept: rebuild), close them at its end, and release what the statement's
 * triggers left in the kept estate (EcKeptStatementEnd, after
 * AfterTriggerEndQuery).
 */
extern bool EcKeptIndexesOpen(ResultRelInfo *rri, const Oid *indexids);
extern void EcKeptIndexesClose(ResultRelInfo *rri);
extern void EcKeptStatementEnd(EState *estate, ResultRelInfo *rri);

/*
 * The same for many rows in one INSERT statement (a batch): Begin answers
 * NULL where EcRowInsertFire answers -1; Row answers as EcRowInsertFire for
 * its row (*inserted valid until the next row); End ends the statement.
 * many: the rows go through a bulk-insert state, as COPY writes them.
 */
typedef struct EcFiredInsert EcFiredInsert;

extern EcFiredInsert *EcFiredInsertBegin(EcRowInsert **cache, Oid relid, int ncolumns,
										 const char *const *columns, const Oid *types, bool many);
extern int	EcFiredInsertRow(EcFiredInsert *fi, const Datum *values, const bool *nulls,
							 TupleTableSlot **inserted);
extern void EcFiredInsertEnd(EcFiredInsert *fi);

/*
 * The OID of a relation of schema ec by its name (a string constant of the
 * caller's), cached until a pg_class or pg_namespace row changes;
 * InvalidOid if there is none.
 */
extern Oid	EcRelationOid(const char *name);

/* an enum's value for a label given as text (cached for the session) */
extern Datum EcEnumValue(Oid enumtype, Datum label);

/*
 * Whether the writers take a caller's value of type given for a column of
 * type coltype: the same type, or text for an enum column (*enum_type is
 * then the enum, for EcEnumValue; InvalidOid otherwise).
 */
extern bool EcColumnTakes(Oid coltype, Oid given, Oid *enum_type);

extern int	EcRowInsertFire(EcRowInsert **cache, Oid relid, int ncolumns, const char *const *columns,
							const Oid *types, const Datum *values, const bool *nulls,
							TupleTableSlot **inserted);

#endif							/* EC_BULK_INSERT_H */
