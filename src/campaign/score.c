/*-------------------------------------------------------------------------
 *
 * score.c
 *		The lead score as SQL functions and as the trigger that keeps
 *		ec.leads.lead_score current (src/core/leadscore.c computes).
 *
 * Weights are rows of ec.lead_score_weights (broker_id NULL: the default;
 * a row per broker overrides it for that broker's leads).  Each backend
 * caches them; a statement trigger on the table sends a relcache
 * invalidation so that every backend reloads after a change commits, as
 * pg_cron does for its job table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "miscadmin.h"
#include "utils/typcache.h"

#include "campaign/campaign.h"
#include "core/leadscore.h"

/* Cached weights: the default and one entry per broker that has its own. */
typedef struct BrokerWeights
{
	int64		broker_id;		/* hash key */
	EcScoreWeights w;
} BrokerWeights;

static bool weights_valid = false;
static bool callback_registered = false;
static Oid	weights_relid = InvalidOid;
static EcScoreWeights default_weights;
static HTAB *broker_weights = NULL;
static MemoryContext score_context = NULL;

/* Attribute numbers of the score's inputs in a row of ec.leads. */
typedef struct ScoreAttnums
{
	Oid			typid;			/* row type they were resolved for */
	int			owner_age;
	int			owner_occupied;
	int			estimated_value;
	int			estimated_equity;
	int			years_owned;
	int			email_verified;
	int			phone_verified;
	int			assigned_broker_id;
	int			lead_score;
} ScoreAttnums;

static void
InvalidateWeights(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == weights_relid)
		weights_valid = false;
}

static double
NumericToDouble(Datum d)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
}

/* Reads a weights row (columns in the order of the query in LoadWeights). */
static void
WeightsFromRow(HeapTuple tup, TupleDesc desc, EcScoreWeights *w)
{
	bool		isnull;

	w->age = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
	w->occupancy = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	w->equity_share = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
	w->equity_amount = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
	w->years_owned = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
	w->email_verified = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &isnull));
	w->phone_verified = DatumGetFloat8(SPI_getbinval(tup, desc, 8, &isnull));
	w->equity_amount_full = DatumGetFloat8(SPI_getbinval(tup, desc, 9, &isnull));
	w->min_age = DatumGetInt32(SPI_getbinval(tup, desc, 10, &isnull));
	w->require_eligible = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
}

