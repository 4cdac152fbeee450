/*-------------------------------------------------------------------------
 *
 * contactable_log.c
 *		ec.log_contactable_changes(): the statement-level AFTER INSERT,
 *		UPDATE and DELETE trigger of ec.leads that logs, into
 *		ec.contactable_changes, the ids of leads whose contactable columns
 *		changed (what ec.refresh_contactable_leads reads again).
 *
 * A lead is contactable when (email_verified OR phone_verified) AND
 * campaign_status IN ('new', 'queued', 'active') AND NOT email_opt_out
 * (ec.contactable_leads_source).  Logged:
 *	- INSERT: the new rows that are contactable;
 *	- DELETE: the old rows that were;
 *	- UPDATE: old and new rows matched on id (a full join): an id on one side
 *	  only, and a pair whose (assigned_broker_id, lead_score, campaign_status,
 *	  email_verified, phone_verified, consent, property_state, email_opt_out)
 *	  differ while either side is contactable.
 *
 * It was a PL/pgSQL function running one INSERT ... SELECT over the
 * transition tables per statement; one lead merged by ec.upsert_lead paid
 * for a whole statement (and the interpreter) to log nothing.  Here the
 * transition tables are read directly and a statement runs only when there
 * is something to log.  The insert runs as the function's owner, as the
 * SECURITY DEFINER PL/pgSQL functions did: a broker changing its own lead's
 * status has no right to the log, yet its change must be logged.
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
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

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

/* one row of a transition table, the columns above */
typedef struct LogRow
{
	int64		id;
	Datum		v[L_NCOLS];
	bool		null[L_NCOLS];
	bool		contactable;
} LogRow;

/* pg_enum oids of the contactable statuses, for the type they belong to */
static Oid	StatusType = InvalidOid;
static Oid	StatusOids[3];

static SPIPlanPtr LogPlan = NULL;

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

/* every row of a transition table, with its contactable flag */
static LogRow *
ReadRows(Tuplestorestate *ts, Relation rel, const int *attnums, int *n)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	TupleDesc	desc = RelationGetDescr(rel);
	int			cap = 16,
				count = 0;
	LogRow	   *rows = palloc(sizeof(LogRow) * cap);

	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		LogRow	   *r;
		int			i;
		Oid			status;

		if (count == cap)
		{
			cap *= 2;
			rows = repalloc(rows, sizeof(LogRow) * cap);
		}
		r = &rows[count++];
		for (i = 0; i < L_NCOLS; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, attnums[i] - 1);
			Datum		v = slot_getattr(slot, attnums[i], &r->null[i]);

			r->v[i] = r->null[i] ? (Datum) 0 : datumCopy(v, att->attbyval, att->attlen);
		}
		if (r->null[L_ID])
			elog(ERROR, "lead without id in a transition table");
		r->id = DatumGetInt64(r->v[L_ID]);
		/* the flags and the status are NOT NULL columns */
		status = r->null[L_STATUS] ? InvalidOid : DatumGetObjectId(r->v[L_STATUS]);
		r->contactable =
			((!r->null[L_EMAIL_VERIFIED] && DatumGetBool(r->v[L_EMAIL_VERIFIED])) ||
			 (!r->null[L_PHONE_VERIFIED] && DatumGetBool(r->v[L_PHONE_VERIFIED]))) &&
			(status == StatusOids[0] || status == StatusOids[1] || status == StatusOids[2]) &&
			!r->null[L_OPT_OUT] && !DatumGetBool(r->v[L_OPT_OUT]);
		ExecClearTuple(slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	*n = count;
	return rows;
}

