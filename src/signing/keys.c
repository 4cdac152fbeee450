/*-------------------------------------------------------------------------
 *
 * keys.c
 *		The key store: ec.add_key, ec.generate_key, ec.retire_key, and the
 *		backend's cache of ec.keys.
 *
 * Secrets are read once per backend into a private memory context and
 * reloaded only when ec.keys changes: a statement trigger on the table
 * sends a relcache invalidation (pg_cron's cron.job_cache_invalidate does
 * the same for its job cache), and our callback marks the cache stale.  A
 * secret never appears in a message: errors name the purpose and key id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "signing/signing.h"

#define EC_KEY_ID_MAX		64
#define EC_SECRET_MIN		16
#define EC_SECRET_MAX		4096
#define EC_GENERATED_LEN	32

static MemoryContext EcKeyContext = NULL;
static EcKey *ec_keys = NULL;
static int	ec_nkeys = 0;
static bool ec_keys_valid = false;
static bool ec_keys_callback = false;
static Oid	ec_keys_relid = InvalidOid;

static SPIPlanPtr plan_load = NULL;
static SPIPlanPtr plan_add = NULL;
static SPIPlanPtr plan_retire = NULL;
static SPIPlanPtr plan_exists = NULL;
static SPIPlanPtr plan_event = NULL;

/* Forget the cached keys, wiping the secrets first. */
static void
EcKeysForget(void)
{
	int			i;

	for (i = 0; i < ec_nkeys; i++)
		explicit_bzero(ec_keys[i].secret, ec_keys[i].secret_len);
	if (EcKeyContext != NULL)
		MemoryContextReset(EcKeyContext);
	ec_keys = NULL;
	ec_nkeys = 0;
	ec_keys_valid = false;
}

static void
EcKeysInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == ec_keys_relid)
	{
		ec_keys_valid = false;
		EcForgetOwner();
	}
}

static TimestampTz
EcGetTimestamp(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? 0 : DatumGetTimestampTz(d);
}

/* Read every key into the cache. */
static void
EcKeysLoad(void)
{
	EcOwnerScope scope;
	MemoryContext old;
	uint64		n;
	uint64		i;

	if (!ec_keys_callback)
	{
		CacheRegisterRelcacheCallback(EcKeysInvalidate, (Datum) 0);
		ec_keys_callback = true;
	}
	if (EcKeyContext == NULL)
		EcKeyContext = AllocSetContextCreate(TopMemoryContext, "ec signing keys",
											 ALLOCSET_SMALL_SIZES);
	EcKeysForget();

	EcBecomeOwner(&scope);
	ec_keys_relid = get_relname_relid("keys", get_namespace_oid("ec", false));

	/*
	 * Valid from before the read: an invalidation that arrives while the
	 * statement takes its locks (a key committed meanwhile) marks it stale
	 * again.  An error leaves it empty and stale.
	 */
	ec_keys_valid = true;
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		n = EcSpiRun(&plan_load,
					 "SELECT k.purpose::pg_catalog.text, k.key_id, k.secret, k.not_after, k.retired_at, k.created_at"
					 " FROM ec.keys k ORDER BY 1, k.created_at DESC, k.key_id",
					 0, NULL, NULL, NULL, SPI_OK_SELECT);

		old = MemoryContextSwitchTo(EcKeyContext);
		ec_keys = palloc0(sizeof(EcKey) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			EcKey	   *k = &ec_keys[i];
			bool		isnull;
			bytea	   *secret = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));

			strlcpy(k->purpose, SPI_getvalue(tup, desc, 1), sizeof(k->purpose));
			strlcpy(k->key_id, SPI_getvalue(tup, desc, 2), sizeof(k->key_id));
			k->secret_len = VARSIZE_ANY_EXHDR(secret);
			k->secret = palloc(k->secret_len);
			memcpy(k->secret, VARDATA_ANY(secret), k->secret_len);
			k->not_after = EcGetTimestamp(tup, desc, 4);
			k->retired_at = EcGetTimestamp(tup, desc, 5);
			k->created_at = EcGetTimestamp(tup, desc, 6);
			ec_nkeys = (int) i + 1;
		}
		MemoryContextSwitchTo(old);
		SPI_finish();
	}
	PG_CATCH();
	{
		EcKeysForget();
		PG_RE_THROW();
	}
	PG_END_TRY();
	EcRestoreUser(&scope);
}

const EcKey *
EcKeysOf(const char *purpose, int *nkeys)
{
	int			first = -1;
	int			i;

	if (!ec_keys_valid)
		EcKeysLoad();
	*nkeys = 0;
	for (i = 0; i < ec_nkeys; i++)
	{
		if (strcmp(ec_keys[i].purpose, purpose) == 0)
		{
			if (first < 0)
				first = i;
			(*nkeys)++;
		}
		else if (first >= 0)
			break;
	}
	return first >= 0 ? &ec_keys[first] : NULL;
}

bool
EcKeyActive(const EcKey *key, TimestampTz now)
{
	if (key->retired_at != 0 && key->retired_at <= now)
		return false;
	if (key->not_after != 0 && key->not_after <= now)
		return false;
	return true;
}

/* Refuse a purpose the key_purpose type does not have. */
static void
CheckPurpose(const char *purpose)
{
	if (strcmp(purpose, "request") != 0 && strcmp(purpose, "consent") != 0 &&
		strcmp(purpose, "webhook_out") != 0 && strcmp(purpose, "api") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid key purpose \"%s\"", purpose),
				 errhint("The purposes are \"request\", \"consent\", \"webhook_out\" and \"api\".")));
}