/* Loads every weights row into the cache (the table's constraints keep them valid). */
static void
LoadWeights(void)
{
	HASHCTL		ctl;
	uint64		i;
	int			rc;
	HeapTuple	tup;
	Oid			owner,
				save_userid;
	int			save_sec_context;

	if (weights_valid)
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(InvalidateWeights, (Datum) 0);
		callback_registered = true;
	}
	if (score_context == NULL)
		score_context = AllocSetContextCreate(CacheMemoryContext, "ec lead score weights",
											  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(score_context);
	broker_weights = NULL;

	weights_relid = get_relname_relid("lead_score_weights", get_namespace_oid("ec", false));
	if (!OidIsValid(weights_relid))
		elog(ERROR, "table ec.lead_score_weights does not exist");

	ec_score_default_weights(&default_weights);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(BrokerWeights);
	ctl.hcxt = score_context;
	broker_weights = hash_create("ec broker score weights", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/*
	 * Read as the table's owner: every broker's row, whoever's statement
	 * fired the trigger (a broker editing its lead's owner_age reads only
	 * its own row under row security, and the cache is shared by the
	 * backend's later users).
	 */
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(weights_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", weights_relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	SPI_connect();
	rc = SPI_execute("SELECT broker_id, age::float8, occupancy::float8, equity_share::float8, "
					 "equity_amount::float8, years_owned::float8, email_verified::float8, "
					 "phone_verified::float8, equity_amount_full::float8, min_age, require_hecm_eligible "
					 "FROM ec.lead_score_weights", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read ec.lead_score_weights: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		broker = SPI_getbinval(row, desc, 1, &isnull);

		if (isnull)
			WeightsFromRow(row, desc, &default_weights);
		else
		{
			int64		id = DatumGetInt64(broker);
			BrokerWeights *e = hash_search(broker_weights, &id, HASH_ENTER, NULL);

			WeightsFromRow(row, desc, &e->w);
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	weights_valid = true;
}

/* The weights for a broker's leads (the default when it has none of its own). */
static const EcScoreWeights *
WeightsFor(bool has_broker, int64 broker_id)
{
	LoadWeights();
	if (has_broker)
	{
		BrokerWeights *e = hash_search(broker_weights, &broker_id, HASH_FIND, NULL);

		if (e != NULL)
			return &e->w;
	}
	return &default_weights;
}

static int
AttnumOf(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i + 1;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("row has no column \"%s\"", name),
			 errhint("The lead score reads rows of ec.leads.")));
	return 0;
}

/* Attribute numbers of the inputs, resolved once per call site (fn_extra). */
static const ScoreAttnums *
AttnumsFor(FmgrInfo *flinfo, TupleDesc desc, Oid typid)
{
	/*
	 * Also kept for the session: a trigger's flinfo lives one statement, and
	 * looking nine names up among some fifty columns was a tenth of a
	 * one-lead insert.  Valid while the row type's layout is the one the
	 * type cache knows by the same identifier (any ALTER TABLE changes it).
	 */
	static ScoreAttnums session;
	static uint64 session_layout = 0;
	ScoreAttnums *a = (ScoreAttnums *) flinfo->fn_extra;
	uint64		layout = 0;

	if (a != NULL && a->typid == typid)
		return a;
	if (a == NULL)
		a = MemoryContextAlloc(flinfo->fn_mcxt, sizeof(ScoreAttnums));
	if (desc->tdtypmod < 0)
	{
		layout = lookup_type_cache(typid, TYPECACHE_TUPDESC)->tupDesc_identifier;
		if (layout != 0 && session.typid == typid && session_layout == layout)
		{
			*a = session;
			flinfo->fn_extra = a;
			return a;
		}
	}
	a->owner_age = AttnumOf(desc, "owner_age");
	a->owner_occupied = AttnumOf(desc, "owner_occupied");
	a->estimated_value = AttnumOf(desc, "estimated_value");
	a->estimated_equity = AttnumOf(desc, "estimated_equity");
	a->years_owned = AttnumOf(desc, "years_owned");
	a->email_verified = AttnumOf(desc, "email_verified");
	a->phone_verified = AttnumOf(desc, "phone_verified");
	a->assigned_broker_id = AttnumOf(desc, "assigned_broker_id");
	a->lead_score = AttnumOf(desc, "lead_score");
	a->typid = typid;
	flinfo->fn_extra = a;
	if (layout != 0)
	{
		session = *a;
		session_layout = layout;
	}
	return a;
}

/* Reads the score's inputs out of a row of ec.leads, deformed. */
static void
InputFromValues(const Datum *values, const bool *nulls, const ScoreAttnums *a,
				EcScoreInput *in, bool *has_broker, int64 *broker_id)
{
#define VAL(att) values[(att) - 1]
#define NUL(att) nulls[(att) - 1]
	in->has_age = !NUL(a->owner_age);
	in->owner_age = in->has_age ? DatumGetInt32(VAL(a->owner_age)) : 0;
	in->owner_occupied = NUL(a->owner_occupied) ? -1 : (DatumGetBool(VAL(a->owner_occupied)) ? 1 : 0);
	in->has_value = !NUL(a->estimated_value);
	in->estimated_value = in->has_value ? NumericToDouble(VAL(a->estimated_value)) : 0;
	in->has_equity = !NUL(a->estimated_equity);
	in->estimated_equity = in->has_equity ? NumericToDouble(VAL(a->estimated_equity)) : 0;
	in->has_years = !NUL(a->years_owned);
	in->years_owned = in->has_years ? DatumGetInt32(VAL(a->years_owned)) : 0;
	in->email_verified = !NUL(a->email_verified) && DatumGetBool(VAL(a->email_verified));
	in->phone_verified = !NUL(a->phone_verified) && DatumGetBool(VAL(a->phone_verified));
	*has_broker = !NUL(a->assigned_broker_id);
	*broker_id = *has_broker ? DatumGetInt64(VAL(a->assigned_broker_id)) : 0;
#undef VAL
#undef NUL
}

/* Scores one lead; a non-finite input scores 0 (numeric has NaN). */
static double
ScoreOf(const EcScoreInput *in, bool has_broker, int64 broker_id, EcScoreFactors *f)
{
	double		score;

	if (ec_score_lead(in, WeightsFor(has_broker, broker_id), f, &score) != EC_SCORE_OK)
		return 0;
	return score;
}

/*
 * A score as numeric(6,2): the double read to 13 decimals, then rounded to
 * 2, half away from zero, as round(score::numeric, 2) rounds the decimal
 * form (15 significant digits) of the double.  Built from an integer of
 * cents, without the text form the float8-to-numeric cast goes through (a
 * fifth of the score trigger's work).  Scores far outside the 0-100 the
 * weights give take the cast.
 */
static Datum
ScoreDatum(double score)
{
	double		units = rint(fabs(score) * 1e13);	/* exact below 2^53 */
	int64		cents;

	if (!(fabs(score) < 1000.0))
	{
		Datum		n = DirectFunctionCall1(float8_numeric, Float8GetDatum(score));

		return DirectFunctionCall2(numeric_round, n, Int32GetDatum(2));
	}
	cents = ((int64) units + INT64CONST(50000000000)) / INT64CONST(100000000000);
	return NumericGetDatum(int64_div_fast_to_numeric(score < 0 ? -cents : cents, 2));
}

/* Scores a composite ec.leads datum. */
static double
ScoreComposite(FunctionCallInfo fcinfo, HeapTupleHeader rec, EcScoreFactors *f)
{
	Oid			typid = HeapTupleHeaderGetTypeId(rec);
	int32		typmod = HeapTupleHeaderGetTypMod(rec);
	TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);
	HeapTupleData tup;
	EcScoreInput in;
	bool		has_broker;
	int64		broker_id;
	double		score;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);

	tup.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = rec;
	heap_deform_tuple(&tup, desc, values, nulls);
	InputFromValues(values, nulls, AttnumsFor(fcinfo->flinfo, desc, typid), &in, &has_broker, &broker_id);
	ReleaseTupleDesc(desc);
	score = ScoreOf(&in, has_broker, broker_id, f);
	return score;
}

