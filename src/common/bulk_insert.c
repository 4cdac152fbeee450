/*-------------------------------------------------------------------------
 *
 * bulk_insert.c
 *		Many rows into one table the way COPY FROM writes them, with each
 *		foreign key checked once for all the rows; and ec.insert_rows(),
 *		the same from SQL (the campaign feeder's 25,000 rows a day).
 *
 * Why: PostgreSQL 15 checks a foreign key of an inserted row with one
 * query per row (RI_FKey_check_ins, an AFTER ROW trigger: a queued event,
 * then an executor start, an index probe, a row lock and an executor end).
 * For the feeder's three foreign keys that was a fifth of its time.
 *
 * The check done here, once per foreign key after the rows are written:
 *
 *		SELECT count(*) FROM (SELECT FROM ONLY <pk table> x
 *			WHERE x.<pk column> = ANY (<distinct keys>) FOR KEY SHARE OF x) l
 *
 * planned as a scan of the referenced key's index (sequential and bitmap
 * scans switched off for it), run as the referenced table's owner with row security not forced, with
 * a fresh snapshot, as RI_FKey_check runs its own query
 * ("SELECT 1 FROM ONLY <pk table> x WHERE <pk column> = $1 FOR KEY SHARE
 * OF x") for each row. It is that query for every distinct key, in one
 * executor run: each referenced row is looked up by the same index, read
 * under the same snapshot rules and locked FOR KEY SHARE the same way
 * (under READ COMMITTED a concurrently updated row is followed to its
 * newest version and rechecked, a concurrently deleted one is not found;
 * under REPEATABLE READ either fails the same serialization check). So at
 * the end every referenced row exists and stays locked against a delete or
 * a key change until the transaction ends: the guarantee of the foreign
 * key. A count short of the number of keys raises the foreign key's own
 * error (23503, same message and detail, the first missing key in row
 * order). Like the per-row checks, it runs after the rows are written, so
 * a NOT NULL, CHECK or unique violation is reported first as it would be.
 *
 * What the fast path refuses (EcBulkInsertBegin returns NULL and the caller
 * runs a plain INSERT): row security for the current user, rules, stored
 * generated columns, a table other than a plain one, and any trigger that
 * would fire on INSERT other than the check of a foreign key of one int4 or
 * int8 column, not deferrable, to a plain table with the same type, and a
 * deferred unique or exclusion index (its check at the end of the
 * transaction is an AFTER event only the executor's INSERT queues). A
 * foreign key whose check trigger is disabled is not checked (as INSERT
 * would not). The INSERT privilege of the named columns is checked as the
 * executor checks it; defaults (identity included) are evaluated per row;
 * NOT NULL and CHECK constraints, unique and exclusion indexes are checked
 * per row by the executor's own routines (ExecConstraints,
 * ExecInsertIndexTuples).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "common/bulk_insert.h"
#include "common/pgcompat.h"
#include "common/rowcheck.h"

/* ---------------------------------------------------------------------
 * The CHECK constraints of a result relation (common/rowcheck.h)
 *
 * ExecConstraints evaluates a CHECK that calls ec.leads_row_ok(leads.*)
 * by building a composite datum of the whole row (toast_build_flattened_tuple
 * over the row's 50 columns) for the function to take apart again: about
 * 8,000 instructions a lead written, against 5,000 for the checks
 * themselves.  A CHECK that is exactly one call of a row check written in
 * C (EcRowCheckFor) over the table's whole row is run here with the slot's
 * values; every other CHECK is evaluated as ExecRelCheck evaluates it, in
 * the same order.  The moment a row fails one, or a NOT NULL column is
 * NULL, ExecConstraints itself runs over the row and raises its error, so
 * the error is the executor's, word for word; the C checks raise their
 * own, as they do when the CHECK calls them.
 * --------------------------------------------------------------------- */
struct EcConstraints
{
	int			ncheck;
	EcRowCheck **fast;			/* per CHECK: its C row check, or NULL */
	ExprState **exprs;			/* per other CHECK: as ExecRelCheck prepares it */
};

EcConstraints *
EcConstraintsPrepare(ResultRelInfo *rri, EState *estate)
{
	Relation	rel = rri->ri_RelationDesc;
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	EcConstraints *cs = palloc0(sizeof(EcConstraints));
	MemoryContext old;
	int			i;

	cs->ncheck = constr != NULL ? constr->num_check : 0;
	cs->fast = palloc0(sizeof(EcRowCheck *) * Max(cs->ncheck, 1));
	cs->exprs = palloc0(sizeof(ExprState *) * Max(cs->ncheck, 1));
	for (i = 0; i < cs->ncheck; i++)
	{
		Expr	   *e = stringToNode(constr->check[i].ccbin);

		if (IsA(e, FuncExpr) && !((FuncExpr *) e)->funcretset && list_length(((FuncExpr *) e)->args) == 1)
		{
			Var		   *v = linitial(((FuncExpr *) e)->args);

			if (IsA(v, Var) && v->varno == 1 && v->varattno == InvalidAttrNumber && v->varlevelsup == 0 &&
				v->vartype == RelationGetDescr(rel)->tdtypeid)
				cs->fast[i] = EcRowCheckFor(((FuncExpr *) e)->funcid, RelationGetDescr(rel));
		}
		if (cs->fast[i] == NULL)
		{
			old = MemoryContextSwitchTo(estate->es_query_cxt);
			cs->exprs[i] = ExecPrepareExpr(e, estate);
			MemoryContextSwitchTo(old);
		}
	}
	return cs;
}

