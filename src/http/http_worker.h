/*-------------------------------------------------------------------------
 *
 * http_worker.h
 *		What the worker's loop (http_worker.c) and its table access
 *		(http_store.c) share: one request in memory, one host's state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_HTTP_WORKER_H
#define EC_HTTP_WORKER_H

#include <curl/curl.h>

#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#include "http/http.h"

/* One host's limits and what it has in flight (kept across rounds). */
typedef struct HttpHost
{
	char		key[EC_HOST_MAX_LEN + 1];	/* hash key: lower-case host[:port] */
	int			in_flight;
	int			max_in_flight;
	int			per_second;
	int			per_minute;
	EcRateWindow rate;
	TimestampTz paused_until;	/* after a 429 with Retry-After */
} HttpHost;

/* One claimed request, from claim to the row that records its outcome. */
typedef struct HttpReq
{
	dlist_node	node;
	MemoryContext cxt;			/* everything of this request; deleted with it */
	int64		id;
	int			attempt;
	int			max_attempts;
	HttpHost   *host;
	char	   *method;
	char	   *url;
	char	   *body;
	size_t		body_len;
	bool		has_body;
	bool		body_secret;	/* the body holds an API key: wiped when done */
	List	   *header_lines;	/* "Name: value"; may hold secrets until sent */

	/* set when the request cannot be sent at all (no key, unbound key) */
	char	   *pre_error;
	bool		retryable;

	/* the transfer */
	CURL	   *easy;
	struct curl_slist *slist;
	TimestampTz started_at;
	StringInfoData resp_body;
	bool		truncated;
	StringInfoData resp_headers;	/* name '\0' value '\0' ... of the last response */
	char		errbuf[CURL_ERROR_SIZE];

	/* the outcome */
	int			status;			/* 0: no response */
	char	   *error;
	double		duration_ms;
	char	   *headers_json;
	EcHttpVerdict verdict;
	TimestampTz retry_at;
	int64		retry_after;	/* -1: none; else the server's delay (usec) */
} HttpReq;

/* A due host as the queue shows it: its earliest pending not_before. */
typedef struct HttpDueHost
{
	char	   *host;
	TimestampTz first_due;
} HttpDueHost;

/* http_store.c: every function runs inside HttpTxnBegin/HttpTxnEnd. */
extern void HttpTxnBegin(const char *activity);
extern void HttpTxnEnd(void);
extern bool HttpStoreReady(void);
extern void HttpStoreRecover(void);
extern List *HttpStoreHosts(void);
extern void HttpReqWipe(HttpReq *r);
extern List *HttpStoreClaim(const char *host, int limit, TimestampTz now, MemoryContext cxt,
							 MemoryContext listcxt);
extern void HttpStoreForgetKeys(void);
extern int	HttpStoreFlush(HttpReq **reqs, int n, bool *done);
extern void HttpStoreRequeue(HttpReq **reqs, int n);
extern int	HttpStorePendingCallbacks(int limit, int64 *ids);
extern void HttpRunCallback(int64 id);

#endif							/* EC_HTTP_WORKER_H */