/*
 * ec.lead_score(lead ec.leads) returns numeric: the lead's score now.
 */
PG_FUNCTION_INFO_V1(ec_lead_score);
Datum
ec_lead_score(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(ScoreDatum(ScoreComposite(fcinfo, PG_GETARG_HEAPTUPLEHEADER(0), NULL)));
}

/*
 * ec.lead_score_detail(lead ec.leads) returns jsonb: the score, each
 * factor and the weights applied.
 */
PG_FUNCTION_INFO_V1(ec_lead_score_detail);
Datum
ec_lead_score_detail(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(0);
	EcScoreFactors f;
	double		score;
	StringInfoData buf;
	const EcScoreWeights *w;
	bool		isnull;
	Datum		broker = GetAttributeByName(rec, "assigned_broker_id", &isnull);

	memset(&f, 0, sizeof(f));
	score = ScoreComposite(fcinfo, rec, &f);
	w = WeightsFor(!isnull, isnull ? 0 : DatumGetInt64(broker));

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"score\": %.2f, \"hecm_eligible\": %s, \"require_hecm_eligible\": %s, "
					 "\"factors\": {\"age\": %.4f, \"occupancy\": %.4f, \"equity_share\": %.4f, "
					 "\"equity_amount\": %.4f, \"years_owned\": %.4f, \"email_verified\": %.0f, "
					 "\"phone_verified\": %.0f}, "
					 "\"weights\": {\"age\": %g, \"occupancy\": %g, \"equity_share\": %g, "
					 "\"equity_amount\": %g, \"years_owned\": %g, \"email_verified\": %g, "
					 "\"phone_verified\": %g, \"equity_amount_full\": %g, \"min_age\": %d}}",
					 score, f.eligible ? "true" : "false", w->require_eligible ? "true" : "false",
					 f.age, f.occupancy, f.equity_share, f.equity_amount, f.years_owned,
					 f.email_verified, f.phone_verified,
					 w->age, w->occupancy, w->equity_share, w->equity_amount, w->years_owned,
					 w->email_verified, w->phone_verified, w->equity_amount_full, w->min_age);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * ec.lead_score_of(owner_age, owner_occupied, estimated_value,
 *   estimated_equity, years_owned, email_verified, phone_verified,
 *   broker_id) returns numeric: the score of values not yet in a row.
 */
