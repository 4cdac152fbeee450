/*-------------------------------------------------------------------------
 *
 * campaign.c
 *		Settings of the campaign layer and the local-time clock of the
 *		daily jobs.
 *
 * Each job (refresh, feeder) is due once a day at a local wall-clock time
 * of the business time zone (ec.timezone), on some weekdays.  The
 * conversion from local time to an instant is PostgreSQL's own
 * (timestamp AT TIME ZONE), done in SQL (schema/80_campaign.sql:
 * ec.job_schedule, ec.job_due_date); this file parses and validates the
 * settings and hands them over through ec.job_settings().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"

#include "campaign/campaign.h"
#include "equity_connect.h"

const char *const ec_job_names[EC_JOB_COUNT] = {"refresh", "feeder"};

static char *refresh_time_text = NULL;
static char *feeder_time_text = NULL;
static char *refresh_days_text = NULL;
static char *feeder_days_text = NULL;
static char *test_now_text = NULL;
static char *consent_form_url = NULL;

static EcJobSetting job_settings[EC_JOB_COUNT] = {
	{5 * 60 + 30, 0x7f << 1},
	{6 * 60, 0x1f << 1}
};

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* "HH:MM" (24-hour) into minutes since midnight; -1 when malformed. */
static int
ParseLocalTime(const char *s)
{
	int			h,
				m;

	if (s == NULL || strlen(s) != 5 || !isdigit((unsigned char) s[0]) ||
		!isdigit((unsigned char) s[1]) || s[2] != ':' ||
		!isdigit((unsigned char) s[3]) || !isdigit((unsigned char) s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	return h * 60 + m;
}

/* "mon".."sun" at s (three letters, any case) into 1..7; 0 when not a day. */
static int
ParseDay(const char *s)
{
	int			i;

	for (i = 0; i < 7; i++)
		if (pg_strncasecmp(s, day_names[i], 3) == 0)
			return i + 1;
	return 0;
}

/*
 * A weekday list into a bit mask (bit d for ISO day d): "daily", "weekdays",
 * "weekends", or comma-separated days and ranges ("mon-fri", "mon,wed,fri",
 * "fri-mon" wraps).  Returns -1 when malformed.
 */
static int
ParseWeekdays(const char *s)
{
	int			mask = 0;
	const char *p = s;

	if (s == NULL)
		return -1;
	if (pg_strcasecmp(s, "daily") == 0)
		return 0x7f << 1;
	if (pg_strcasecmp(s, "weekdays") == 0)
		return 0x1f << 1;
	if (pg_strcasecmp(s, "weekends") == 0)
		return 0x3 << 6;
	for (;;)
	{
		int			from,
					to,
					d;

		while (*p == ' ')
			p++;
		if (strlen(p) < 3 || (from = ParseDay(p)) == 0)
			return -1;
		p += 3;
		to = from;
		if (*p == '-')
		{
			p++;
			if (strlen(p) < 3 || (to = ParseDay(p)) == 0)
				return -1;
			p += 3;
		}
		for (d = from;; d = d % 7 + 1)
		{
			mask |= 1 << d;
			if (d == to)
				break;
		}
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	return mask;
}

static bool
CheckLocalTime(char **newval, void **extra, GucSource source)
{
	int		   *v;
	int			m = ParseLocalTime(*newval);

	if (m < 0)
	{
		GUC_check_errdetail("A job time is a 24-hour local time written \"HH:MM\", such as \"05:30\".");
		return false;
	}
	v = malloc(sizeof(int));
	if (v == NULL)
		return false;
	*v = m;
	*extra = v;
	return true;
}

static bool
CheckWeekdays(char **newval, void **extra, GucSource source)
{
	int		   *v;
	int			mask = ParseWeekdays(*newval);

	if (mask <= 0)
	{
		GUC_check_errdetail("Weekdays are \"daily\", \"weekdays\", \"weekends\" or a list of days and ranges such as \"mon-fri\" or \"mon,wed,fri\".");
		return false;
	}
	v = malloc(sizeof(int));
	if (v == NULL)
		return false;
	*v = mask;
	*extra = v;
	return true;
}

static void
AssignRefreshTime(const char *newval, void *extra)
{
	job_settings[EC_JOB_REFRESH].minute_of_day = *(int *) extra;
}

static void
AssignFeederTime(const char *newval, void *extra)
{
	job_settings[EC_JOB_FEEDER].minute_of_day = *(int *) extra;
}

static void
AssignRefreshDays(const char *newval, void *extra)
{
	job_settings[EC_JOB_REFRESH].weekdays = *(int *) extra;
}

static void
AssignFeederDays(const char *newval, void *extra)
{
	job_settings[EC_JOB_FEEDER].weekdays = *(int *) extra;
}

int
EcJobByName(const char *name, bool missing_ok)
{
	int			j;

	for (j = 0; j < EC_JOB_COUNT; j++)
		if (name != NULL && strcmp(name, ec_job_names[j]) == 0)
			return j;
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown job \"%s\"", name ? name : ""),
				 errhint("The jobs are \"refresh\" and \"feeder\".")));
	return -1;
}

