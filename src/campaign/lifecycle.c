/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *		The lead lifecycle trigger, ec.set_added_to_campaign_at(): a
 *		campaign_status change must be a row of
 *		ec.campaign_status_transitions, and a lead that becomes 'active'
 *		gets its added_to_campaign_at.
 *
 * It fires for every lead the feeder moves (queued -> active, 25,000 a
 * day), so it is C with the transitions cached per backend instead of a
 * query per row.  The table is data a user may change: a statement trigger
 * on it (ec.campaign_status_transitions_changed) sends a relcache
 * invalidation, and the cache is dropped on any invalidation of the table,
 * as src/campaign/score.c does for the score weights.  A backend sees its
 * own change at the next command, the others when it commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/* One allowed move (enum value oids of ec.campaign_status). */
typedef struct EcTransition
{
	Oid			from_status;
	Oid			to_status;
} EcTransition;

static bool lifecycle_valid = false;
static bool lifecycle_callback = false;
static Oid	transitions_relid = InvalidOid;
static EcTransition *transitions = NULL;
static int	ntransitions = 0;
static MemoryContext lifecycle_context = NULL;

/* Attribute numbers in ec.leads, resolved once per trigger call site (fn_extra). */
typedef struct LifecycleAttnums
{
	Oid			typid;			/* row type they were resolved for */
	int			id;
	int			campaign_status;
	int			added_to_campaign_at;
	Oid			active;			/* enum oid of 'active' */
} LifecycleAttnums;

static uint64 lifecycle_invalidations = 0;

static void
InvalidateTransitions(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == transitions_relid)
	{
		lifecycle_valid = false;
		lifecycle_invalidations++;
	}
}

/* Loads ec.campaign_status_transitions into the cache (read as its owner). */
static void
LoadTransitions(void)
{
	HeapTuple	tup;
	Oid			owner,
				save_userid;
	int			save_sec_context;
	int			rc;
	uint64		i;
	uint64		invalidations;

	if (lifecycle_valid)
		return;
	if (!lifecycle_callback)
	{
		CacheRegisterRelcacheCallback(InvalidateTransitions, (Datum) 0);
		lifecycle_callback = true;
	}
	if (lifecycle_context == NULL)
		lifecycle_context = AllocSetContextCreate(CacheMemoryContext, "ec lead lifecycle",
												  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(lifecycle_context);
	transitions = NULL;
	ntransitions = 0;
	invalidations = lifecycle_invalidations;

	transitions_relid = get_relname_relid("campaign_status_transitions", get_namespace_oid("ec", false));
	if (!OidIsValid(transitions_relid))
		elog(ERROR, "table ec.campaign_status_transitions does not exist");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(transitions_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", transitions_relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* an enum datum is its value's oid */
	rc = SPI_execute("SELECT from_status, to_status"
					 " FROM ec.campaign_status_transitions", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read ec.campaign_status_transitions: %s", SPI_result_code_string(rc));
	transitions = MemoryContextAlloc(lifecycle_context, sizeof(EcTransition) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		transitions[i].from_status = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull));
		transitions[i].to_status = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																  SPI_tuptable->tupdesc, 2, &isnull));
	}
	ntransitions = (int) SPI_processed;
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	/* an invalidation that arrived while reading makes the next call read again */
	lifecycle_valid = (invalidations == lifecycle_invalidations);
}

static bool
TransitionAllowed(Oid from_status, Oid to_status)
{
	int			i;

	LoadTransitions();
	for (i = 0; i < ntransitions; i++)
	{
		if (transitions[i].from_status == from_status && transitions[i].to_status == to_status)
			return true;
	}
	return false;
}

static int
LifecycleAttnum(TupleDesc desc, const char *name)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("row has no column \"%s\"", name),
				 errhint("ec.set_added_to_campaign_at() fires on ec.leads.")));
	return attnum;
}

