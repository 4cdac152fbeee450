/*-------------------------------------------------------------------------
 *
 * codes.c
 *		A per-session cache of ec.verification_code_map: provider result
 *		codes and what they mean for email_verified / phone_verified.
 *
 * The cache is loaded on first use and dropped by a relcache invalidation
 * of the table, which its statement trigger (ec.verification_code_map_changed)
 * sends on every change, as pg_cron does for its job table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "identity/identity.h"

#define CODE_KEY_LEN 48

typedef struct CodeEntry
{
	char		key[CODE_KEY_LEN];	/* provider ":" code */
	EcCodeKind	kind;
	EcVerdict	verdict;
} CodeEntry;

static HTAB *CodeCache = NULL;
static MemoryContext CodeContext = NULL;
static bool CodeCacheValid = false;
static Oid	CodeMapRelid = InvalidOid;

static void
InvalidateCodeCache(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == CodeMapRelid)
		CodeCacheValid = false;
}

void
CodesInit(void)
{
	CacheRegisterRelcacheCallback(InvalidateCodeCache, (Datum) 0);
}

static void
CodeKey(char *key, const char *provider, const char *code)
{
	snprintf(key, CODE_KEY_LEN, "%s:%s", provider, code);
}

/* (re)load the whole table: a few hundred rows at most */
static void
LoadCodes(void)
{
	HASHCTL		ctl;
	uint64		i;
	int			rc;

	if (CodeContext == NULL)
		CodeContext = AllocSetContextCreate(TopMemoryContext, "ec verification codes",
											ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(CodeContext);
	CodeCache = NULL;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = CODE_KEY_LEN;
	ctl.entrysize = sizeof(CodeEntry);
	ctl.hcxt = CodeContext;
	CodeCache = hash_create("ec verification codes", 128, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	/* valid from here: an invalidation while we read marks it stale again */
	CodeMapRelid = get_relname_relid("verification_code_map",
									 get_namespace_oid("ec", false));
	CodeCacheValid = true;

	rc = SPI_execute("SELECT provider, code, kind, verdict FROM ec.verification_code_map",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed on ec.verification_code_map: %s",
			 SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *provider = SPI_getvalue(tup, desc, 1);
		char	   *code = SPI_getvalue(tup, desc, 2);
		char	   *kind = SPI_getvalue(tup, desc, 3);
		char	   *verdict = SPI_getvalue(tup, desc, 4);
		char		key[CODE_KEY_LEN];
		CodeEntry  *e;
		bool		found;

		if (provider == NULL || code == NULL)
			continue;
		CodeKey(key, provider, code);
		e = hash_search(CodeCache, key, HASH_ENTER, &found);
		e->kind = (kind && strncmp(kind, "email", 5) == 0) ? EC_CODE_EMAIL :
			(kind && strncmp(kind, "phone", 5) == 0) ? EC_CODE_PHONE : EC_CODE_OTHER;
		e->verdict = (verdict && strcmp(verdict, "valid") == 0) ? EC_VERDICT_VALID :
			(verdict && strcmp(verdict, "invalid") == 0) ? EC_VERDICT_INVALID :
			EC_VERDICT_UNKNOWN;
	}
}

/*
 * The kind and verdict of a code, looked up for the provider first and then
 * for Melissa, whose codes every skip-trace router passes on.  The caller
 * must be connected to SPI.
 */
bool
CodeLookup(const char *provider, const char *code, EcCodeKind *kind,
		   EcVerdict *verdict)
{
	char		key[CODE_KEY_LEN];
	CodeEntry  *e = NULL;

	if (!CodeCacheValid || CodeCache == NULL)
		LoadCodes();
	if (provider && strlen(provider) + strlen(code) + 2 <= CODE_KEY_LEN)
	{
		CodeKey(key, provider, code);
		e = hash_search(CodeCache, key, HASH_FIND, NULL);
	}
	if (e == NULL && strlen(code) + 9 <= CODE_KEY_LEN)
	{
		CodeKey(key, "melissa", code);
		e = hash_search(CodeCache, key, HASH_FIND, NULL);
	}
	if (e == NULL)
		return false;
	*kind = e->kind;
	*verdict = e->verdict;
	return true;
}

/* Trigger: tell every session that verification_code_map changed */
PG_FUNCTION_INFO_V1(ec_verification_code_map_changed);
Datum
ec_verification_code_map_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ec.verification_code_map_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
