/*-------------------------------------------------------------------------
 *
 * http_init.c
 *		The HTTP queue's settings, shared memory, worker registration and
 *		the commit-time wake-up of the worker.
 *
 * One static background worker per served database (ec.http_databases,
 * or ec.database_name when that is empty).  Each worker publishes its
 * latch in a slot of shared memory; a transaction that enqueued a request
 * sets the latch of its database's worker when it commits, so the worker
 * sends within milliseconds instead of at its next poll.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "common/pgcompat.h"
#include "equity_connect.h"
#include "http/http.h"

char	   *ec_http_databases = NULL;
int			ec_http_max_in_flight = 256;
int			ec_http_host_max_in_flight = 64;
char	   *ec_http_host_limits = NULL;
int			ec_http_connect_timeout_ms = 10000;
int			ec_http_timeout_ms = 30000;
int			ec_http_retry_base_ms = 1000;
int			ec_http_retry_max_ms = 3600 * 1000;
int			ec_http_max_response_bytes = 1024 * 1024;
int			ec_http_poll_interval_ms = 1000;
int			ec_http_callback_timeout_ms = 10000;
char	   *ec_http_api_key_urls = NULL;
char	   *ec_http_ca_file = NULL;

/* One worker's published state. */
typedef struct HttpWorkerSlot
{
	Oid			dboid;			/* InvalidOid while no worker runs */
	int			pgprocno;
	pid_t		pid;
	TimestampTz started_at;
	uint64		wakes;			/* commits that woke the worker, ever */
	HttpWorkerStats stats;
} HttpWorkerSlot;

typedef struct HttpShared
{
	slock_t		mutex;
	HttpWorkerSlot slot[EC_HTTP_MAX_DATABASES];
} HttpShared;

static HttpShared *http_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(ec_http_workers);

static bool wake_callback_registered = false;
static bool wake_at_commit = false;
static int	my_slot = -1;

/* ec.http_host_limits must parse. */
static bool
CheckHostLimits(char **newval, void **extra, GucSource source)
{
	EcHostLimit lim[64];
	int			n;
	char		err[128];

	if (*newval == NULL)
		return true;
	if (!ec_http_parse_host_limits(*newval, lim, lengthof(lim), &n, err, sizeof(err)))
	{
		GUC_check_errdetail("Invalid host limits: %s.", err);
		GUC_check_errhint("Write entries such as \"api.instantly.ai=100/s,6000/min,in_flight=20\", separated by \";\".");
		return false;
	}
	return true;
}

/*
 * Find key_id's URL in an ec.http_api_key_urls value ("id=url; id=url").
 * Returns a palloc'd URL, NULL when absent; *ok is false when the value
 * is malformed.
 */
static char *
LookupKeyUrl(const char *list, const char *key_id, bool *ok)
{
	const char *p = list;
	char	   *found = NULL;

	*ok = true;
	if (list == NULL)
		return NULL;
	while (*p != '\0')
	{
		const char *e = strchr(p, ';');
		const char *eq;
		const char *a,
				   *b,
				   *c,
				   *d;

		if (e == NULL)
			e = p + strlen(p);
		a = p;
		while (a < e && isspace((unsigned char) *a))
			a++;
		if (a < e)
		{
			eq = memchr(a, '=', e - a);
			if (eq == NULL)
			{
				*ok = false;
				return NULL;
			}
			b = eq;
			while (b > a && isspace((unsigned char) b[-1]))
				b--;
			c = eq + 1;
			while (c < e && isspace((unsigned char) *c))
				c++;
			d = e;
			while (d > c && isspace((unsigned char) d[-1]))
				d--;
			if (b == a || d == c ||
				!((d - c > 7 && strncmp(c, "http://", 7) == 0) ||
				  (d - c > 8 && strncmp(c, "https://", 8) == 0)))
			{
				*ok = false;
				return NULL;
			}
			for (const char *k = a; k < b; k++)
				if (!(isalnum((unsigned char) *k) || *k == '.' || *k == '_' || *k == '-'))
				{
					*ok = false;
					return NULL;
				}
			if (key_id != NULL && found == NULL &&
				strlen(key_id) == (size_t) (b - a) && strncmp(a, key_id, b - a) == 0)
				found = pnstrdup(c, d - c);
		}
		p = (*e == ';') ? e + 1 : e;
	}
	return found;
}