/* A key id is 1 to 64 of A-Z a-z 0-9 . _ - (it travels in token headers). */
static void
CheckKeyId(const char *key_id)
{
	size_t		len = strlen(key_id);
	size_t		i;
	bool		ok = len >= 1 && len <= EC_KEY_ID_MAX;

	for (i = 0; ok && i < len; i++)
	{
		char		c = key_id[i];

		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-';
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid key id \"%s\"", key_id),
				 errdetail("A key id is 1 to 64 characters among letters, digits, \".\", \"_\" and \"-\".")));
}

static char *
ArgText(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Append a key_added / key_retired event (no secret in it). */
static void
EcKeyEvent(const char *event, const char *purpose, const char *key_id)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(event);
	values[1] = CStringGetTextDatum(purpose);
	values[2] = CStringGetTextDatum(key_id);
	EcSpiRun(&plan_event,
			 "INSERT INTO ec.pipeline_events (event_type, detail)"
			 " VALUES ($1, pg_catalog.jsonb_build_object('purpose', $2, 'key_id', $3))",
			 3, types, values, NULL, SPI_OK_INSERT);
}

/* Store a new key; the secret is checked here so no error can show it. */
static void
EcAddKey(const char *purpose, const char *key_id, bytea *secret,
		 bool not_after_null, TimestampTz not_after)
{
	EcOwnerScope scope;
	Oid			types[4] = {TEXTOID, TEXTOID, BYTEAOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	size_t		len = VARSIZE_ANY_EXHDR(secret);

	CheckPurpose(purpose);
	CheckKeyId(key_id);
	if (len < EC_SECRET_MIN || len > EC_SECRET_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret of key \"%s\" must be between %d and %d bytes long",
						key_id, EC_SECRET_MIN, EC_SECRET_MAX),
				 errhint("Use 32 random bytes, for example from ec.generate_key().")));
	if (!not_after_null && not_after <= GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("not_after of key \"%s\" is not in the future", key_id)));

	values[0] = CStringGetTextDatum(purpose);
	values[1] = CStringGetTextDatum(key_id);
	values[2] = PointerGetDatum(secret);
	values[3] = TimestampTzGetDatum(not_after);
	if (not_after_null)
		nulls[3] = 'n';

	EcBecomeOwner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (EcSpiRun(&plan_add,
				 "INSERT INTO ec.keys (purpose, key_id, secret, not_after)"
				 " VALUES ($1::ec.key_purpose, $2, $3, $4)"
				 " ON CONFLICT (purpose, key_id) DO NOTHING",
				 4, types, values, nulls, SPI_OK_INSERT) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("key \"%s\" of purpose \"%s\" already exists", key_id, purpose),
				 errhint("Key ids are never reused: add the new secret under a new key id.")));
	EcKeyEvent("key_added", purpose, key_id);
	SPI_finish();
	EcRestoreUser(&scope);
}

PG_FUNCTION_INFO_V1(ec_add_key);

/* ec.add_key(purpose, key_id, secret, not_after): store a key for rotation */
Datum
ec_add_key(PG_FUNCTION_ARGS)
{
	char	   *purpose = ArgText(fcinfo, 0, "purpose");
	char	   *key_id = ArgText(fcinfo, 1, "key_id");

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("secret must not be null")));
	EcAddKey(purpose, key_id, PG_GETARG_BYTEA_PP(2),
			 PG_ARGISNULL(3), PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ec_generate_key);

/* ec.generate_key(purpose, key_id, not_after): a new random key, returned once */
Datum
ec_generate_key(PG_FUNCTION_ARGS)
{
	char	   *purpose = ArgText(fcinfo, 0, "purpose");
	char	   *key_id = ArgText(fcinfo, 1, "key_id");
	bytea	   *secret = palloc(VARHDRSZ + EC_GENERATED_LEN);

	SET_VARSIZE(secret, VARHDRSZ + EC_GENERATED_LEN);
	if (!pg_strong_random(VARDATA(secret), EC_GENERATED_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random key")));
	EcAddKey(purpose, key_id, secret,
			 PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2));
	PG_RETURN_BYTEA_P(secret);
}

PG_FUNCTION_INFO_V1(ec_retire_key);

/* ec.retire_key(purpose, key_id): stop accepting and using a key */
Datum
ec_retire_key(PG_FUNCTION_ARGS)
{
	char	   *purpose = ArgText(fcinfo, 0, "purpose");
	char	   *key_id = ArgText(fcinfo, 1, "key_id");
	EcOwnerScope scope;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	CheckPurpose(purpose);
	values[0] = CStringGetTextDatum(purpose);
	values[1] = CStringGetTextDatum(key_id);

	EcBecomeOwner(&scope);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (EcSpiRun(&plan_retire,
				 "UPDATE ec.keys SET retired_at = pg_catalog.now()"
				 " WHERE purpose OPERATOR(pg_catalog.=) $1::ec.key_purpose"
				 " AND key_id OPERATOR(pg_catalog.=) $2 AND retired_at IS NULL",
				 2, types, values, NULL, SPI_OK_UPDATE) == 1)
		EcKeyEvent("key_retired", purpose, key_id);
	else if (EcSpiRun(&plan_exists,
					  "SELECT FROM ec.keys WHERE purpose OPERATOR(pg_catalog.=) $1::ec.key_purpose"
					  " AND key_id OPERATOR(pg_catalog.=) $2",
					  2, types, values, NULL, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("key \"%s\" of purpose \"%s\" does not exist", key_id, purpose)));
	/* retiring a retired key again changes nothing */
	SPI_finish();
	EcRestoreUser(&scope);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ec_keys_changed);

/* Trigger on ec.keys: every backend reloads its key cache. */
Datum
ec_keys_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ec_keys_changed: not called by trigger manager");
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}