void
EcConstraintsCheck(EcConstraints *cs, ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
	TupleDesc	desc = RelationGetDescr(rri->ri_RelationDesc);
	TupleConstr *constr = desc->constr;
	ExprContext *econtext;
	MemoryContext old;
	int			i;

	if (constr == NULL)
		return;
	slot_getallattrs(slot);
	if (constr->has_not_null)
		for (i = 0; i < desc->natts; i++)
			if (TupleDescAttr(desc, i)->attnotnull && slot->tts_isnull[i])
				goto executor;
	if (cs->ncheck != constr->num_check)
		goto executor;
	econtext = GetPerTupleExprContext(estate);
	econtext->ecxt_scantuple = slot;
	for (i = 0; i < cs->ncheck; i++)
	{
		if (cs->fast[i] == NULL)
		{
			if (!ExecCheck(cs->exprs[i], econtext))
				goto executor;
			continue;
		}
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		EcRowCheckRun(cs->fast[i], slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(old);
	}
	return;

executor:
	ExecConstraints(rri, slot, estate);
}

/* ---------------------------------------------------------------------
 * AFTER ROW events that would do nothing (common/rowcheck.h)
 *
 * Each row written queues an event for every AFTER ROW trigger, and the
 * event later fetches the row again to call the trigger: about 5,000
 * instructions for the broker's foreign key of a new lead that has no
 * broker, 6,000 for a merge's call of the contactable change log that logs
 * nothing, and for an UPDATE the old version is fetched again first.
 * PostgreSQL itself leaves out a foreign key's UPDATE check when the key
 * did not change (RI_FKey_fk_upd_check_required, called the same way here).
 * This leaves out, for one row, the events of:
 *	- a foreign key's INSERT check when every key column is NULL (the check
 *	  returns at once: a NULL key satisfies the constraint);
 *	- a foreign key's UPDATE check when RI_FKey_fk_upd_check_required says
 *	  it is not needed, and a referenced key's ON UPDATE action when
 *	  RI_FKey_pk_upd_check_required says so (ec.leads is referenced by six
 *	  tables: each merge queued their six no-op events);
 *	- ec.log_contactable_changes when it would log nothing
 *	  (EcContactableLogs, its own decision).
 * Only triggers without a WHEN clause or a column list qualify.  The list
 * given to the executor for that row is the table's without them, with its
 * own WHEN states; the whole list is given back before any event fires.
 * --------------------------------------------------------------------- */
#define EC_SKIP_MAX 16			/* triggers that may be left out */
#define EC_SKIP_VARIANTS 16		/* lists kept (by what they leave out) */

typedef enum SkipKind
{
	SKIP_FKEY_INSERT,			/* a foreign key's check of a new row */
	SKIP_FKEY_UPDATE,			/* a foreign key's check of an updated row */
	SKIP_PKEY_UPDATE,			/* a referenced key's action on update */
	SKIP_CONTACTABLE
} SkipKind;

struct EcAfterRowSkip
{
	int			n;				/* triggers that may be left out */
	int			index[EC_SKIP_MAX]; /* each one's place in the full list */
	SkipKind	kind[EC_SKIP_MAX];
	int			nkeys[EC_SKIP_MAX]; /* its foreign key's columns (conkey or confkey) */
	AttrNumber	keys[EC_SKIP_MAX][INDEX_MAX_KEYS];
	TriggerDesc *full;
	ExprState **fullwhen;
	int			nvariants;
	uint32		variantmask[EC_SKIP_VARIANTS];	/* what each leaves out */
	TriggerDesc *variant[EC_SKIP_VARIANTS];
	ExprState **variantwhen[EC_SKIP_VARIANTS];
	MemoryContext cxt;
};

/* the referencing (conkey) or referenced (confkey) columns of a foreign key */
static bool
FkeyColumns(Oid conoid, AttrNumber which, int *nkeys, AttrNumber *keys)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	Datum		d;
	bool		isnull;
	ArrayType  *arr;
	int			n;
	bool		ok = false;

	if (!HeapTupleIsValid(tup))
		return false;
	d = SysCacheGetAttr(CONSTROID, tup, which, &isnull);
	if (!isnull)
	{
		arr = DatumGetArrayTypeP(d);
		n = ARR_DIMS(arr)[0];
		if (ARR_NDIM(arr) == 1 && n > 0 && n <= INDEX_MAX_KEYS && !ARR_HASNULL(arr) &&
			ARR_ELEMTYPE(arr) == INT2OID)
		{
			memcpy(keys, ARR_DATA_PTR(arr), sizeof(int16) * n);
			*nkeys = n;
			ok = true;
		}
	}
	ReleaseSysCache(tup);
	return ok;
}

EcAfterRowSkip *
EcAfterRowSkipPrepare(ResultRelInfo *rri)
{
	TriggerDesc *td = rri->ri_TrigDesc;
	EcAfterRowSkip *s = palloc0(sizeof(EcAfterRowSkip));
	int			i;

	s->cxt = CurrentMemoryContext;
	s->full = td;
	s->fullwhen = rri->ri_TrigWhenExprs;
	for (i = 0; td != NULL && i < td->numtriggers && s->n < EC_SKIP_MAX; i++)
	{
		Trigger    *t = &td->triggers[i];
		int			k = s->n;

		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_AFTER(t->tgtype) ||
			t->tgqual != NULL || t->tgnattr > 0 ||
			!(TRIGGER_FOR_INSERT(t->tgtype) || TRIGGER_FOR_UPDATE(t->tgtype)))
			continue;
		if (t->tgfoid == F_RI_FKEY_CHECK_INS && t->tgtype == (TRIGGER_TYPE_ROW | TRIGGER_TYPE_AFTER | TRIGGER_TYPE_INSERT))
		{
			if (!FkeyColumns(t->tgconstraint, Anum_pg_constraint_conkey, &s->nkeys[k], s->keys[k]))
				continue;
			s->kind[k] = SKIP_FKEY_INSERT;
		}
		else if (t->tgfoid == F_RI_FKEY_CHECK_UPD && t->tgtype == (TRIGGER_TYPE_ROW | TRIGGER_TYPE_AFTER | TRIGGER_TYPE_UPDATE))
			s->kind[k] = SKIP_FKEY_UPDATE;
		else if ((t->tgfoid == F_RI_FKEY_NOACTION_UPD || t->tgfoid == F_RI_FKEY_RESTRICT_UPD ||
				  t->tgfoid == F_RI_FKEY_CASCADE_UPD || t->tgfoid == F_RI_FKEY_SETNULL_UPD ||
				  t->tgfoid == F_RI_FKEY_SETDEFAULT_UPD) &&
				 t->tgtype == (TRIGGER_TYPE_ROW | TRIGGER_TYPE_AFTER | TRIGGER_TYPE_UPDATE))
		{
			/* the referenced columns: keys referenced by several tables are checked once */
			if (!FkeyColumns(t->tgconstraint, Anum_pg_constraint_confkey, &s->nkeys[k], s->keys[k]))
				continue;
			s->kind[k] = SKIP_PKEY_UPDATE;
		}
		else if (EcContactableLogFunction(t->tgfoid))
			s->kind[k] = SKIP_CONTACTABLE;
		else
			continue;
		s->index[k] = i;
		s->n++;
	}
	return s;
}

/* the full list without the triggers in mask, made once; its place in s */
static int
SkipVariant(EcAfterRowSkip *s, uint32 mask)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	TriggerDesc *td = CopyTriggerDesc(s->full);
	int			i,
				j,
				n = 0;

	for (i = 0; i < td->numtriggers; i++)
	{
		bool		out = false;

		for (j = 0; j < s->n; j++)
			if ((mask & ((uint32) 1 << j)) && s->index[j] == i)
				out = true;
		if (!out)
			td->triggers[n++] = td->triggers[i];
	}
	td->numtriggers = n;
	/* only AFTER ROW triggers were left out: only their flags can change */
	td->trig_insert_after_row = td->trig_update_after_row = td->trig_delete_after_row = false;
	for (i = 0; i < n; i++)
	{
		int16		type = td->triggers[i].tgtype;

		if (!TRIGGER_FOR_ROW(type) || !TRIGGER_FOR_AFTER(type))
			continue;
		td->trig_insert_after_row |= TRIGGER_FOR_INSERT(type);
		td->trig_update_after_row |= TRIGGER_FOR_UPDATE(type);
		td->trig_delete_after_row |= TRIGGER_FOR_DELETE(type);
	}
	s->variantmask[s->nvariants] = mask;
	s->variant[s->nvariants] = td;
	s->variantwhen[s->nvariants] = palloc0(sizeof(ExprState *) * Max(n, 1));
	MemoryContextSwitchTo(old);
	return s->nvariants++;
}

