/*-------------------------------------------------------------------------
 *
 * jobs.c
 *		Dynamic background workers that run the daily jobs.
 *
 * A scheduler (pg_cron, or anything calling ec.run_scheduled()) only
 * triggers: ec.launch_jobs() registers one dynamic worker for the run, waits
 * until it has started (as autoprewarm does) and returns.  The worker
 * connects to the caller's database as the caller, runs the jobs in order
 * (refresh, then feeder) for the given local date, each in a transaction of
 * its own, and records every outcome; an error in one step is
 * caught, reported to the log and recorded, and never reaches the scheduler.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "campaign/campaign.h"

/* What a job worker is told (bgw_extra). */
typedef struct EcJobArgs
{
	Oid			database;
	Oid			role;
	DateADT		local_date;
	int			jobs;			/* EC_JOB_BIT mask */
} EcJobArgs;

StaticAssertDecl(sizeof(EcJobArgs) <= BGW_EXTRALEN, "job arguments must fit in bgw_extra");

void
EcJobWorkersInit(void)
{
	/* dynamic workers only: nothing to register at postmaster start */
}

/*
 * Runs one SQL statement returning one text value in a transaction of its
 * own; returns a copy in the caller's context, or NULL and *error (the
 * message) when it failed.  The error is reported to the log.
 */
static char *
RunStep(const char *sql, int nargs, Oid *types, Datum *values, char **error)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *volatile result = NULL;

	*error = NULL;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		int			rc;

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, sql);
		rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "unexpected SPI result %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (v != NULL)
				result = MemoryContextStrdup(caller, v);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		*error = edata->message ? edata->message : pstrdup("unknown error");
		result = NULL;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/* Records a failure the SQL functions could not record themselves. */
static void
RecordFailure(const char *job, DateADT day, bool has_broker, int64 broker, TimestampTz started, const char *msg)
{
	Oid			types[5] = {TEXTOID, DATEOID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[5];
	char	   *error;

	values[0] = CStringGetTextDatum(job);
	values[1] = DateADTGetDatum(day);
	values[2] = Int64GetDatum(broker);
	values[3] = TimestampTzGetDatum(started);
	values[4] = CStringGetTextDatum(msg);
	if (has_broker)
		RunStep("SELECT ec.record_job_run($1, $2, $3, $4, false, $5)", 5, types, values, &error);
	else
	{
		Oid			t4[4] = {TEXTOID, DATEOID, TIMESTAMPTZOID, TEXTOID};
		Datum		v4[4] = {values[0], values[1], values[3], values[4]};

		RunStep("SELECT ec.record_job_run($1, $2, NULL, $3, false, $4)", 4, t4, v4, &error);
	}
	if (error != NULL)
		ereport(LOG,
				(errmsg("equity_connect could not record the failure of job \"%s\": %s", job, error)));
}

static void
RunRefresh(DateADT day)
{
	Oid			types[1] = {DATEOID};
	Datum		values[1] = {DateADTGetDatum(day)};
	TimestampTz started = GetCurrentTimestamp();
	char	   *error;
	char	   *result;

	result = RunStep("SELECT ec.refresh_contactable_leads($1)::text", 1, types, values, &error);
	if (result == NULL)
		RecordFailure("refresh", day, false, 0, started, error ? error : "no result");
	else
		ereport(LOG, (errmsg("equity_connect refresh: %s", result)));
}

/*
 * The feeder: every broker in one pass (ec.run_feeder falls back to one
 * broker at a time, each failure recorded, when the pass fails).
 */
static void
RunFeeder(DateADT day)
{
	Oid			types[1] = {DATEOID};
	Datum		values[1] = {DateADTGetDatum(day)};
	TimestampTz started = GetCurrentTimestamp();
	char	   *error;
	char	   *result;

	result = RunStep("SELECT ec.run_feeder($1)::text", 1, types, values, &error);
	if (result == NULL)
		RecordFailure("feeder", day, false, 0, started, error ? error : "no result");
	else
		ereport(LOG, (errmsg("equity_connect feeder: %s", result)));
}

/*
 * Entry point of a job worker.
 */
void
EcCampaignJobMain(Datum main_arg)
{
	EcJobArgs	args;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.database, args.role, 0);

	if (args.jobs & EC_JOB_BIT(EC_JOB_REFRESH))
		RunRefresh(args.local_date);
	if (args.jobs & EC_JOB_BIT(EC_JOB_FEEDER))
		RunFeeder(args.local_date);
	proc_exit(0);
}

/*
 * ec.launch_jobs(jobs text[], local_date date) returns jsonb: starts a worker
 * that runs the jobs (in the order refresh, feeder) for the local date.
 */
PG_FUNCTION_INFO_V1(ec_launch_jobs);
Datum
ec_launch_jobs(PG_FUNCTION_ARGS)
{
	ArrayType  *jobs = PG_GETARG_ARRAYTYPE_P(0);
	DateADT		day = PG_GETARG_DATEADT(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	EcJobArgs	args;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid;
	StringInfoData names;
	char		datebuf[MAXDATELEN + 1];

	memset(&args, 0, sizeof(args));
	deconstruct_array(jobs, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			args.jobs |= EC_JOB_BIT(EcJobByName(TextDatumGetCString(elems[i]), false));
	if (args.jobs == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no job to launch"),
				 errhint("The jobs are \"refresh\" and \"feeder\".")));
	args.database = MyDatabaseId;
	args.role = GetUserId();
	args.local_date = day;

	initStringInfo(&names);
	for (i = 0; i < EC_JOB_COUNT; i++)
		if (args.jobs & EC_JOB_BIT(i))
			appendStringInfo(&names, "%s%s", names.len ? ", " : "", ec_job_names[i]);
	{
		int			y,
					m,
					d;

		j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
		snprintf(datebuf, sizeof(datebuf), "%04d-%02d-%02d", y, m, d);
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "equity_connect", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "EcCampaignJobMain", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "equity_connect job %s for %s", names.data, datebuf);
	strlcpy(worker.bgw_type, "equity_connect campaign job", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = MyProcPid;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not register background process"),
				 errhint("You may need to increase \"max_worker_processes\".")));
	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start background process"),
				 errhint("More details may be available in the server log.")));

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(
		psprintf("{\"status\": 202, \"reason\": \"launched\", \"pid\": %d, \"jobs\": \"%s\", \"local_date\": \"%s\"}",
				 (int) pid, names.data, datebuf))));
}