static const LifecycleAttnums *
LifecycleAttnumsFor(FmgrInfo *flinfo, TupleDesc desc)
{
	LifecycleAttnums *a = (LifecycleAttnums *) flinfo->fn_extra;
	HeapTuple	tup;

	if (a != NULL && a->typid == desc->tdtypeid)
		return a;
	if (a == NULL)
		a = MemoryContextAlloc(flinfo->fn_mcxt, sizeof(LifecycleAttnums));
	a->typid = InvalidOid;
	a->id = LifecycleAttnum(desc, "id");
	a->campaign_status = LifecycleAttnum(desc, "campaign_status");
	a->added_to_campaign_at = LifecycleAttnum(desc, "added_to_campaign_at");
	if (TupleDescAttr(desc, a->added_to_campaign_at - 1)->atttypid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"added_to_campaign_at\" must be of type timestamptz")));
	tup = SearchSysCache2(ENUMTYPOIDNAME,
						  ObjectIdGetDatum(TupleDescAttr(desc, a->campaign_status - 1)->atttypid),
						  CStringGetDatum("active"));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"campaign_status\" has no value \"active\"")));
	a->active = ((Form_pg_enum) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	a->typid = desc->tdtypeid;
	flinfo->fn_extra = a;
	return a;
}

static char *
StatusLabel(Oid status)
{
	return DatumGetCString(DirectFunctionCall1(enum_out, ObjectIdGetDatum(status)));
}

/*
 * Trigger ec.set_added_to_campaign_at(): BEFORE UPDATE OF campaign_status
 * (when it changes) or BEFORE INSERT (when 'active'), FOR EACH ROW on
 * ec.leads.
 */
PG_FUNCTION_INFO_V1(ec_set_added_to_campaign_at);
Datum
ec_set_added_to_campaign_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	bool		update;
	HeapTuple	tup;
	TupleDesc	desc;
	const LifecycleAttnums *a;
	Oid			new_status;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) || TRIGGER_FIRED_BY_INSERT(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.set_added_to_campaign_at() must be fired BEFORE INSERT OR UPDATE, FOR EACH ROW")));

	update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	tup = update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);
	a = LifecycleAttnumsFor(fcinfo->flinfo, desc);

	new_status = DatumGetObjectId(heap_getattr(tup, a->campaign_status, desc, &isnull));
	if (isnull)
		new_status = InvalidOid;
	if (update)
	{
		HeapTuple	old = trigdata->tg_trigtuple;
		bool		old_null;
		Oid			old_status = DatumGetObjectId(heap_getattr(old, a->campaign_status, desc, &old_null));

		if (old_null || isnull || !TransitionAllowed(old_status, new_status))
		{
			char	   *id = SPI_getvalue(old, desc, a->id);

			/* the wording of the PL/pgSQL trigger this replaces (NULL as RAISE shows it) */
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("lead %s cannot move from \"%s\" to \"%s\"",
							id ? id : "<NULL>",
							old_null ? "<NULL>" : StatusLabel(old_status),
							isnull ? "<NULL>" : StatusLabel(new_status)),
					 errhint("ec.campaign_status_transitions lists the allowed moves.")));
		}
	}
	if (!isnull && new_status == a->active)
	{
		bool		date_null;
		TimestampTz now = GetCurrentTransactionStartTimestamp();
		Datum		date = heap_getattr(tup, a->added_to_campaign_at, desc, &date_null);

		/*
		 * (A row that already has this date, as the feeder's UPDATE sets
		 * it, is left as it is: no copy of the row.)
		 */
		if ((update || date_null) && (date_null || DatumGetTimestampTz(date) != now))
		{
			int			attnum = a->added_to_campaign_at;
			Datum		value = TimestampTzGetDatum(now);
			bool		value_null = false;

			tup = heap_modify_tuple_by_cols(tup, desc, 1, &attnum, &value, &value_null);
		}
	}
	return PointerGetDatum(tup);
}

/*
 * Trigger ec.campaign_status_transitions_changed(): AFTER any change of
 * ec.campaign_status_transitions, FOR EACH STATEMENT: every backend reloads
 * the lifecycle.
 */
PG_FUNCTION_INFO_V1(ec_campaign_status_transitions_changed);
Datum
ec_campaign_status_transitions_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.campaign_status_transitions_changed() must be fired as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