void
EcAfterRowSkipBegin(EcAfterRowSkip *s, ResultRelInfo *rri, TupleTableSlot *old, TupleTableSlot *new)
{
	Relation	rel = rri->ri_RelationDesc;
	Trigger    *t;
	uint32		mask = 0;
	int			j,
				k,
				v;

	for (j = 0; j < s->n; j++)
	{
		bool		skip = false;

		t = &s->full->triggers[s->index[j]];
		/* only the triggers of this row's event: the others queue nothing */
		if (old == NULL ? !TRIGGER_FOR_INSERT(t->tgtype) : !TRIGGER_FOR_UPDATE(t->tgtype))
			continue;
		switch (s->kind[j])
		{
			case SKIP_FKEY_INSERT:
				if (old != NULL)
					break;
				skip = true;
				for (k = 0; k < s->nkeys[j]; k++)
					if (!slot_attisnull(new, s->keys[j][k]))
						skip = false;
				break;
			case SKIP_FKEY_UPDATE:
				skip = old != NULL && !RI_FKey_fk_upd_check_required(t, rel, old, new);
				break;
			case SKIP_PKEY_UPDATE:
				if (old == NULL)
					break;
				/* the answer for the same referenced columns, when already known */
				for (k = 0; k < j; k++)
					if (s->kind[k] == SKIP_PKEY_UPDATE && s->nkeys[k] == s->nkeys[j] &&
						memcmp(s->keys[k], s->keys[j], sizeof(AttrNumber) * s->nkeys[j]) == 0)
						break;
				if (k < j)
					skip = (mask & ((uint32) 1 << k)) != 0;
				else
					skip = !RI_FKey_pk_upd_check_required(t, rel, old, new);
				break;
			case SKIP_CONTACTABLE:
				skip = !EcContactableLogs(rel, old, new);
				break;
		}
		if (skip)
			mask |= (uint32) 1 << j;
	}
	if (mask == 0)
		return;
	for (v = 0; v < s->nvariants; v++)
		if (s->variantmask[v] == mask)
			break;
	if (v == s->nvariants)
	{
		if (s->nvariants == EC_SKIP_VARIANTS)
			return;				/* every event queued, as the executor would */
		v = SkipVariant(s, mask);
	}
	rri->ri_TrigDesc = s->variant[v];
	rri->ri_TrigWhenExprs = s->variantwhen[v];
}

void
EcAfterRowSkipEnd(EcAfterRowSkip *s, ResultRelInfo *rri)
{
	rri->ri_TrigDesc = s->full;
	rri->ri_TrigWhenExprs = s->fullwhen;
}

/* ---------------------------------------------------------------------
 * The OIDs of the extension's relations by name (bulk_insert.h)
 *
 * A one-lead upsert looked up ec.leads, three of its indexes and
 * ec.pipeline_events by name on every call: four schema and six class
 * lookups, about 5,000 instructions.  Kept here until any pg_class or
 * pg_namespace row changes (a rename, a drop, a new relation), then looked
 * up again; a name not found is not kept.
 * --------------------------------------------------------------------- */
#define EC_OID_CACHE 16

static struct
{
	const char *name;			/* a constant of the caller's */
	Oid			oid;
}			oid_cache[EC_OID_CACHE];
static int	oid_ncache = 0;
static bool oid_callback = false;

static void
OidCacheInval(Datum arg, int cacheid, uint32 hashvalue)
{
	oid_ncache = 0;
}

Oid
EcRelationOid(const char *name)
{
	Oid			oid;
	int			i;

	if (!oid_callback)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, OidCacheInval, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, OidCacheInval, (Datum) 0);
		oid_callback = true;
	}
	for (i = 0; i < oid_ncache; i++)
		if (oid_cache[i].name == name || strcmp(oid_cache[i].name, name) == 0)
			return oid_cache[i].oid;
	oid = get_relname_relid(name, get_namespace_oid("ec", false));
	if (OidIsValid(oid) && oid_ncache < EC_OID_CACHE)
	{
		oid_cache[oid_ncache].name = name;
		oid_cache[oid_ncache].oid = oid;
		oid_ncache++;
	}
	return oid;
}

/* A batch: as COPY FROM buffers (copyfrom.c's MAX_BUFFERED_TUPLES/BYTES) */
#define EC_BULK_ROWS	1000
#define EC_BULK_BYTES	65535

/* A foreign key of the table, checked at the end for every row's key. */
typedef struct EcBulkFkey
{
	Oid			conoid;
	AttrNumber	attnum;			/* referencing column */
	Oid			pkrelid;
	AttrNumber	pkattnum;		/* referenced column */
	Oid			typid;			/* INT4OID or INT8OID, both sides */
	int64	   *keys;			/* non-null keys, in row order */
	int			nkeys;
	int			maxkeys;
} EcBulkFkey;

struct EcBulkInsert
{
	MemoryContext cxt;
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	EcConstraints *checks;		/* its CHECKs, as ExecConstraints runs them */
	BulkInsertState bistate;
	CommandId	cid;
	int			ncolumns;
	AttrNumber *attnums;		/* the column of each value */
	ExprState **defaults;		/* per attribute: its default, if not named */
	TupleDesc	slotdesc;		/* the slots' copy of the row type, not pinned */
	TupleTableSlot *slots[EC_BULK_ROWS];
	int			nbuffered;
	Size		bytes;
	EcBulkFkey *fkeys;
	int			nfkeys;
	uint64		inserted;
};

/* Whether a trigger fires in this session (trigger.c's rule). */
static bool
TriggerFires(const Trigger *t)
{
	if (t->tgenabled == TRIGGER_DISABLED)
		return false;
	if (t->tgenabled == TRIGGER_FIRES_ALWAYS)
		return true;
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return t->tgenabled == TRIGGER_FIRES_ON_REPLICA;
	return t->tgenabled == TRIGGER_FIRES_ON_ORIGIN;
}

/*
 * The foreign key a check trigger belongs to, if this module checks it as
 * the trigger would: one int4/int8 column referencing the same type in a
 * plain table with the type's equality, not deferrable.
 */
static bool
SupportedFkey(Relation rel, Oid conoid, EcBulkFkey *fk)
{
	ListCell   *lc;

	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *info = lfirst_node(ForeignKeyCacheInfo, lc);
		HeapTuple	tup;
		bool		deferrable;
		Oid			typid;

		if (info->conoid != conoid)
			continue;
		if (info->nkeys != 1 || get_rel_relkind(info->confrelid) != RELKIND_RELATION)
			return false;
		typid = get_atttype(info->conrelid, info->conkey[0]);
		if ((typid != INT4OID && typid != INT8OID) ||
			get_atttype(info->confrelid, info->confkey[0]) != typid ||
			info->conpfeqop[0] != lookup_type_cache(typid, TYPECACHE_EQ_OPR)->eq_opr)
			return false;
		tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
		if (!HeapTupleIsValid(tup))
			return false;
		deferrable = ((Form_pg_constraint) GETSTRUCT(tup))->condeferrable;
		ReleaseSysCache(tup);
		if (deferrable)
			return false;
		memset(fk, 0, sizeof(*fk));
		fk->conoid = conoid;
		fk->attnum = info->conkey[0];
		fk->pkrelid = info->confrelid;
		fk->pkattnum = info->confkey[0];
		fk->typid = typid;
		return true;
	}
	return false;
}

