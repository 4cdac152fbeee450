/*-------------------------------------------------------------------------
 *
 * equity_connect.c
 *		Library entry point: the settings every subsystem shares, and each
 *		subsystem's initialisation.
 *
 * The library must be listed in shared_preload_libraries: its background
 * workers (HTTP queue, campaign jobs) are registered by the postmaster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/guc.h"

#include "equity_connect.h"
#include "signing/signing.h"
#include "campaign/campaign.h"
#include "identity/identity.h"
#include "ingest/ingest.h"
#include "http/http.h"

PG_MODULE_MAGIC;

char	   *ec_database_name = NULL;
char	   *ec_timezone = NULL;
char	   *ec_instantly_base_url = NULL;
char	   *ec_vapi_base_url = NULL;

void		_PG_init(void);

/* Reject a time zone name PostgreSQL does not know. */
static bool
CheckTimezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || **newval == '\0')
	{
		GUC_check_errdetail("The business time zone must be a named time zone such as \"America/Los_Angeles\".");
		return false;
	}
	if (pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval);
		return false;
	}
	return true;
}

/* Accept only http:// and https:// base URLs. */
static bool
CheckBaseUrl(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL ||
		(strncmp(*newval, "http://", 7) != 0 && strncmp(*newval, "https://", 8) != 0))
	{
		GUC_check_errdetail("A base URL must start with \"http://\" or \"https://\".");
		return false;
	}
	return true;
}

/* Settings shared by every subsystem (names fixed by the public API). */
static void
DefineSharedSettings(void)
{
	DefineCustomStringVariable("ec.database_name",
							   "Database the equity_connect background workers serve.",
							   NULL,
							   &ec_database_name,
							   "postgres",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("ec.timezone",
							   "Business time zone of the daily jobs (refresh, feeder) and calling hours.",
							   NULL,
							   &ec_timezone,
							   "America/Los_Angeles",
							   PGC_SUSET,
							   0,
							   CheckTimezone, NULL, NULL);

	DefineCustomStringVariable("ec.instantly_base_url",
							   "Base URL of the Instantly API.",
							   NULL,
							   &ec_instantly_base_url,
							   "https://api.instantly.ai",
							   PGC_SUSET,
							   0,
							   CheckBaseUrl, NULL, NULL);

	DefineCustomStringVariable("ec.vapi_base_url",
							   "Base URL of the VAPI API.",
							   NULL,
							   &ec_vapi_base_url,
							   "https://api.vapi.ai",
							   PGC_SUSET,
							   0,
							   CheckBaseUrl, NULL, NULL);
}

/*
 * Module load callback.
 */
void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;

	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("equity_connect can only be loaded via \"shared_preload_libraries\""),
				 errhint("Add equity_connect to the \"shared_preload_libraries\" configuration variable in postgresql.conf and restart the server.")));

	DefineSharedSettings();

	/* Each subsystem defines its own settings and workers. */
	SigningInit();
	CampaignInit();
	IdentityInit();
	IngestInit();
	HttpInit();

	MarkGUCPrefixReserved("ec");
}
