/*-------------------------------------------------------------------------
 *
 * contactable_log.c
 *		ec.log_contactable_changes(): the AFTER INSERT, UPDATE and DELETE
 *		row trigger of ec.leads that logs, into ec.contactable_changes, the
 *		ids of leads whose contactable columns changed (what
 *		ec.refresh_contactable_leads reads again).
 *
 * A lead is contactable when (email_verified OR phone_verified) AND
 * campaign_status IN ('new', 'queued', 'active') AND NOT email_opt_out
 * (ec.contactable_leads_source).  Logged:
 *	- INSERT: a new row that is contactable;
 *	- DELETE: an old row that was;
 *	- UPDATE: both ids when the id changed; else the id when
 *	  (assigned_broker_id, lead_score, campaign_status, email_verified,
 *	  phone_verified, consent, property_state, email_opt_out) differ while
 *	  the old or the new row is contactable.
 *
 * It was a statement trigger over transition tables, which made every
 * statement writing a lead copy each old and new row (all 50 columns) into
 * tuplestores and read them back, and made a one-lead write a statement
 * with its own trigger call: about 20,000 instructions of each one-lead
 * upsert, 14,500 of each merge in a batch.  A row trigger reads the nine
 * columns of the versions the executor hands it and writes only when there
 * is something to log.  The insert runs as the function's owner: a broker
 * changing its own lead's status has no right to the log, yet its change
 * must be logged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "common/bulk_insert.h"
#include "common/rowcheck.h"

/* the columns read, in this order */
enum
{
	L_ID,
	L_BROKER,
	L_SCORE,
	L_STATUS,
	L_EMAIL_VERIFIED,
	L_PHONE_VERIFIED,
	L_CONSENT,
	L_STATE,
	L_OPT_OUT,
	L_NCOLS
};

static const char *const LogCols[L_NCOLS] = {
	"id", "assigned_broker_id", "lead_score", "campaign_status", "email_verified",
	"phone_verified", "consent", "property_state", "email_opt_out"
};

/* pg_enum oids of the contactable statuses, for the type they belong to */
static Oid	StatusType = InvalidOid;
static Oid	StatusOids[3];

static SPIPlanPtr LogPlan = NULL;

/*
 * The attribute numbers of the columns read, for the relation they were
 * found in: found again after a relcache invalidation of it.
 */
static Oid	ColumnsRel = InvalidOid;
static int	ColumnsAtt[L_NCOLS];
static EcRowInsert *ChangesInsert = NULL;
static bool Callback = false;

static void
ColumnsInval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == ColumnsRel)
		ColumnsRel = InvalidOid;
}

static Oid
EnumOid(Oid type, const char *label)
{
	HeapTuple	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(type),
									  CStringGetDatum(label));
	Oid			oid;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "campaign_status has no label \"%s\"", label);
	oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	return oid;
}

static void
LoadStatuses(Oid type)
{
	if (type == StatusType)
		return;
	StatusOids[0] = EnumOid(type, "new");
	StatusOids[1] = EnumOid(type, "queued");
	StatusOids[2] = EnumOid(type, "active");
	StatusType = type;
}

/* the attribute numbers of the columns read */
static void
FindColumns(Relation rel, int *attnums)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < L_NCOLS; i++)
	{
		attnums[i] = SPI_fnumber(desc, LogCols[i]);
		if (attnums[i] <= 0)
			elog(ERROR, "table \"%s\" has no column \"%s\"",
				 RelationGetRelationName(rel), LogCols[i]);
	}
	LoadStatuses(TupleDescAttr(desc, attnums[L_STATUS] - 1)->atttypid);
}

/* one row version: its id, and whether it is contactable */
static bool
Contactable(TupleTableSlot *slot)
{
	bool		isnull;
	Datum		v;
	Oid			status;

	v = slot_getattr(slot, ColumnsAtt[L_EMAIL_VERIFIED], &isnull);
	if (isnull || !DatumGetBool(v))
	{
		v = slot_getattr(slot, ColumnsAtt[L_PHONE_VERIFIED], &isnull);
		if (isnull || !DatumGetBool(v))
			return false;
	}
	v = slot_getattr(slot, ColumnsAtt[L_STATUS], &isnull);
	if (isnull)
		return false;
	status = DatumGetObjectId(v);
	if (status != StatusOids[0] && status != StatusOids[1] && status != StatusOids[2])
		return false;
	v = slot_getattr(slot, ColumnsAtt[L_OPT_OUT], &isnull);
	return !isnull && !DatumGetBool(v);
}

static int64
RowId(TupleTableSlot *slot)
{
	bool		isnull;
	Datum		v = slot_getattr(slot, ColumnsAtt[L_ID], &isnull);

	if (isnull)
		elog(ERROR, "lead without id in a trigger's row");
	return DatumGetInt64(v);
}

