/*-------------------------------------------------------------------------
 *
 * signing.c
 *		Settings of the signing room, the switch to the extension owner,
 *		and the jsonb answers its entry points return.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "signing/signing.h"

int			ec_request_max_skew = 300;
int			ec_request_rate_limit = 100;
int			ec_request_max_size = 10240;
int			ec_replay_guard_retention = 7 * SECS_PER_DAY;
int			ec_consent_token_ttl = 7 * SECS_PER_DAY;

/* Settings of signed requests and consent tokens. */
void
SigningInit(void)
{
	DefineCustomIntVariable("ec.request_max_skew",
							"Largest difference between X-Timestamp and the server clock.",
							"A signed request whose timestamp is further from now, either way, is refused (401).",
							&ec_request_max_skew,
							300, 1, SECS_PER_DAY,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.request_rate_limit",
							"Signed requests accepted per minute from one client (IPv4 address or IPv6 /64).",
							"Zero turns the limit off.",
							&ec_request_rate_limit,
							100, 0, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.request_max_size",
							"Largest body a signed request may carry.",
							"A larger body is refused (413) before it is hashed.",
							&ec_request_max_size,
							10240, 1, MaxAllocSize / 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.replay_guard_retention",
							"How long the content hash of a validly signed request is remembered.",
							"The same content again within this time is a replay (409).",
							&ec_replay_guard_retention,
							7 * SECS_PER_DAY, 60, 365 * SECS_PER_DAY,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.consent_token_ttl",
							"Lifetime of a consent token (its exp claim).",
							NULL,
							&ec_consent_token_ttl,
							7 * SECS_PER_DAY, 60, 365 * SECS_PER_DAY,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

static Oid	ec_owner = InvalidOid;

/* Forget the owner (the key cache's invalidation calls this: DROP EXTENSION). */
void
EcForgetOwner(void)
{
	ec_owner = InvalidOid;
}

/*
 * The owner of extension equity_connect, looked up in pg_extension once per
 * backend (two catalog index probes cost more than the checks themselves).
 */
static Oid
EcExtensionOwner(void)
{
	Oid			extoid;
	Oid			owner = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (OidIsValid(ec_owner))
		return ec_owner;
	extoid = get_extension_oid("equity_connect", true);
	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"equity_connect\" is not installed in this database")));

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		elog(ERROR, "could not find the owner of extension \"equity_connect\"");
	ec_owner = owner;
	return owner;
}

/*
 * Run what follows as the extension owner (pg_cron's pattern).  An error
 * needs no cleanup: transaction abort restores the user.
 */
void
EcBecomeOwner(EcOwnerScope *scope)
{
	Oid			owner = EcExtensionOwner();

	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	SetUserIdAndSecContext(owner, scope->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
EcRestoreUser(const EcOwnerScope *scope)
{
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
}

int64
EcUnixSeconds(TimestampTz t)
{
	int64		us = t + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	/* floor, also before 1970 */
	return us >= 0 ? us / USECS_PER_SEC : -((-us + USECS_PER_SEC - 1) / USECS_PER_SEC);
}

TimestampTz
EcFromUnixSeconds(int64 s)
{
	return s * USECS_PER_SEC - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

/* The next pair of an answer, its key set. */
static JsonbValue *
EcAnswerPair(EcAnswer *a, const char *key)
{
	JsonbPair  *p;

	if (a->npairs >= EC_ANSWER_MAX_PAIRS)
		elog(ERROR, "too many members in an answer");
	p = &a->pairs[a->npairs];
	p->key.type = jbvString;
	p->key.val.string.val = (char *) key;
	p->key.val.string.len = strlen(key);
	p->order = a->npairs++;
	return &p->value;
}

void
EcAnswerBegin(EcAnswer *a, int status, const char *reason)
{
	a->npairs = 0;
	EcAnswerInt(a, "status", status);
	EcAnswerText(a, "reason", reason);
}

void
EcAnswerText(EcAnswer *a, const char *key, const char *value)
{
	JsonbValue *v;

	if (value == NULL)
	{
		EcAnswerNull(a, key);
		return;
	}
	v = EcAnswerPair(a, key);
	/* the value must outlive the caller's buffer: copy */
	v->type = jbvString;
	v->val.string.len = strlen(value);
	v->val.string.val = pnstrdup(value, v->val.string.len);
}

void
EcAnswerInt(EcAnswer *a, const char *key, int64 value)
{
	JsonbValue *v = EcAnswerPair(a, key);

	v->type = jbvNumeric;
	v->val.numeric = int64_to_numeric(value);
}

void
EcAnswerNull(EcAnswer *a, const char *key)
{
	EcAnswerPair(a, key)->type = jbvNull;
}

void
EcAnswerTimestamp(EcAnswer *a, const char *key, TimestampTz value)
{
	char		buf[MAXDATELEN + 1];
	int			utc = 0;

	/* ISO 8601 in UTC, whatever the session's DateStyle and TimeZone */
	JsonEncodeDateTime(buf, TimestampTzGetDatum(value), TIMESTAMPTZOID, &utc);
	EcAnswerText(a, key, buf);
}

/* jsonb's order of object keys: shorter first, then bytewise. */
static int
EcKeyCompare(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len ? -1 : 1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

Jsonb *
EcAnswerEnd(EcAnswer *a)
{
	JsonbValue	obj;
	int			i;

	/* insertion sort: a dozen pairs at most, keys distinct */
	for (i = 1; i < a->npairs; i++)
	{
		JsonbPair	p = a->pairs[i];
		int			j = i - 1;

		while (j >= 0 && EcKeyCompare(&a->pairs[j].key, &p.key) > 0)
		{
			a->pairs[j + 1] = a->pairs[j];
			j--;
		}
		a->pairs[j + 1] = p;
	}
	for (i = 1; i < a->npairs; i++)
		Assert(EcKeyCompare(&a->pairs[i - 1].key, &a->pairs[i].key) < 0);

	obj.type = jbvObject;
	obj.val.object.nPairs = a->npairs;
	obj.val.object.pairs = a->pairs;
	return JsonbValueToJsonb(&obj);
}

uint64
EcSpiRun(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
		 Datum *values, const char *nulls, int expect)
{
	int			rc;

	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	rc = SPI_execute_plan(*plan, values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "SPI_execute_plan returned %s, expected %s",
			 SPI_result_code_string(rc), SPI_result_code_string(expect));
	return SPI_processed;
}
