/*-------------------------------------------------------------------------
 *
 * lookup.c
 *		Finding the lead that holds a key (MAK, county APN key, addr_hash)
 *		by probing its unique index directly, as the foreign-key and catalog
 *		code find rows, instead of through a SELECT.
 *
 * Why: a one-lead upsert is three statements, and the executor's start of
 * the lookup's SELECT (its plan copied, a projection of 30 columns built,
 * the scan's state made) cost more than the index probes themselves.  A
 * batch of ec.upsert_leads probes each of its distinct keys the same way
 * (upsert.c, BatchLookupDirect): its SELECT built bitmaps over the three
 * indexes and checked every row found against the three key lists.
 *
 * The same rows as the SELECT it replaces: the statement's snapshot is
 * taken as SPI takes one for a statement (the command counter advanced, a
 * fresh snapshot under READ COMMITTED, the transaction's under REPEATABLE
 * READ and SERIALIZABLE), each key's unique index is probed with that
 * snapshot, and a row found by two keys is one row.  When row security
 * applies to the caller, when the caller lacks SELECT on ec.leads, or when
 * an index is not the unique one-column index this code expects, the probe
 * is not opened and the caller runs its SELECT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "common/bulk_insert.h"
#include "identity/identity.h"

static const struct
{
	const char *index;
	const char *column;
	Oid			type;
	RegProcedure eq;
}			ProbeKeys[EC_PROBE_NKEYS] = {
	{"leads_mak_key", "mak", TEXTOID, F_TEXTEQ},
	{"leads_apn_key", "apn_key", TEXTOID, F_TEXTEQ},
	{"leads_addr_hash_key", "addr_hash", BYTEAOID, F_BYTEAEQ},
};

struct EcLeadProbe
{
	Relation	heap;
	Relation	index[EC_PROBE_NKEYS];
	IndexScanDesc scan[EC_PROBE_NKEYS]; /* begun at the first probe, rescanned */
	TupleTableSlot *slot;
	int			ncols;
	const AttrNumber *attno;	/* per column asked for (the session's layout) */
	const Oid  *enum_type;		/* an enum column answered as text */
	AttrNumber	id_att;
};

/* whether irel is a unique btree index of heap on exactly the column, of the type */
static bool
IndexFits(Relation irel, Relation heap, AttrNumber a, Oid type)
{
	Form_pg_index ind = irel->rd_index;

	return ind->indrelid == RelationGetRelid(heap) && ind->indisunique && ind->indisvalid &&
		ind->indnkeyatts == 1 && ind->indkey.values[0] == a && a != InvalidAttrNumber &&
		irel->rd_rel->relam == BTREE_AM_OID && irel->rd_opcintype[0] == type;
}

/* the probe's columns, and the columns of its key indexes */
static EcLeadLayout Layout;
static AttrNumber KeyAtt[EC_PROBE_NKEYS];

bool
EcLeadLayoutGet(EcLeadLayout *l, Relation rel, int ncols, const char *const *names, const Oid *types)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	uint64		layout = lookup_type_cache(rel->rd_rel->reltype, TYPECACHE_TUPDESC)->tupDesc_identifier;
	int			i;

	if (l->relid == relid && l->layout == layout && layout != 0 &&
		l->ncols == ncols && l->names == names && l->types == types)
		return false;
	l->relid = InvalidOid;
	l->id_att = get_attnum(relid, "id");
	l->usable = ncols <= MaxHeapAttributeNumber && l->id_att != InvalidAttrNumber &&
		TupleDescAttr(desc, l->id_att - 1)->atttypid == INT8OID;
	for (i = 0; i < ncols && l->usable; i++)
	{
		AttrNumber	a = get_attnum(relid, names[i]);
		Oid			t = a == InvalidAttrNumber ? InvalidOid : TupleDescAttr(desc, a - 1)->atttypid;

		l->attno[i] = a;
		if (!EcColumnTakes(t, types[i], &l->enum_type[i]))
			l->usable = false;
	}
	l->ncols = ncols;
	l->names = names;
	l->types = types;
	l->layout = layout;
	l->relid = relid;
	return true;
}

