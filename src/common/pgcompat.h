/*-------------------------------------------------------------------------
 *
 * pgcompat.h
 *		Calls whose signature differs between the PostgreSQL versions the
 *		extension builds against (15, 16, 17).
 *
 * The extension is built and tested against PostgreSQL 15; the test
 * command also compiles every source against PostgreSQL 17's headers
 * (scripts/pg17-check.sh).  No PostgreSQL 16 headers are at hand, so the
 * 16 branches below follow PostgreSQL's REL_16_STABLE source as we know
 * it and are compiled by nothing here: each says so where 16 differs
 * from 17.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_PGCOMPAT_H
#define EC_PGCOMPAT_H

#include "postgres.h"

#include "access/tableam.h"
#include "catalog/pg_proc.h"
#include "commands/trigger.h"
#include "common/jsonapi.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/memutils.h"
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
 * after a HOT update).  ExecBRUpdateTriggers gained the lock result
 * (TM_Result *, may be NULL) in 16: 15 has that form only as
 * ExecBRUpdateTriggersNew.  A 17 minor release (17.12 has it) added a
 * MERGE flag, again as ExecBRUpdateTriggersNew, and kept the 8-argument
 * ExecBRUpdateTriggers as a wrapper passing false: the 8-argument form is
 * the one every 16 and 17 minor has.  (16: from the PostgreSQL source and
 * 15's back-patched ExecBRUpdateTriggersNew, not compiled here.)  No
 * EvalPlanQual state: the caller has locked the row.
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
#if PG_VERSION_NUM >= 160000
#define EcBRUpdateTriggers(estate, rri, tid, slot) \
	ExecBRUpdateTriggers((estate), NULL, (rri), (tid), NULL, (slot), NULL, NULL)
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

/*
 * Checking a result relation set up by hand before writing to it: 17 added
 * the MERGE actions (NIL for other commands); 16 has 15's two arguments
 * (from the PostgreSQL source, not compiled here).  Later minors of 15 and
 * 17 (15.20, 17.12) added CheckValidResultRelNew with the ON CONFLICT
 * action and kept this form.
 */
#if PG_VERSION_NUM >= 170000
#define EcCheckValidResultRel(rri, operation) CheckValidResultRel((rri), (operation), NIL)
#else
#define EcCheckValidResultRel(rri, operation) CheckValidResultRel((rri), (operation))
#endif

/*
 * EXECUTE privilege on a function: pg_proc_aclcheck and its kin gave way
 * to object_aclcheck in 16.
 */
#if PG_VERSION_NUM >= 160000
#define EcProcAclCheck(fn, roleid, mode) object_aclcheck(ProcedureRelationId, (fn), (roleid), (mode))
#else
#define EcProcAclCheck(fn, roleid, mode) pg_proc_aclcheck((fn), (roleid), (mode))
#endif

/*
 * This backend's index in the PGPROC array, for GetPGProcByNumber: 17
 * dropped PGPROC.pgprocno for MyProcNumber (GetNumberFromPGProc(MyProc)).
 */
#if PG_VERSION_NUM >= 170000
#define EcMyProcNumber() ((int) MyProcNumber)
#else
#define EcMyProcNumber() (MyProc->pgprocno)
#endif

/*
 * A wait event set that lives as long as the process: up to 16 it is
 * allocated in the memory context given (TopMemoryContext); since 17 it
 * is always allocated in TopMemoryContext and the argument is the
 * resource owner that tracks it, NULL for the session's lifetime (as
 * PostgreSQL's source says; only the 17 signature is compiled here).
 */
#if PG_VERSION_NUM >= 170000
#define EcCreateProcessWaitEventSet(nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define EcCreateProcessWaitEventSet(nevents) CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

/*
 * PostgreSQL's JSON parser: semantic-action callbacks return
 * JsonParseErrorType since 16 (JSON_SUCCESS to go on), nothing before;
 * write them as
 *		static EcJsonActionResult
 *		Callback(void *state) { ...; return EC_JSON_ACTION_OK; }
 * makeJsonLexContextCstringLen takes the context to fill first since 17
 * (NULL: palloc one, as before).  16's side of both (callbacks returning
 * JsonParseErrorType, the constructor without the context) follows the
 * PostgreSQL source and is not compiled here.
 */
#if PG_VERSION_NUM >= 160000
typedef JsonParseErrorType EcJsonActionResult;
#define EC_JSON_ACTION_OK JSON_SUCCESS
#else
typedef void EcJsonActionResult;
#define EC_JSON_ACTION_OK
#endif
#if PG_VERSION_NUM >= 170000
#define EcJsonLexContextCstringLen(json, len, encoding, need_escapes) \
	makeJsonLexContextCstringLen(NULL, (json), (len), (encoding), (need_escapes))
#else
#define EcJsonLexContextCstringLen(json, len, encoding, need_escapes) \
	makeJsonLexContextCstringLen((json), (len), (encoding), (need_escapes))
#endif

#endif							/* EC_PGCOMPAT_H */
