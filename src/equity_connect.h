/*-------------------------------------------------------------------------
 *
 * equity_connect.h
 *		Declarations shared by the subsystems of equity_connect.
 *
 * Each subsystem (identity, signing, http, ingest, campaign) exposes one
 * FooInit() that _PG_init calls; it defines the subsystem's GUCs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EQUITY_CONNECT_H
#define EQUITY_CONNECT_H

/* Settings every subsystem may read (defined in equity_connect.c). */
extern char *ec_database_name;
extern char *ec_timezone;
extern char *ec_instantly_base_url;
extern char *ec_vapi_base_url;

#endif							/* EQUITY_CONNECT_H */