/*
 * Whether rows can go in without the executor's INSERT, and which foreign
 * keys then need the check done here.  Any other INSERT trigger refuses,
 * among them the one every deferrable unique or exclusion constraint has
 * (unique_key_recheck: the check at the end is the AFTER event an INSERT
 * queues, which only the executor's INSERT does).
 */
static bool
BulkPossible(Relation rel, EcBulkFkey **fkeys, int *nfkeys)
{
	TriggerDesc *td = rel->trigdesc;
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	*fkeys = NULL;
	*nfkeys = 0;
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rules != NULL ||
		(desc->constr != NULL && desc->constr->has_generated_stored) ||
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	if (td == NULL)
		return true;
	*fkeys = palloc0(sizeof(EcBulkFkey) * td->numtriggers);
	for (i = 0; i < td->numtriggers; i++)
	{
		const Trigger *t = &td->triggers[i];

		if (!TRIGGER_FOR_INSERT(t->tgtype) || !TriggerFires(t))
			continue;
		if (t->tgfoid != F_RI_FKEY_CHECK_INS || !SupportedFkey(rel, t->tgconstraint, &(*fkeys)[*nfkeys]))
			return false;
		(*nfkeys)++;
	}
	return true;
}

/*
 * The named columns of rel, checked as INSERT checks them (each exists,
 * none twice, none GENERATED ALWAYS): their attnums into attnums, and the
 * range table (*rt) that asks for INSERT on them.
 */
static void
NamedColumns(Relation rel, int ncolumns, const char *const *columns, AttrNumber *attnums,
			 EcRangeTable *rt)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	EcRangeTableMake(rt, rel, ACL_INSERT);
	for (i = 0; i < ncolumns; i++)
	{
		AttrNumber	attnum = InvalidAttrNumber;
		int			j;

		for (j = 0; j < desc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, j);

			if (!att->attisdropped && strcmp(NameStr(att->attname), columns[i]) == 0)
				attnum = att->attnum;
		}
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							columns[i], RelationGetRelationName(rel))));
		if (bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, *rt->inserted))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column \"%s\" specified more than once", columns[i])));
		if (TupleDescAttr(desc, attnum - 1)->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot insert a non-DEFAULT value into column \"%s\"", columns[i]),
					 errdetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.", columns[i])));
		*rt->inserted = bms_add_member(*rt->inserted, attnum - FirstLowInvalidHeapAttributeNumber);
		attnums[i] = attnum;
	}
}

/* the defaults of the columns not inserted, per attribute (NULL: none) */
static ExprState **
ColumnDefaults(Relation rel, const Bitmapset *inserted)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ExprState **defaults = palloc0(sizeof(ExprState *) * Max(desc->natts, 1));
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Node	   *def;

		if (att->attisdropped ||
			bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber, inserted))
			continue;
		def = build_column_default(rel, att->attnum);
		if (def != NULL)
			defaults[i] = ExecInitExpr(expression_planner((Expr *) def), NULL);
	}
	return defaults;
}

EcBulkInsert *
EcBulkInsertBegin(Oid relid, int ncolumns, const char *const *columns)
{
	MemoryContext cxt;
	MemoryContext old;
	EcBulkInsert *bi;
	Relation	rel;
	EcRangeTable rt;
	EcBulkFkey *fkeys;
	int			nfkeys;

	rel = table_open(relid, RowExclusiveLock);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "ec bulk insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	if (!BulkPossible(rel, &fkeys, &nfkeys))
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		table_close(rel, NoLock);
		return NULL;
	}

	bi = palloc0(sizeof(EcBulkInsert));
	bi->cxt = cxt;
	bi->cid = InvalidCommandId;
	bi->rel = rel;
	bi->fkeys = fkeys;
	bi->nfkeys = nfkeys;
	bi->ncolumns = ncolumns;
	bi->attnums = palloc(sizeof(AttrNumber) * Max(ncolumns, 1));
	NamedColumns(rel, ncolumns, columns, bi->attnums, &rt);
	EcCheckPermissions(&rt);

	/* the executor's result relation, as COPY FROM sets it up */
	bi->estate = CreateExecutorState();
	EcRangeTableInit(bi->estate, &rt);
	bi->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(bi->estate, bi->rri, 1);
	EcCheckValidResultRel(bi->rri, CMD_INSERT);
	ExecOpenIndices(bi->rri, false);
	bi->checks = EcConstraintsPrepare(bi->rri, bi->estate);
	bi->bistate = GetBulkInsertState();
	bi->defaults = ColumnDefaults(rel, *rt.inserted);
	MemoryContextSwitchTo(old);
	return bi;
}

/* Writes the buffered rows, then each one's index entries (as COPY does). */
static void
BulkFlush(EcBulkInsert *bi)
{
	int			i;

	if (bi->nbuffered == 0)
		return;

	/*
	 * The command id of the rows: taken at the first write, after the
	 * query feeding the rows took its snapshot (SPI_cursor_open advances the
	 * command counter first), so that the query never sees them, as an
	 * INSERT ... SELECT never sees its own rows.
	 */
	if (bi->cid == InvalidCommandId)
	{
		bi->cid = GetCurrentCommandId(true);
		bi->estate->es_output_cid = bi->cid;
	}
	table_multi_insert(bi->rel, bi->slots, bi->nbuffered, bi->cid, 0, bi->bistate);
	for (i = 0; i < bi->nbuffered; i++)
	{
		if (bi->rri->ri_NumIndices > 0)
			list_free(EcInsertIndexTuples(bi->rri, bi->slots[i], bi->estate));
		ExecClearTuple(bi->slots[i]);
		ResetPerTupleExprContext(bi->estate);
	}
	bi->inserted += bi->nbuffered;
	bi->nbuffered = 0;
	bi->bytes = 0;
}

/*
 * A row into slot: the defaults of the columns not named first (evaluated
 * per row, as INSERT does), then the values.  Stored as a virtual tuple
 * whose defaults live in econtext's per-tuple memory.
 */
static void
FillSlot(TupleTableSlot *slot, TupleDesc desc, ExprState **defaults, ExprContext *econtext,
		 int ncolumns, const AttrNumber *attnums, const Datum *values, const bool *nulls)
{
	MemoryContext old;
	int			i;

	ExecClearTuple(slot);
	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	for (i = 0; i < desc->natts; i++)
	{
		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
		if (defaults[i] != NULL)
			slot->tts_values[i] = ExecEvalExpr(defaults[i], econtext, &slot->tts_isnull[i]);
	}
	for (i = 0; i < ncolumns; i++)
	{
		slot->tts_values[attnums[i] - 1] = values[i];
		slot->tts_isnull[attnums[i] - 1] = nulls[i];
	}
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
}