static bool
CheckApiKeyUrls(char **newval, void **extra, GucSource source)
{
	bool		ok;

	(void) LookupKeyUrl(*newval, NULL, &ok);
	if (!ok)
	{
		GUC_check_errdetail("Write entries such as \"batchdata=https://api.batchdata.com\", separated by \";\".");
		return false;
	}
	return true;
}

char *
HttpApiKeyBaseUrl(const char *key_id)
{
	bool		ok;
	char	   *url = LookupKeyUrl(ec_http_api_key_urls, key_id, &ok);

	if (url != NULL)
		return url;
	if (strcmp(key_id, "instantly") == 0 && ec_instantly_base_url != NULL)
		return pstrdup(ec_instantly_base_url);
	if (strcmp(key_id, "vapi") == 0 && ec_vapi_base_url != NULL)
		return pstrdup(ec_vapi_base_url);
	return NULL;
}

bool
HttpUrlUnderBase(const char *url, const char *base)
{
	size_t		n = strlen(base);

	if (n == 0 || pg_strncasecmp(url, base, n) != 0)
		return false;
	/* "https://api.x.com" covers ".../v2" but not "https://api.x.com.evil" */
	return base[n - 1] == '/' || url[n] == '\0' || url[n] == '/' || url[n] == '?';
}

static void
DefineHttpSettings(void)
{
	DefineCustomStringVariable("ec.http_databases",
							   "Databases the HTTP worker serves, comma-separated (empty: ec.database_name).",
							   NULL,
							   &ec_http_databases,
							   "",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY | GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_max_in_flight",
							"Most requests the HTTP worker of a database has in flight at once.",
							"Each is one connection; the worker lowers it to what its file descriptors allow.",
							&ec_http_max_in_flight,
							256, 1, 10000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_host_max_in_flight",
							"Most requests in flight to one host, unless ec.http_host_limits says otherwise.",
							NULL,
							&ec_http_host_max_in_flight,
							64, 1, 10000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ec.http_host_limits",
							   "Per-host rate and concurrency limits of outbound HTTP.",
							   "Entries \"host[:port]=N/s,N/min,in_flight=N\" separated by \";\". The Instantly and VAPI hosts default to 100/s,6000/min.",
							   &ec_http_host_limits,
							   "",
							   PGC_SIGHUP, 0,
							   CheckHostLimits, NULL, NULL);

	DefineCustomIntVariable("ec.http_connect_timeout_ms",
							"Time allowed to connect (TCP and TLS) to a host.",
							NULL,
							&ec_http_connect_timeout_ms,
							10000, 1, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_timeout_ms",
							"Time allowed for a whole request, from connecting to the last byte of the response.",
							NULL,
							&ec_http_timeout_ms,
							30000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_retry_base_ms",
							"First retry delay; it doubles with each attempt (with jitter).",
							NULL,
							&ec_http_retry_base_ms,
							1000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_retry_max_ms",
							"Longest retry delay, also the cap on a server's Retry-After.",
							NULL,
							&ec_http_retry_max_ms,
							3600 * 1000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_max_response_bytes",
							"Largest response body kept; a longer one is cut there and marked truncated.",
							NULL,
							&ec_http_max_response_bytes,
							1024 * 1024, 0, 256 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_poll_interval_ms",
							"How often an idle HTTP worker looks for requests it was not woken for.",
							"Commits that enqueue wake the worker at once; this covers the rest (two-phase commit, direct inserts).",
							&ec_http_poll_interval_ms,
							1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ec.http_callback_timeout_ms",
							"statement_timeout of a request's SQL callback.",
							NULL,
							&ec_http_callback_timeout_ms,
							10000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("ec.http_api_key_urls",
							   "Where each API key of ec.keys may be sent, beyond instantly and vapi.",
							   "Entries \"key_id=base URL\" separated by \";\". A key is attached only to requests under its URL.",
							   &ec_http_api_key_urls,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   CheckApiKeyUrls, NULL, NULL);

	DefineCustomStringVariable("ec.http_ca_file",
							   "File of CA certificates to verify servers with (empty: the system's).",
							   NULL,
							   &ec_http_ca_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

static void
HttpShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(HttpShared)));
}