EcLeadProbe *
EcLeadProbeOpen(int ncols, const char *const *names, const Oid *types)
{
	Oid			relid = EcRelationOid("leads");
	EcLeadProbe *p;
	int			i;

	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return NULL;

	p = palloc0(sizeof(EcLeadProbe));
	p->heap = table_open(relid, AccessShareLock);
	if (EcLeadLayoutGet(&Layout, p->heap, ncols, names, types))
		for (i = 0; i < EC_PROBE_NKEYS; i++)
			KeyAtt[i] = get_attnum(relid, ProbeKeys[i].column);
	if (!Layout.usable)
	{
		table_close(p->heap, AccessShareLock);
		pfree(p);
		return NULL;
	}
	p->ncols = ncols;
	p->attno = Layout.attno;
	p->enum_type = Layout.enum_type;
	p->id_att = Layout.id_att;
	for (i = 0; i < EC_PROBE_NKEYS; i++)
	{
		Oid			iid = EcRelationOid(ProbeKeys[i].index);

		if (OidIsValid(iid))
			p->index[i] = index_open(iid, AccessShareLock);
		if (p->index[i] == NULL ||
			!IndexFits(p->index[i], p->heap, KeyAtt[i], ProbeKeys[i].type))
		{
			EcLeadProbeClose(p);
			return NULL;
		}
	}
	p->slot = table_slot_create(p->heap, NULL);

	/* the snapshot SPI would give the SELECT (see _SPI_execute_plan) */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	return p;
}

bool
EcLeadProbeFind(EcLeadProbe *p, int key, Datum value, int64 *id, TransactionId *xmin,
				ItemPointer tid, Datum *values, bool *nulls)
{
	IndexScanDesc scan;
	ScanKeyData sk;
	bool		found;

	ScanKeyInit(&sk, 1, BTEqualStrategyNumber, ProbeKeys[key].eq, value);
	sk.sk_collation = p->index[key]->rd_indcollation[0];
	if (p->scan[key] == NULL)
		p->scan[key] = index_beginscan(p->heap, p->index[key], GetActiveSnapshot(), 1, 0);
	scan = p->scan[key];
	index_rescan(scan, &sk, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, p->slot);
	if (found)
	{
		bool		should_free;
		HeapTuple	tup = ExecFetchSlotHeapTuple(p->slot, false, &should_free);
		bool		isnull;
		int			i;

		*xmin = HeapTupleHeaderGetRawXmin(tup->t_data);
		*tid = p->slot->tts_tid;
		*id = DatumGetInt64(slot_getattr(p->slot, p->id_att, &isnull));
		slot_getallattrs(p->slot);
		for (i = 0; i < p->ncols; i++)
		{
			Form_pg_attribute att = TupleDescAttr(p->slot->tts_tupleDescriptor, p->attno[i] - 1);

			nulls[i] = p->slot->tts_isnull[p->attno[i] - 1];
			if (nulls[i])
				values[i] = (Datum) 0;
			else if (OidIsValid(p->enum_type[i]))
				values[i] = CStringGetTextDatum(OidOutputFunctionCall(F_ENUM_OUT,
																	  p->slot->tts_values[p->attno[i] - 1]));
			else
				values[i] = datumCopy(p->slot->tts_values[p->attno[i] - 1], att->attbyval, att->attlen);
		}
		if (should_free)
			heap_freetuple(tup);
		ExecClearTuple(p->slot);
	}
	return found;
}

void
EcLeadProbeClose(EcLeadProbe *p)
{
	int			i;

	for (i = 0; i < EC_PROBE_NKEYS; i++)
		if (p->scan[i] != NULL)
			index_endscan(p->scan[i]);
	if (p->slot != NULL)
	{
		ExecDropSingleTupleTableSlot(p->slot);
		PopActiveSnapshot();
	}
	for (i = 0; i < EC_PROBE_NKEYS; i++)
		if (p->index[i] != NULL)
			index_close(p->index[i], AccessShareLock);
	table_close(p->heap, AccessShareLock);
	pfree(p);
}