void
EcBulkInsertRow(EcBulkInsert *bi, const Datum *values, const bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(bi->rel);
	ExprContext *econtext = GetPerTupleExprContext(bi->estate);
	TupleTableSlot *slot;
	MemoryContext old;
	int			i;

	old = MemoryContextSwitchTo(bi->cxt);
	if (bi->slots[bi->nbuffered] == NULL)
	{
		/*
		 * Over a copy of the descriptor: a slot over the relation's own pins
		 * it through the resource owner, and a thousand pins made every
		 * other pin and release of the statement search a long list.
		 */
		if (bi->slotdesc == NULL)
			bi->slotdesc = CreateTupleDescCopy(RelationGetDescr(bi->rel));
		bi->slots[bi->nbuffered] = MakeSingleTupleTableSlot(bi->slotdesc, table_slot_callbacks(bi->rel));
	}
	slot = bi->slots[bi->nbuffered];
	FillSlot(slot, desc, bi->defaults, econtext, bi->ncolumns, bi->attnums, values, nulls);
	MemoryContextSwitchTo(bi->cxt);

	/* NOT NULL and CHECK, as the executor checks them */
	if (desc->constr != NULL)
		EcConstraintsCheck(bi->checks, bi->rri, slot, bi->estate);

	/* the keys to check */
	for (i = 0; i < bi->nfkeys; i++)
	{
		EcBulkFkey *fk = &bi->fkeys[i];
		int			a = fk->attnum - 1;

		if (slot->tts_isnull[a])
			continue;
		if (fk->nkeys == fk->maxkeys)
		{
			fk->maxkeys = Max(1024, fk->maxkeys * 2);
			fk->keys = fk->keys == NULL ? palloc(sizeof(int64) * fk->maxkeys)
				: repalloc(fk->keys, sizeof(int64) * fk->maxkeys);
		}
		fk->keys[fk->nkeys++] = fk->typid == INT8OID ? DatumGetInt64(slot->tts_values[a])
			: (int64) DatumGetInt32(slot->tts_values[a]);
	}

	/* the slot keeps its own copy: the caller's values may go */
	bi->bytes += heap_compute_data_size(desc, slot->tts_values, slot->tts_isnull);
	ExecMaterializeSlot(slot);
	MemoryContextSwitchTo(old);
	ResetPerTupleExprContext(bi->estate);

	if (++bi->nbuffered == EC_BULK_ROWS || bi->bytes >= EC_BULK_BYTES)
		BulkFlush(bi);
}