static int
CompareRowId(const void *a, const void *b)
{
	int64		x = ((const LogRow *) a)->id;
	int64		y = ((const LogRow *) b)->id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* IS DISTINCT FROM over the logged columns but id */
static bool
RowsDiffer(const LogRow *a, const LogRow *b)
{
	int			i;

	for (i = L_BROKER; i < L_NCOLS; i++)
	{
		if (a->null[i] || b->null[i])
		{
			if (a->null[i] != b->null[i])
				return true;
			continue;
		}
		if (i == L_SCORE)
		{
			if (!DatumGetBool(DirectFunctionCall2(numeric_eq, a->v[i], b->v[i])))
				return true;
		}
		else if (i == L_STATE)
		{
			/* text under a deterministic collation: equal when byte-equal */
			if (!datumIsEqual(a->v[i], b->v[i], false, -1))
				return true;
		}
		else if (i == L_BROKER)
		{
			if (DatumGetInt64(a->v[i]) != DatumGetInt64(b->v[i]))
				return true;
		}
		else if (i == L_STATUS)
		{
			if (DatumGetObjectId(a->v[i]) != DatumGetObjectId(b->v[i]))
				return true;
		}
		else if (DatumGetBool(a->v[i]) != DatumGetBool(b->v[i]))
			return true;
	}
	return false;
}

/* INSERT the ids into ec.contactable_changes as the function's owner */
static void
LogIds(Oid fn_oid, Datum *ids, int n)
{
	HeapTuple	tup;
	Oid			owner,
				save_userid;
	int			save_sec_context,
				rc;
	Datum		arg;

	if (n == 0)
		return;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	arg = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (LogPlan == NULL)
	{
		Oid			types[1] = {INT8ARRAYOID};
		SPIPlanPtr	plan = SPI_prepare("INSERT INTO ec.contactable_changes (lead_id)"
									   " SELECT pg_catalog.unnest($1)", 1, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the contactable change log insert");
		LogPlan = plan;
	}
	rc = SPI_execute_plan(LogPlan, &arg, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

PG_FUNCTION_INFO_V1(ec_log_contactable_changes);

/* Trigger: logs leads whose contactable columns changed, for the refresh. */
Datum
ec_log_contactable_changes(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	int			attnums[L_NCOLS];
	LogRow	   *olds = NULL,
			   *news = NULL;
	int			nold = 0,
				nnew = 0,
				i,
				j,
				n = 0;
	Datum	   *ids;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.log_contactable_changes() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.log_contactable_changes() must be fired AFTER INSERT, UPDATE or DELETE FOR EACH STATEMENT")));
	if ((!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && trigdata->tg_newtable == NULL) ||
		(!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) && trigdata->tg_oldtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.log_contactable_changes() needs the statement's transition tables"),
				 errhint("Create the trigger with REFERENCING OLD TABLE AS ... NEW TABLE AS ....")));

	FindColumns(trigdata->tg_relation, attnums);
	if (trigdata->tg_oldtable)
		olds = ReadRows(trigdata->tg_oldtable, trigdata->tg_relation, attnums, &nold);
	if (trigdata->tg_newtable)
		news = ReadRows(trigdata->tg_newtable, trigdata->tg_relation, attnums, &nnew);
	ids = palloc(sizeof(Datum) * Max(nold + nnew, 1));

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		for (j = 0; j < nnew; j++)
			if (news[j].contactable)
				ids[n++] = Int64GetDatum(news[j].id);
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		for (i = 0; i < nold; i++)
			if (olds[i].contactable)
				ids[n++] = Int64GetDatum(olds[i].id);
	}
	else
	{
		/* the full join on id: both sides sorted, then merged */
		if (nold > 1)
			qsort(olds, nold, sizeof(LogRow), CompareRowId);
		if (nnew > 1)
			qsort(news, nnew, sizeof(LogRow), CompareRowId);
		i = j = 0;
		while (i < nold || j < nnew)
		{
			if (j >= nnew || (i < nold && olds[i].id < news[j].id))
				ids[n++] = Int64GetDatum(olds[i++].id);
			else if (i >= nold || news[j].id < olds[i].id)
				ids[n++] = Int64GetDatum(news[j++].id);
			else
			{
				if ((olds[i].contactable || news[j].contactable) &&
					RowsDiffer(&olds[i], &news[j]))
					ids[n++] = Int64GetDatum(news[j].id);
				i++;
				j++;
			}
		}
	}
	LogIds(fcinfo->flinfo->fn_oid, ids, n);
	return PointerGetDatum(NULL);
}