EcJobSetting
EcJobSettingOf(EcJob job)
{
	return job_settings[job];
}

void
CampaignInit(void)
{
	DefineCustomStringVariable("ec.refresh_time",
							   "Local time (ec.timezone) of the daily contactable-leads refresh, \"HH:MM\".",
							   NULL, &refresh_time_text, "05:30", PGC_SUSET, 0,
							   CheckLocalTime, AssignRefreshTime, NULL);
	DefineCustomStringVariable("ec.refresh_days",
							   "Weekdays of the contactable-leads refresh (\"daily\", \"mon-fri\", \"mon,wed,fri\").",
							   NULL, &refresh_days_text, "daily", PGC_SUSET, 0,
							   CheckWeekdays, AssignRefreshDays, NULL);
	DefineCustomStringVariable("ec.feeder_time",
							   "Local time (ec.timezone) of the daily campaign feeder, \"HH:MM\".",
							   NULL, &feeder_time_text, "06:00", PGC_SUSET, 0,
							   CheckLocalTime, AssignFeederTime, NULL);
	DefineCustomStringVariable("ec.feeder_days",
							   "Weekdays of the campaign feeder (\"daily\", \"mon-fri\", \"mon,wed,fri\").",
							   NULL, &feeder_days_text, "mon-fri", PGC_SUSET, 0,
							   CheckWeekdays, AssignFeederDays, NULL);
	DefineCustomStringVariable("ec.test_now",
							   "Fixed \"now\" of the job clock, for tests; empty for the real clock.",
							   "ec.now() returns it; ec.job_due_date() and the feeder's local date follow it.",
							   &test_now_text, "", PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("ec.consent_form_url",
							   "Consent form URL the feeder links each lead to; \"{token}\" is replaced by the token.",
							   "Without \"{token}\", \"?token=...\" is appended. Empty: the token is sent as a custom variable.",
							   &consent_form_url, "", PGC_SUSET, 0,
							   NULL, NULL, NULL);

	EcJobWorkersInit();
}

/*
 * ec.job_settings(job text) returns (local_time time, weekdays int[], timezone text)
 */
PG_FUNCTION_INFO_V1(ec_job_settings);
Datum
ec_job_settings(PG_FUNCTION_ARGS)
{
	int			job = EcJobByName(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	EcJobSetting s = job_settings[job];
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	Datum		days[7];
	int			n = 0,
				d;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	for (d = 1; d <= 7; d++)
		if (s.weekdays & (1 << d))
			days[n++] = Int32GetDatum(d);

	values[0] = TimeADTGetDatum((TimeADT) s.minute_of_day * 60 * USECS_PER_SEC);
	values[1] = PointerGetDatum(construct_array(days, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	values[2] = CStringGetTextDatum(ec_timezone);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