static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* An array of int4 or int8 keys for SPI. */
static Datum
KeyArray(const EcBulkFkey *fk, const int64 *keys, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = fk->typid == INT8OID ? Int64GetDatum(keys[i]) : Int32GetDatum((int32) keys[i]);
	if (fk->typid == INT8OID)
		return PointerGetDatum(construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	return PointerGetDatum(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* The foreign key's own error (ri_triggers.c's ri_ReportViolation), for the first missing key. */
static void
ReportViolation(Relation rel, const EcBulkFkey *fk, const char *pkname, bool found, int64 key)
{
	const char *conname = get_constraint_name(fk->conoid);
	const char *colname = get_attname(RelationGetRelid(rel), fk->attnum, false);
	bool		detail = found;

	/* the key only to who may read it, as the per-row check decides */
	if (detail && check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		detail = false;
	if (detail && pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(RelationGetRelid(rel), fk->attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		detail = false;
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
					RelationGetRelationName(rel), conname),
			 detail ?
			 errdetail("Key (%s)=(" INT64_FORMAT ") is not present in table \"%s\".", colname,
					   key, pkname) :
			 errdetail("Key is not present in table \"%s\".", pkname),
			 errtableconstraint(rel, conname)));
}

/* The check of one foreign key for every row written (see the top of the file). */
static void
CheckFkey(EcBulkInsert *bi, EcBulkFkey *fk)
{
	Relation	pkrel;
	char	   *pkname;
	char	   *pkcol;
	char	   *query;
	int64	   *sorted;
	int			n;
	int			i;
	Oid			argtype;
	Datum		arg;
	Oid			save_userid;
	int			save_sec_context;
	int64		locked;
	bool		isnull;
	int			nestlevel;

	if (fk->nkeys == 0)
		return;
	sorted = palloc(sizeof(int64) * fk->nkeys);
	memcpy(sorted, fk->keys, sizeof(int64) * fk->nkeys);
	qsort(sorted, fk->nkeys, sizeof(int64), CompareInt64);
	for (i = 1, n = 1; i < fk->nkeys; i++)
	{
		if (sorted[i] != sorted[n - 1])
			sorted[n++] = sorted[i];
	}

	pkrel = table_open(fk->pkrelid, RowShareLock);
	pkname = pstrdup(RelationGetRelationName(pkrel));
	pkcol = get_attname(fk->pkrelid, fk->pkattnum, false);
	query = psprintf("SELECT pg_catalog.count(*) FROM (SELECT FROM ONLY %s x"
					 " WHERE x.%s OPERATOR(pg_catalog.=) ANY ($1) FOR KEY SHARE OF x) AS l",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(pkrel)), pkname),
					 quote_identifier(pkcol));
	argtype = fk->typid == INT8OID ? INT8ARRAYOID : INT4ARRAYOID;
	arg = KeyArray(fk, sorted, n);

	/* as the referenced table's owner, row security not forced (ri_PerformCheck) */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(RelationGetForm(pkrel)->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* each key looked up in the referenced table's key index, as one scan */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute_with_args(query, 1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "foreign key check of \"%s\" failed", RelationGetRelationName(bi->rel));
	AtEOXact_GUC(true, nestlevel);
	locked = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (locked != n)
	{
		/* the first row whose key is missing, as the per-row checks would find it */
		char	   *which = psprintf("SELECT k.v FROM pg_catalog.unnest($1) WITH ORDINALITY AS k(v, n)"
									 " WHERE NOT EXISTS (SELECT FROM ONLY %s x WHERE x.%s OPERATOR(pg_catalog.=) k.v)"
									 " ORDER BY k.n LIMIT 1",
									 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(pkrel)), pkname),
									 quote_identifier(pkcol));
		bool		found;
		int64		key = 0;

		arg = KeyArray(fk, fk->keys, fk->nkeys);
		if (SPI_execute_with_args(which, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "foreign key check of \"%s\" failed", RelationGetRelationName(bi->rel));
		found = SPI_processed == 1;
		if (found)
		{
			Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			key = fk->typid == INT8OID ? DatumGetInt64(v) : (int64) DatumGetInt32(v);
		}
		SetUserIdAndSecContext(save_userid, save_sec_context);
		ReportViolation(bi->rel, fk, pkname, found, key);
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	table_close(pkrel, NoLock);
}

uint64
EcBulkInsertEnd(EcBulkInsert *bi)
{
	MemoryContext old = MemoryContextSwitchTo(bi->cxt);
	uint64		inserted;
	int			i;

	BulkFlush(bi);
	FreeBulkInsertState(bi->bistate);
	for (i = 0; i < EC_BULK_ROWS && bi->slots[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(bi->slots[i]);
	ExecCloseResultRelations(bi->estate);
	ExecCloseRangeTableRelations(bi->estate);
	FreeExecutorState(bi->estate);

	for (i = 0; i < bi->nfkeys; i++)
		CheckFkey(bi, &bi->fkeys[i]);

	table_close(bi->rel, NoLock);
	inserted = bi->inserted;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(bi->cxt);
	return inserted;
}

/* ---------------------------------------------------------------------
 * One row per statement, its setup kept for the session
 *
 * A caller that writes one row per call (the one-lead upsert's event) paid
 * the whole setup of an INSERT each time: the plan's executor start, the
 * result relation, each index's description and predicate, the CHECK read
 * from its text and prepared, the defaults, and the end.  Here all that is
 * built once and kept in the session, and each call only locks the table
 * and its indexes, checks what an INSERT checks every time (row security,
 * triggers and rules, the INSERT privilege of the columns), and writes.
 *
 * What is kept is dropped when the table or one of its indexes changes
 * (any relcache invalidation of them), when a function or a type changes
 * (a CHECK or a default may call it), and after a call that ended in an
 * error; the next call builds it again.
 * --------------------------------------------------------------------- */

/* every kept result relation of the session, and what invalidates them */
static EcKeptRel *kept_rels = NULL;
static bool kept_callbacks = false;

static void
KeptRelInval(Datum arg, Oid relid)
{
	EcKeptRel  *k;
	int			i;

	for (k = kept_rels; k != NULL; k = k->next)
	{
		if (!k->valid)
			continue;
		if (relid == InvalidOid || relid == k->relid)
			k->valid = false;
		for (i = 0; k->valid && i < k->rri->ri_NumIndices; i++)
			if (k->indexids[i] == relid)
				k->valid = false;
	}
}

static void
KeptSysInval(Datum arg, int cacheid, uint32 hashvalue)
{
	EcKeptRel  *k;

	for (k = kept_rels; k != NULL; k = k->next)
		k->valid = false;
}

MemoryContext
EcKeptRelStart(EcKeptRel *k, Relation rel, const char *name)
{
	if (!kept_callbacks)
	{
		CacheRegisterRelcacheCallback(KeptRelInval, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, KeptSysInval, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, KeptSysInval, (Datum) 0);
		kept_callbacks = true;
	}
	if (!k->registered)
	{
		k->next = kept_rels;
		kept_rels = k;
		k->registered = true;
	}
	if (k->cxt != NULL)
	{
		if (k->estate != NULL)
			FreeExecutorState(k->estate);
		MemoryContextDelete(k->cxt);
	}
	k->cxt = AllocSetContextCreate(CacheMemoryContext, "ec kept writer", ALLOCSET_SMALL_SIZES);
	MemoryContextSetIdentifier(k->cxt, name);	/* a constant: it outlives the context */
	k->valid = false;
	k->relid = RelationGetRelid(rel);
	k->rel = rel;
	k->estate = NULL;
	k->rri = NULL;
	return MemoryContextSwitchTo(k->cxt);
}

void
EcKeptRelFinish(EcKeptRel *k, EcRangeTable *rt, bool fire)
{
	ResultRelInfo *rri;
	int			i;

	k->estate = CreateExecutorState();
	EcRangeTableInit(k->estate, rt);
	rri = k->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, k->rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	k->indexids = palloc(sizeof(Oid) * Max(rri->ri_NumIndices, 1));
	for (i = 0; i < rri->ri_NumIndices; i++)
		k->indexids[i] = RelationGetRelid(rri->ri_IndexRelationDescs[i]);
	k->checks = EcConstraintsPrepare(rri, k->estate);
	k->skip = NULL;
	if (fire)
	{
		/*
		 * The AFTER events find the result relation here, as they find a
		 * statement's, and the trigger functions are looked up into this
		 * context: ExecCallTriggerFunc would look them up in whatever
		 * context the call runs in, which does not outlive it.
		 */
		k->estate->es_opened_result_relations = list_make1(rri);
		for (i = 0; rri->ri_TrigDesc != NULL && i < rri->ri_TrigDesc->numtriggers; i++)
			fmgr_info_cxt(rri->ri_TrigDesc->triggers[i].tgfoid, &rri->ri_TrigFunctions[i], k->cxt);
		k->skip = EcAfterRowSkipPrepare(rri);
	}
}

bool
EcKeptRelUsable(EcKeptRel *k, Relation rel)
{
	if (!k->valid || k->rel != rel || k->relid != RelationGetRelid(rel))
		return false;
	if (EcKeptIndexesOpen(k->rri, k->indexids))
		return true;
	EcKeptIndexesClose(k->rri);
	return false;
}

struct EcRowInsert
{
	EcKeptRel	k;				/* the result relation; k.cxt holds all below */
	bool		possible;		/* the caller's types fit the columns */
	int			ncolumns;
	char	  **columns;
	AttrNumber *attnums;
	EcRangeTable rt;			/* the INSERT's privileges and columns */
	ExprState **defaults;
	TupleTableSlot *slot;		/* over a copy of the row type */
	bool		fire;			/* built for EcRowInsertFire */
	Oid		   *enum_types;		/* per column given as text: its enum, or 0 */
};

/* whether the cache was built for these columns */
static bool
SameColumns(const EcRowInsert *c, int ncolumns, const char *const *columns)
{
	int			i;

	if (c->ncolumns != ncolumns)
		return false;
	for (i = 0; i < ncolumns; i++)
		if (strcmp(c->columns[i], columns[i]) != 0)
			return false;
	return true;
}

/* (Re)builds *c for rel, open and locked by the caller, and its indexes. */
static void
RowInsertBuild(EcRowInsert *c, Relation rel, int ncolumns, const char *const *columns,
			   bool fire, const Oid *types)
{
	MemoryContext old;
	int			i;

	old = EcKeptRelStart(&c->k, rel, "ec row insert");
	c->fire = fire;
	c->possible = true;
	c->ncolumns = ncolumns;
	c->columns = palloc(sizeof(char *) * Max(ncolumns, 1));
	for (i = 0; i < ncolumns; i++)
		c->columns[i] = pstrdup(columns[i]);
	c->attnums = palloc(sizeof(AttrNumber) * Max(ncolumns, 1));
	NamedColumns(rel, ncolumns, columns, c->attnums, &c->rt);

	/* the result relation, as EcBulkInsertBegin sets it up, kept */
	EcKeptRelFinish(&c->k, &c->rt, fire);
	EcCheckValidResultRel(c->k.rri, CMD_INSERT);
	c->defaults = ColumnDefaults(rel, *c->rt.inserted);
	c->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)), table_slot_callbacks(rel));

	/* the types the caller gives: each the column's, or text for an enum column */
	c->enum_types = palloc0(sizeof(Oid) * Max(ncolumns, 1));
	for (i = 0; types != NULL && i < ncolumns; i++)
		if (!EcColumnTakes(TupleDescAttr(RelationGetDescr(rel), c->attnums[i] - 1)->atttypid, types[i],
						   &c->enum_types[i]))
			c->possible = false;

	MemoryContextSwitchTo(old);
}

/* the kept indexes, locked as the executor locks them; false if one is not the one kept */
bool
EcKeptIndexesOpen(ResultRelInfo *rri, const Oid *indexids)
{
	int			i;
	bool		same = true;

	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	ir = index_open(indexids[i], RowExclusiveLock);

		if (ir != rri->ri_IndexRelationDescs[i])
			same = false;
		rri->ri_IndexRelationDescs[i] = ir;
	}
	return same;
}