PG_FUNCTION_INFO_V1(ec_lead_score_of);
Datum
ec_lead_score_of(PG_FUNCTION_ARGS)
{
	EcScoreInput in;

	in.has_age = !PG_ARGISNULL(0);
	in.owner_age = in.has_age ? PG_GETARG_INT32(0) : 0;
	in.owner_occupied = PG_ARGISNULL(1) ? -1 : (PG_GETARG_BOOL(1) ? 1 : 0);
	in.has_value = !PG_ARGISNULL(2);
	in.estimated_value = in.has_value ? NumericToDouble(PG_GETARG_DATUM(2)) : 0;
	in.has_equity = !PG_ARGISNULL(3);
	in.estimated_equity = in.has_equity ? NumericToDouble(PG_GETARG_DATUM(3)) : 0;
	in.has_years = !PG_ARGISNULL(4);
	in.years_owned = in.has_years ? PG_GETARG_INT32(4) : 0;
	in.email_verified = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	in.phone_verified = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	PG_RETURN_DATUM(ScoreDatum(ScoreOf(&in, !PG_ARGISNULL(7), PG_ARGISNULL(7) ? 0 : PG_GETARG_INT64(7), NULL)));
}

/*
 * Trigger ec.leads_set_score(): BEFORE INSERT OR UPDATE OF the inputs, FOR
 * EACH ROW on ec.leads: sets lead_score from the row.
 */
PG_FUNCTION_INFO_V1(ec_leads_set_score);
Datum
ec_leads_set_score(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tup,
				newtup;
	TupleDesc	desc;
	const ScoreAttnums *a;
	EcScoreInput in;
	bool		has_broker;
	int64		broker_id;
	Datum		value;
	Datum	   *values;
	bool	   *nulls;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.leads_set_score() must be fired BEFORE, FOR EACH ROW")));

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		tup = trigdata->tg_newtuple;
	else
		tup = trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);
	a = AttnumsFor(fcinfo->flinfo, desc, desc->tdtypeid);

	/* the row read once; formed again only when the score changes */
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(tup, desc, values, nulls);
	InputFromValues(values, nulls, a, &in, &has_broker, &broker_id);
	value = ScoreDatum(ScoreOf(&in, has_broker, broker_id, NULL));
	i = a->lead_score - 1;
	if (!nulls[i] && DatumGetBool(DirectFunctionCall2(numeric_eq, values[i], value)))
		return PointerGetDatum(tup);
	values[i] = value;
	nulls[i] = false;
	newtup = heap_form_tuple(desc, values, nulls);
	/* what heap_modify_tuple keeps of the row it replaces */
	newtup->t_data->t_ctid = tup->t_data->t_ctid;
	newtup->t_self = tup->t_self;
	newtup->t_tableOid = tup->t_tableOid;
	return PointerGetDatum(newtup);
}

/*
 * Trigger ec.lead_score_weights_changed(): AFTER any change of
 * ec.lead_score_weights, FOR EACH STATEMENT: every backend reloads them.
 */
PG_FUNCTION_INFO_V1(ec_lead_score_weights_changed);
Datum
ec_lead_score_weights_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.lead_score_weights_changed() must be fired as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