/* IS DISTINCT FROM over the logged columns but id */
static bool
RowsDiffer(TupleTableSlot *a, TupleTableSlot *b)
{
	int			i;

	for (i = L_BROKER; i < L_NCOLS; i++)
	{
		bool		an,
					bn;
		Datum		av = slot_getattr(a, ColumnsAtt[i], &an);
		Datum		bv = slot_getattr(b, ColumnsAtt[i], &bn);

		if (an || bn)
		{
			if (an != bn)
				return true;
			continue;
		}
		if (i == L_SCORE)
		{
			if (!DatumGetBool(DirectFunctionCall2(numeric_eq, av, bv)))
				return true;
		}
		else if (i == L_STATE)
		{
			/* text under a deterministic collation: equal when byte-equal */
			if (!datumIsEqual(av, bv, false, -1))
				return true;
		}
		else if (i == L_BROKER)
		{
			if (DatumGetInt64(av) != DatumGetInt64(bv))
				return true;
		}
		else if (i == L_STATUS)
		{
			if (DatumGetObjectId(av) != DatumGetObjectId(bv))
				return true;
		}
		else if (DatumGetBool(av) != DatumGetBool(bv))
			return true;
	}
	return false;
}

/* INSERT the ids into ec.contactable_changes as the function's owner */
static void
LogIds(FunctionCallInfo fcinfo, const int64 *ids, int n)
{
	Oid		   *owner = (Oid *) fcinfo->flinfo->fn_extra;
	Oid			save_userid;
	int			save_sec_context;
	Oid			changes = EcRelationOid("contactable_changes");
	int			i;

	if (owner == NULL)
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
		owner = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
		*owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
		ReleaseSysCache(tup);
		fcinfo->flinfo->fn_extra = owner;
	}
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(*owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	for (i = 0; i < n; i++)
	{
		static const char *const cols[1] = {"lead_id"};
		Datum		v = Int64GetDatum(ids[i]);
		bool		null = false;
		int			rc;

		/* written directly as an INSERT would write it, or by that INSERT */
		if (OidIsValid(changes) && EcRowInsertOne(&ChangesInsert, changes, 1, cols, &v, &null))
			continue;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (LogPlan == NULL)
		{
			Oid			types[1] = {INT8OID};
			SPIPlanPtr	plan = SPI_prepare("INSERT INTO ec.contactable_changes (lead_id) VALUES ($1)", 1, types);

			if (plan == NULL || SPI_keepplan(plan) != 0)
				elog(ERROR, "could not prepare the contactable change log insert");
			LogPlan = plan;
		}
		rc = SPI_execute_plan(LogPlan, &v, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		SPI_finish();
	}
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* the columns of rel, found once (again after a relcache invalidation) */
static void
ColumnsReady(Relation rel)
{
	if (!Callback)
	{
		CacheRegisterRelcacheCallback(ColumnsInval, (Datum) 0);
		Callback = true;
	}
	if (ColumnsRel != RelationGetRelid(rel))
	{
		FindColumns(rel, ColumnsAtt);
		ColumnsRel = RelationGetRelid(rel);
	}
}

/*
 * The ids the trigger logs for one row: old and new versions of an UPDATE,
 * the new row of an INSERT (old NULL), the old row of a DELETE (new NULL).
 */
static int
ContactableIds(Relation rel, TupleTableSlot *old, TupleTableSlot *new, int64 *ids)
{
	int			n = 0;

	ColumnsReady(rel);
	if (old != NULL && new != NULL)
	{
		int64		oldid = RowId(old);
		int64		newid = RowId(new);

		if (oldid != newid)
		{
			ids[n++] = oldid;
			ids[n++] = newid;
		}
		else if ((Contactable(old) || Contactable(new)) && RowsDiffer(old, new))
			ids[n++] = newid;
	}
	else if (Contactable(old != NULL ? old : new))
		ids[n++] = RowId(old != NULL ? old : new);
	return n;
}

PG_FUNCTION_INFO_V1(ec_log_contactable_changes);

/* Trigger: logs a lead whose contactable columns changed, for the refresh. */
Datum
ec_log_contactable_changes(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	int64		ids[2];
	int			n;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.log_contactable_changes() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.log_contactable_changes() must be fired AFTER INSERT, UPDATE or DELETE FOR EACH ROW")));

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		n = ContactableIds(trigdata->tg_relation, trigdata->tg_trigslot, trigdata->tg_newslot, ids);
	else if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		n = ContactableIds(trigdata->tg_relation, NULL, trigdata->tg_trigslot, ids);
	else
		n = ContactableIds(trigdata->tg_relation, trigdata->tg_trigslot, NULL, ids);
	if (n > 0)
		LogIds(fcinfo, ids, n);
	return PointerGetDatum(NULL);
}

/*
 * For writers that queue the AFTER ROW events themselves
 * (src/common/bulk_insert.c): whether funcid is this trigger's function,
 * and whether its call for a row would log anything (the same decision as
 * the trigger's), so that an event that would do nothing is not queued.
 */
bool
EcContactableLogFunction(Oid funcid)
{
	FmgrInfo	fi;

	fmgr_info(funcid, &fi);
	return fi.fn_addr == ec_log_contactable_changes;
}

bool
EcContactableLogs(Relation rel, TupleTableSlot *old, TupleTableSlot *new)
{
	int64		ids[2];

	return ContactableIds(rel, old, new, ids) > 0;
}