void
EcKeptIndexesClose(ResultRelInfo *rri)
{
	int			i;

	for (i = 0; i < rri->ri_NumIndices; i++)
	{
#if PG_VERSION_NUM >= 170000
		index_insert_cleanup(rri->ri_IndexRelationDescs[i], rri->ri_IndexRelationInfo[i]);
#endif
		index_close(rri->ri_IndexRelationDescs[i], NoLock);
	}
}

/*
 * The end of a statement run in a kept estate, after AfterTriggerEndQuery:
 * the relations other AFTER events opened in it are closed, as at an
 * executor's end, and the slots the triggers made (old and new row, over
 * the relation's own row type, which they pin through this transaction's
 * resource owner) are dropped, to be made again by the next statement.
 */
void
EcKeptStatementEnd(EState *estate, ResultRelInfo *rri)
{
	ListCell   *lc;

	foreach(lc, estate->es_trig_target_relations)
	{
		ResultRelInfo *t = (ResultRelInfo *) lfirst(lc);

		ExecCloseIndices(t);
		table_close(t->ri_RelationDesc, NoLock);
	}
	estate->es_trig_target_relations = NIL;
	ExecResetTupleTable(estate->es_tupleTable, true);
	estate->es_tupleTable = NIL;
	rri->ri_TrigOldSlot = NULL;
	rri->ri_TrigNewSlot = NULL;
	rri->ri_ReturningSlot = NULL;
}

/*
 * The session's cache *cachep for rel (open and locked), built or checked,
 * with the indexes open and locked.  NULL when the writer cannot take rel's
 * rows: the indexes are closed again and the answer kept, so the next call
 * knows at once; the caller closes rel.
 */
static EcRowInsert *
RowInsertReady(EcRowInsert **cachep, Relation rel, int ncolumns, const char *const *columns,
			   bool fire, const Oid *types)
{
	EcRowInsert *c = *cachep;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(CacheMemoryContext, sizeof(EcRowInsert));
		*cachep = c;
	}
	/* opens the indexes either way */
	if (c->fire != fire || !SameColumns(c, ncolumns, columns) || !EcKeptRelUsable(&c->k, rel))
		RowInsertBuild(c, rel, ncolumns, columns, fire, types);
	if (!c->possible)
	{
		c->k.valid = true;
		EcKeptIndexesClose(c->k.rri);
		return NULL;
	}
	return c;
}

bool
EcRowInsertOne(EcRowInsert **cachep, Oid relid, int ncolumns, const char *const *columns,
			   const Datum *values, const bool *nulls)
{
	EcRowInsert *c;
	Relation	rel;
	EcBulkFkey *fkeys;
	int			nfkeys;
	TupleDesc	desc;
	CommandId	cid;

	rel = table_open(relid, RowExclusiveLock);
	if (!BulkPossible(rel, &fkeys, &nfkeys) || nfkeys > 0)
	{
		table_close(rel, NoLock);
		return false;
	}
	c = RowInsertReady(cachep, rel, ncolumns, columns, false, NULL);
	if (c == NULL)
	{
		table_close(rel, NoLock);
		return false;
	}

	/*
	 * Invalid until the row is in: an error on the way (a CHECK, a unique
	 * key) may leave half-made states behind, and the next call rebuilds.
	 */
	c->k.valid = false;
	EcCheckPermissions(&c->rt);
	desc = RelationGetDescr(rel);
	cid = GetCurrentCommandId(true);
	c->k.estate->es_output_cid = cid;
	ResetPerTupleExprContext(c->k.estate);
	FillSlot(c->slot, desc, c->defaults, GetPerTupleExprContext(c->k.estate), ncolumns, c->attnums,
			 values, nulls);
	if (desc->constr != NULL)
		EcConstraintsCheck(c->k.checks, c->k.rri, c->slot, c->k.estate);
	table_tuple_insert(rel, c->slot, cid, 0, NULL);
	if (c->k.rri->ri_NumIndices > 0)
		list_free(EcInsertIndexTuples(c->k.rri, c->slot, c->k.estate));
	ExecClearTuple(c->slot);
	ResetPerTupleExprContext(c->k.estate);
	EcKeptIndexesClose(c->k.rri);
	table_close(rel, NoLock);
	c->k.valid = true;
	return true;
}

/*
 * An enum's value for a label given as text: the few labels of a status
 * column, cached for the session (dropped on any change of pg_enum).
 */
static struct
{
	Oid			type;
	char		label[NAMEDATALEN];
	Datum		value;
}			enum_cache[8];
static int	enum_ncache = 0;
static bool enum_callback = false;

static void
EnumCacheInval(Datum arg, int cacheid, uint32 hashvalue)
{
	enum_ncache = 0;
}

bool
EcColumnTakes(Oid coltype, Oid given, Oid *enum_type)
{
	*enum_type = InvalidOid;
	if (coltype == given)
		return true;
	if (OidIsValid(coltype) && given == TEXTOID && get_typtype(coltype) == TYPTYPE_ENUM)
	{
		*enum_type = coltype;
		return true;
	}
	return false;
}

Datum
EcEnumValue(Oid enumtype, Datum label)
{
	char	   *s = TextDatumGetCString(label);
	int			i;

	if (!enum_callback)
	{
		CacheRegisterSyscacheCallback(ENUMOID, EnumCacheInval, (Datum) 0);
		enum_callback = true;
	}
	for (i = 0; i < enum_ncache; i++)
		if (enum_cache[i].type == enumtype && strcmp(enum_cache[i].label, s) == 0)
			return enum_cache[i].value;
	if (enum_ncache == lengthof(enum_cache))
		enum_ncache = 0;
	enum_cache[enum_ncache].value = DirectFunctionCall2(enum_in, CStringGetDatum(s), ObjectIdGetDatum(enumtype));
	enum_cache[enum_ncache].type = enumtype;
	strlcpy(enum_cache[enum_ncache].label, s, NAMEDATALEN);
	return enum_cache[enum_ncache++].value;
}

/* an INSERT statement under way through a kept cache (EcFiredInsertBegin) */
struct EcFiredInsert
{
	EcRowInsert *c;
	Relation	rel;
	TransitionCaptureState *transitions;
	BulkInsertState bistate;	/* many rows: as COPY writes them */
};

EcFiredInsert *
EcFiredInsertBegin(EcRowInsert **cachep, Oid relid, int ncolumns, const char *const *columns,
				   const Oid *types, bool many)
{
	EcRowInsert *c;
	EcFiredInsert *fi;
	Relation	rel;
	TupleDesc	desc;
	TriggerDesc *td;
	EState	   *estate;

	rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(rel);
	td = rel->trigdesc;
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rules != NULL ||
		(desc->constr != NULL && desc->constr->has_generated_stored) ||
		(td != NULL && td->trig_insert_instead_row) ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
	{
		table_close(rel, NoLock);
		return NULL;
	}
	c = RowInsertReady(cachep, rel, ncolumns, columns, true, types);
	if (c == NULL)
	{
		table_close(rel, NoLock);
		return NULL;
	}

	/* invalid until the statement is over, as in EcRowInsertOne */
	c->k.valid = false;
	estate = c->k.estate;
	EcCheckPermissions(&c->rt);

	/* the snapshot and command SPI would give the INSERT */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	estate->es_snapshot = GetActiveSnapshot();
	estate->es_output_cid = GetCurrentCommandId(true);

	fi = palloc0(sizeof(EcFiredInsert));
	fi->c = c;
	fi->rel = rel;
	fi->bistate = many ? GetBulkInsertState() : NULL;

	/* as an INSERT statement starts */
	AfterTriggerBeginQuery();
	fi->transitions = MakeTransitionCaptureState(td, relid, CMD_INSERT);
	ExecBSInsertTriggers(estate, c->k.rri);
	return fi;
}

