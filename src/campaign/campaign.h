/*-------------------------------------------------------------------------
 *
 * campaign.h
 *		The campaign layer: lead score, the local-time clock of the daily
 *		jobs, the job workers (contactable-leads refresh, feeder).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_CAMPAIGN_H
#define EC_CAMPAIGN_H

#include "postgres.h"

/* The daily jobs. */
typedef enum EcJob
{
	EC_JOB_REFRESH = 0,
	EC_JOB_FEEDER = 1,
	EC_JOB_COUNT
} EcJob;

#define EC_JOB_BIT(j)	(1 << (j))

/* Settings of one job, parsed by the GUC check hooks. */
typedef struct EcJobSetting
{
	int			minute_of_day;	/* local time, 0..1439 */
	int			weekdays;		/* bit d set: ISO day d (1 = Monday .. 7) runs */
} EcJobSetting;

extern const char *const ec_job_names[EC_JOB_COUNT];

extern void CampaignInit(void);

/* campaign.c */
extern int	EcJobByName(const char *name, bool missing_ok);
extern EcJobSetting EcJobSettingOf(EcJob job);

/* jobs.c */
extern void EcJobWorkersInit(void);
extern PGDLLEXPORT void EcCampaignJobMain(Datum main_arg);

#endif							/* EC_CAMPAIGN_H */
