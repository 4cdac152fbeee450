/*-------------------------------------------------------------------------
 *
 * touch.c
 *		ec.touch_updated_at(): the BEFORE UPDATE row trigger that stamps
 *		updated_at, in C because it runs on every lead merge.
 *
 * Like contrib/spi/moddatetime.c, but the column is always "updated_at" and
 * the value is the transaction's start time (what now() returns), so every
 * row a statement touches carries the same stamp.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ec_touch_updated_at);

/* Trigger: sets updated_at to now() on every row update. */
Datum
ec_touch_updated_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	int			attnum;
	Datum		value;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.touch_updated_at() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.touch_updated_at() must be fired BEFORE UPDATE FOR EACH ROW")));

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, "updated_at");
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no column \"updated_at\"",
						RelationGetRelationName(trigdata->tg_relation))));
	if (TupleDescAttr(tupdesc, attnum - 1)->atttypid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"updated_at\" of table \"%s\" must be of type timestamptz",
						RelationGetRelationName(trigdata->tg_relation))));

	value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return PointerGetDatum(heap_modify_tuple_by_cols(trigdata->tg_newtuple, tupdesc,
													 1, &attnum, &value, &isnull));
}