int
EcFiredInsertRow(EcFiredInsert *fi, const Datum *values, const bool *nulls, TupleTableSlot **inserted)
{
	EcRowInsert *c = fi->c;
	EState	   *estate = c->k.estate;
	ResultRelInfo *rri = c->k.rri;
	TupleDesc	desc = RelationGetDescr(fi->rel);
	Datum	   *v = (Datum *) values;
	List	   *recheck = NIL;
	int			i;

	*inserted = NULL;
	ResetPerTupleExprContext(estate);
	for (i = 0; i < c->ncolumns; i++)
	{
		if (!OidIsValid(c->enum_types[i]) || nulls[i])
			continue;
		if (v == values)
		{
			v = MemoryContextAlloc(GetPerTupleMemoryContext(estate), sizeof(Datum) * c->ncolumns);
			memcpy(v, values, sizeof(Datum) * c->ncolumns);
		}
		v[i] = EcEnumValue(c->enum_types[i], values[i]);
	}
	FillSlot(c->slot, desc, c->defaults, GetPerTupleExprContext(estate), c->ncolumns, c->attnums, v, nulls);
	if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_insert_before_row &&
		!ExecBRInsertTriggers(estate, rri, c->slot))
		return 0;				/* a BEFORE trigger skipped it */
	if (desc->constr != NULL)
		EcConstraintsCheck(c->k.checks, rri, c->slot, estate);
	table_tuple_insert(fi->rel, c->slot, estate->es_output_cid, 0, fi->bistate);
	if (rri->ri_NumIndices > 0)
		recheck = EcInsertIndexTuples(rri, c->slot, estate);
	EcAfterRowSkipBegin(c->k.skip, rri, NULL, c->slot);
	ExecARInsertTriggers(estate, rri, c->slot, recheck, fi->transitions);
	EcAfterRowSkipEnd(c->k.skip, rri);
	list_free(recheck);
	*inserted = c->slot;
	return 1;
}

void
EcFiredInsertEnd(EcFiredInsert *fi)
{
	EcRowInsert *c = fi->c;

	/* as an INSERT statement ends: AFTER STATEMENT, then what was queued */
	ExecASInsertTriggers(c->k.estate, c->k.rri, fi->transitions);
	AfterTriggerEndQuery(c->k.estate);
	EcKeptStatementEnd(c->k.estate, c->k.rri);
	PopActiveSnapshot();
	if (fi->bistate != NULL)
		FreeBulkInsertState(fi->bistate);

	EcKeptIndexesClose(c->k.rri);
	table_close(fi->rel, NoLock);
	c->k.valid = true;
	pfree(fi);
}

int
EcRowInsertFire(EcRowInsert **cachep, Oid relid, int ncolumns, const char *const *columns,
				const Oid *types, const Datum *values, const bool *nulls, TupleTableSlot **inserted)
{
	EcFiredInsert *fi = EcFiredInsertBegin(cachep, relid, ncolumns, columns, types, false);
	int			result;

	*inserted = NULL;
	if (fi == NULL)
		return -1;
	result = EcFiredInsertRow(fi, values, nulls, inserted);
	EcFiredInsertEnd(fi);
	return result;
}

PG_FUNCTION_INFO_V1(ec_insert_rows);

/*
 * ec.insert_rows(target, columns, query): INSERT INTO target (columns)
 * query, written as COPY writes rows and with each foreign key checked once
 * for all of them; a plain INSERT when the table needs it. Returns the
 * number of rows inserted.
 */
Datum
ec_insert_rows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(1);
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Datum	   *name_datums;
	bool	   *name_nulls;
	const char **columns;
	int			ncolumns;
	EcBulkInsert *bi;
	uint64		inserted = 0;
	int			i;

	if (ARR_NDIM(names) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("columns must be a one-dimensional array")));
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &name_datums, &name_nulls, &ncolumns);
	if (ncolumns == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns cannot be empty")));
	columns = palloc(sizeof(char *) * ncolumns);
	for (i = 0; i < ncolumns; i++)
	{
		if (name_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("columns cannot contain null")));
		columns[i] = TextDatumGetCString(name_datums[i]);
	}

	bi = EcBulkInsertBegin(relid, ncolumns, columns);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (bi == NULL)
	{
		/* the executor's INSERT: row security, triggers or rules need it */
		StringInfoData sql;
		char	   *nsp = get_namespace_name(get_rel_namespace(relid));

		initStringInfo(&sql);
		appendStringInfo(&sql, "INSERT INTO %s (", quote_qualified_identifier(nsp, get_rel_name(relid)));
		for (i = 0; i < ncolumns; i++)
			appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "", quote_identifier(columns[i]));
		appendStringInfo(&sql, ") %s", query);
		if (SPI_execute(sql.data, false, 0) != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query must be a SELECT of the columns to insert")));
		inserted = SPI_processed;
	}
	else
	{
		TupleDesc	desc = RelationGetDescr(bi->rel);
		SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
		Portal		portal;
		Datum	   *values = palloc(sizeof(Datum) * ncolumns);
		bool	   *nulls = palloc(sizeof(bool) * ncolumns);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (!SPI_is_cursor_plan(plan))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query must be a SELECT of the columns to insert")));
		portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
		for (;;)
		{
			uint64		r;

			SPI_cursor_fetch(portal, true, EC_BULK_ROWS);
			if (SPI_processed == 0)
				break;
			if (SPI_tuptable->tupdesc->natts != ncolumns)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("query returns %d columns, not the %d to insert",
								SPI_tuptable->tupdesc->natts, ncolumns)));
			for (i = 0; i < ncolumns; i++)
			{
				Form_pg_attribute have = TupleDescAttr(SPI_tuptable->tupdesc, i);
				Form_pg_attribute want = TupleDescAttr(desc, bi->attnums[i] - 1);

				if (have->atttypid != want->atttypid ||
					(want->atttypmod >= 0 && have->atttypmod != want->atttypmod))
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("query column %d is of type %s, column \"%s\" of type %s",
									i + 1, format_type_with_typemod(have->atttypid, have->atttypmod),
									NameStr(want->attname),
									format_type_with_typemod(want->atttypid, want->atttypmod))));
			}
			for (r = 0; r < SPI_processed; r++)
			{
				heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
				EcBulkInsertRow(bi, values, nulls);
			}
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);
		inserted = EcBulkInsertEnd(bi);
	}
	SPI_finish();
	PG_RETURN_INT64((int64) inserted);
}
