/*-------------------------------------------------------------------------
 *
 * jobs.c
 *		Dynamic background workers that run the daily jobs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "campaign/campaign.h"

void
EcJobWorkersInit(void)
{
}