static void
HttpShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	http_shared = ShmemInitStruct("equity_connect http", sizeof(HttpShared), &found);
	if (!found)
	{
		memset(http_shared, 0, sizeof(HttpShared));
		SpinLockInit(&http_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The databases to serve: ec.http_databases, or ec.database_name. */
static List *
ServedDatabases(void)
{
	const char *raw = (ec_http_databases && *ec_http_databases) ? ec_http_databases : ec_database_name;
	char	   *copy = pstrdup(raw ? raw : "postgres");
	List	   *names = NIL;
	List	   *unique = NIL;
	ListCell   *lc;

	if (!SplitGUCList(copy, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"%s\"", "ec.http_databases")));
	foreach(lc, names)
	{
		char	   *name = (char *) lfirst(lc);
		ListCell   *lc2;
		bool		dup = false;

		if (*name == '\0')
			continue;
		foreach(lc2, unique)
			if (strcmp((char *) lfirst(lc2), name) == 0)
				dup = true;
		if (!dup)
			unique = lappend(unique, name);
	}
	return unique;
}

static void
RegisterHttpWorkers(void)
{
	List	   *dbs = ServedDatabases();
	ListCell   *lc;
	int			i = 0;

	foreach(lc, dbs)
	{
		const char *db = (const char *) lfirst(lc);
		BackgroundWorker worker;

		if (i >= EC_HTTP_MAX_DATABASES)
		{
			ereport(WARNING,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the HTTP worker serves at most %d databases; \"%s\" and later ones are not served",
							EC_HTTP_MAX_DATABASES, db)));
			break;
		}
		if (strlen(db) >= NAMEDATALEN)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("database name \"%s\" is too long; it is not served", db)));
			continue;
		}

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		/* never on a standby: it starts once recovery has finished */
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		strlcpy(worker.bgw_library_name, "equity_connect", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "ec_http_worker_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "equity_connect http worker for \"%s\"", db);
		strlcpy(worker.bgw_type, "equity_connect http worker", BGW_MAXLEN);
		worker.bgw_main_arg = Int32GetDatum(i);
		strlcpy(worker.bgw_extra, db, BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
		i++;
	}
}

/* The worker publishes its latch; cleared again when it exits. */
static void
HttpDetachWorkerSlot(int code, Datum arg)
{
	int			slot = DatumGetInt32(arg);

	SpinLockAcquire(&http_shared->mutex);
	if (http_shared->slot[slot].pid == MyProcPid)
	{
		http_shared->slot[slot].dboid = InvalidOid;
		http_shared->slot[slot].pid = 0;
	}
	SpinLockRelease(&http_shared->mutex);
}

void
HttpAttachWorkerSlot(int slot)
{
	if (http_shared == NULL || slot < 0 || slot >= EC_HTTP_MAX_DATABASES)
		elog(ERROR, "equity_connect http shared memory is not initialized");
	SpinLockAcquire(&http_shared->mutex);
	http_shared->slot[slot].dboid = MyDatabaseId;
	http_shared->slot[slot].pgprocno = EcMyProcNumber();
	http_shared->slot[slot].pid = MyProcPid;
	http_shared->slot[slot].started_at = GetCurrentTimestamp();
	memset(&http_shared->slot[slot].stats, 0, sizeof(HttpWorkerStats));
	SpinLockRelease(&http_shared->mutex);
	my_slot = slot;
	before_shmem_exit(HttpDetachWorkerSlot, Int32GetDatum(slot));
}

