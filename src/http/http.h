/*-------------------------------------------------------------------------
 *
 * http.h
 *		The outbound HTTP queue: settings, shared state, and what the
 *		enqueue side (http_enqueue.c) and the worker (http_worker.c,
 *		http_store.c) share.
 *
 * A request is a row of ec.http_requests, inserted in the caller's
 * transaction by ec.http_enqueue.  One background worker per served
 * database drains the queue with libcurl's multi interface; a commit that
 * enqueued something sets that worker's latch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_HTTP_H
#define EC_HTTP_H

#include "core/httppolicy.h"

/* How many databases the HTTP workers can serve (ec.http_databases). */
#define EC_HTTP_MAX_DATABASES	16

/* Settings (http_init.c). */
extern char *ec_http_databases;
extern int	ec_http_max_in_flight;
extern int	ec_http_host_max_in_flight;
extern char *ec_http_host_limits;
extern int	ec_http_connect_timeout_ms;
extern int	ec_http_timeout_ms;
extern int	ec_http_retry_base_ms;
extern int	ec_http_retry_max_ms;
extern int	ec_http_max_response_bytes;
extern int	ec_http_poll_interval_ms;
extern int	ec_http_callback_timeout_ms;
extern char *ec_http_api_key_urls;
extern char *ec_http_ca_file;

/* Default limits of the Instantly and VAPI hosts (their published limits). */
#define EC_HTTP_PROVIDER_PER_SECOND		100
#define EC_HTTP_PROVIDER_PER_MINUTE		6000

extern void HttpInit(void);

/* Wake the worker serving this database when the transaction commits. */
extern void HttpWakeOnCommit(void);

/* What a worker publishes about itself (ec.http_workers()). */
typedef struct HttpWorkerStats
{
	int			in_flight;
	int			max_in_flight;
	uint64		sent;			/* attempts started */
	uint64		succeeded;
	uint64		retried;		/* attempts that failed and will be retried */
	uint64		failed;			/* requests given up (dead letters) */
	uint64		reloads;		/* SIGHUPs applied */
} HttpWorkerStats;

/* The worker's side of the shared state. */
extern void HttpAttachWorkerSlot(int slot);
extern void HttpPublishStats(const HttpWorkerStats *stats);
extern uint64 HttpWakeCount(void);

/*
 * The host key of an http(s) URL: lower-case host name, plus ":port" when
 * a port other than the scheme's default is given.  Returns NULL and sets
 * *why when the URL is not one the queue sends to.
 */
extern char *HttpUrlHost(const char *url, const char **why);

/*
 * The URL an API key may be sent to (ec.instantly_base_url for key
 * "instantly", ec.vapi_base_url for "vapi", ec.http_api_key_urls for the
 * others), or NULL when the key is bound to no URL.
 */
extern char *HttpApiKeyBaseUrl(const char *key_id);

/* True when url is base itself or lies under it. */
extern bool HttpUrlUnderBase(const char *url, const char *base);

/* Background worker entry point. */
extern PGDLLEXPORT void ec_http_worker_main(Datum main_arg);

#endif							/* EC_HTTP_H */