void
HttpPublishStats(const HttpWorkerStats *stats)
{
	SpinLockAcquire(&http_shared->mutex);
	http_shared->slot[my_slot].stats = *stats;
	SpinLockRelease(&http_shared->mutex);
}

/*
 * How many commits have woken this worker.  The latch only rouses it: any
 * wait inside a transaction (for a lock, say in a callback, or for a buffer
 * being read) resets the latch and so consumes a wake-up that arrived
 * meanwhile.  The count does not get lost; the worker claims again when it
 * has moved since its last claim round began.
 */
uint64
HttpWakeCount(void)
{
	uint64		n;

	SpinLockAcquire(&http_shared->mutex);
	n = http_shared->slot[my_slot].wakes;
	SpinLockRelease(&http_shared->mutex);
	return n;
}

/*
 * ec.http_workers(): each running HTTP worker, its database and counters
 * since it started.
 */
Datum
ec_http_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HttpWorkerSlot slots[EC_HTTP_MAX_DATABASES];

	InitMaterializedSRF(fcinfo, 0);
	if (http_shared == NULL)
		return (Datum) 0;
	SpinLockAcquire(&http_shared->mutex);
	memcpy(slots, http_shared->slot, sizeof(slots));
	SpinLockRelease(&http_shared->mutex);

	for (int i = 0; i < EC_HTTP_MAX_DATABASES; i++)
	{
		Datum		values[10];
		bool		nulls[10];
		char	   *db;

		if (slots[i].pid == 0)
			continue;
		memset(nulls, 0, sizeof(nulls));
		db = get_database_name(slots[i].dboid);
		values[0] = db ? CStringGetTextDatum(db) : (Datum) 0;
		nulls[0] = db == NULL;
		values[1] = Int32GetDatum(slots[i].pid);
		values[2] = TimestampTzGetDatum(slots[i].started_at);
		values[3] = Int32GetDatum(slots[i].stats.in_flight);
		values[4] = Int32GetDatum(slots[i].stats.max_in_flight);
		values[5] = Int64GetDatum((int64) slots[i].stats.sent);
		values[6] = Int64GetDatum((int64) slots[i].stats.succeeded);
		values[7] = Int64GetDatum((int64) slots[i].stats.retried);
		values[8] = Int64GetDatum((int64) slots[i].stats.failed);
		values[9] = Int64GetDatum((int64) slots[i].stats.reloads);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Set the latch of the worker serving this database, if one runs. */
static void
WakeWorker(void)
{
	int			procno = -1;

	if (http_shared == NULL)
		return;
	SpinLockAcquire(&http_shared->mutex);
	for (int i = 0; i < EC_HTTP_MAX_DATABASES; i++)
		if (http_shared->slot[i].pid != 0 && http_shared->slot[i].dboid == MyDatabaseId)
		{
			procno = http_shared->slot[i].pgprocno;
			http_shared->slot[i].wakes++;
			break;
		}
	SpinLockRelease(&http_shared->mutex);
	if (procno >= 0 && procno != EcMyProcNumber())
		SetLatch(&GetPGProcByNumber(procno)->procLatch);
}

static void
HttpXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
			{
				wake_at_commit = false;
				WakeWorker();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared transaction is found by the worker's poll */
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

void
HttpWakeOnCommit(void)
{
	if (!wake_callback_registered)
	{
		RegisterXactCallback(HttpXactCallback, NULL);
		wake_callback_registered = true;
	}
	wake_at_commit = true;
}

void
HttpInit(void)
{
	DefineHttpSettings();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = HttpShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = HttpShmemStartup;

	RegisterHttpWorkers();
}
