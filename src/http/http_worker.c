/*-------------------------------------------------------------------------
 *
 * http_worker.c
 *		The HTTP background worker: drains ec.http_requests of one
 *		database with libcurl's multi interface.
 *
 * The loop follows autoprewarm.c: stock signal handlers, then until a
 * shutdown is requested: reload settings when asked, do one bounded unit
 * of work, wait on the latch (set by committing enqueuers), on libcurl's
 * sockets and on its timer, and exit if the postmaster dies.
 *
 * libcurl's sockets live in an epoll set of our own, whose one descriptor
 * is part of the WaitEventSet next to the latch; so a single wait wakes
 * for a commit, for network progress or for a timer, and never longer
 * than the next due time.  One unit of work is:
 *   - drive libcurl (ready sockets, expired timers) and collect finished
 *     transfers;
 *   - record the finished ones in one short transaction (http_store.c);
 *   - run due callbacks, each in its own transaction;
 *   - claim due requests host by host, within the global in-flight limit
 *     and each host's concurrency and rate limits, and start them.
 * No transaction is open while libcurl talks to the network.  A slow host
 * only ever uses its own share of the in-flight slots, so it cannot hold
 * up requests to other hosts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "common/pgcompat.h"
#include "equity_connect.h"
#include "http/http_worker.h"

#define EC_HTTP_MAX_HOSTS			64	/* entries of ec.http_host_limits */
#define EC_HTTP_MAX_RESP_HEADERS	(64 * 1024)
#define EC_HTTP_CALLBACKS_PER_PASS	50
#define EC_HTTP_EASY_POOL			64

static CURLM *multi = NULL;
static int	epfd = -1;
static WaitEventSet *wait_set = NULL;

static bool curl_timer_set = false;
static TimestampTz curl_deadline = 0;

static HTAB *hosts = NULL;
static MemoryContext HostContext = NULL;
static MemoryContext ReqContext = NULL;
static MemoryContext LoopContext = NULL;

static dlist_head in_flight = DLIST_STATIC_INIT(in_flight);
static int	n_in_flight = 0;
static dlist_head finished = DLIST_STATIC_INIT(finished);
static int	n_finished = 0;

static CURL *easy_pool[EC_HTTP_EASY_POOL];
static int	n_easy_pool = 0;

static int	max_in_flight = 1;
static EcHostLimit *limits = NULL;
static int	n_limits = 0;
static char *instantly_host = NULL;
static char *vapi_host = NULL;

static bool ext_ready = false;
static bool recovered = false;
static bool claim_now = true;
static bool backlog = false;
static int	completed_since_claim = 0;
static bool callbacks_due = false;
static uint64 wakes_seen = 0;	/* HttpWakeCount() when a claim round began */
static TimestampTz next_claim_at = 0;
static uint32 round_robin = 0;
static HttpWorkerStats stats;

static int
Clamp(int64 v, int64 lo, int64 hi)
{
	return (int) (v < lo ? lo : v > hi ? hi : v);
}

/* ---- host state ---- */

static void
ApplyHostLimits(HttpHost *h)
{
	int			per_second = 0;
	int			per_minute = 0;
	int			inflight = ec_http_host_max_in_flight;

	if ((instantly_host && strcmp(h->key, instantly_host) == 0) ||
		(vapi_host && strcmp(h->key, vapi_host) == 0))
	{
		per_second = EC_HTTP_PROVIDER_PER_SECOND;
		per_minute = EC_HTTP_PROVIDER_PER_MINUTE;
	}
	for (int i = 0; i < n_limits; i++)
		if (strcmp(limits[i].host, h->key) == 0)
		{
			per_second = limits[i].per_second;
			per_minute = limits[i].per_minute;
			if (limits[i].in_flight > 0)
				inflight = limits[i].in_flight;
		}
	h->max_in_flight = inflight;
	if (h->rate.ring == NULL || per_second != h->per_second || per_minute != h->per_minute)
	{
		int			size = ec_rate_ring_size(per_second, per_minute);

		if (h->rate.ring != NULL)
			pfree(h->rate.ring);
		h->per_second = per_second;
		h->per_minute = per_minute;
		ec_rate_init(&h->rate, per_second, per_minute,
					 MemoryContextAlloc(HostContext, Max(size, 1) * sizeof(int64)), size);
	}
}

static HttpHost *
HostFor(const char *key)
{
	char		k[EC_HOST_MAX_LEN + 1];
	bool		found;
	HttpHost   *h;

	strlcpy(k, key, sizeof(k));
	h = hash_search(hosts, k, HASH_ENTER, &found);
	if (!found)
	{
		h->in_flight = 0;
		h->paused_until = 0;
		h->per_second = -1;
		h->per_minute = -1;
		memset(&h->rate, 0, sizeof(h->rate));
		ApplyHostLimits(h);
	}
	return h;
}

static char *
HostOfSetting(const char *url)
{
	const char *why;
	char	   *host;
	MemoryContext old = MemoryContextSwitchTo(HostContext);

	host = url ? HttpUrlHost(url, &why) : NULL;
	MemoryContextSwitchTo(old);
	return host;
}

/* (Re)read the settings the loop keeps in its own form. */
static void
ApplySettings(void)
{
	int			fd_room = max_safe_fds / 3 - 2;
	char		err[128];
	HASH_SEQ_STATUS seq;
	HttpHost   *h;

	max_in_flight = Clamp(ec_http_max_in_flight, 1, Max(fd_room, 1));
	if (max_in_flight < ec_http_max_in_flight)
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("ec.http_max_in_flight is lowered to %d, what the file descriptors allow", max_in_flight),
				 errhint("You may need to increase \"max_files_per_process\".")));
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) max_in_flight);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) max_in_flight);

	if (limits == NULL)
		limits = MemoryContextAlloc(HostContext, EC_HTTP_MAX_HOSTS * sizeof(EcHostLimit));
	if (!ec_http_parse_host_limits(ec_http_host_limits, limits, EC_HTTP_MAX_HOSTS, &n_limits,
								   err, sizeof(err)))
		n_limits = 0;			/* the check hook makes this unreachable */
	instantly_host = HostOfSetting(ec_instantly_base_url);
	vapi_host = HostOfSetting(ec_vapi_base_url);

	hash_seq_init(&seq, hosts);
	while ((h = hash_seq_search(&seq)) != NULL)
		ApplyHostLimits(h);
}

/* ---- libcurl plumbing ---- */

/* Sockets count against the process's descriptors, as libpq's do. */
static curl_socket_t
OpenSocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	curl_socket_t s;

	if (!AcquireExternalFD())
	{
		errno = EMFILE;
		return CURL_SOCKET_BAD;
	}
	s = socket(addr->family, addr->socktype, addr->protocol);
	if (s == CURL_SOCKET_BAD)
		ReleaseExternalFD();
	return s;
}

static int
CloseSocket(void *clientp, curl_socket_t s)
{
	int			rc = close(s);

	ReleaseExternalFD();
	return rc;
}

static int
SocketCallback(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev;

	if (what == CURL_POLL_REMOVE)
	{
		(void) epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (socketp == NULL)
	{
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
			(void) epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
		curl_multi_assign(multi, s, (void *) 1);
	}
	else if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
		(void) epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int
TimerCallback(CURLM *m, long timeout_ms, void *userp)
{
	curl_timer_set = timeout_ms >= 0;
	if (curl_timer_set)
		curl_deadline = GetCurrentTimestamp() + (TimestampTz) timeout_ms * 1000;
	return 0;
}

/* Keep at most ec.http_max_response_bytes of the body; then stop reading. */
static size_t
WriteCallback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpReq    *r = (HttpReq *) userdata;
	size_t		len = size * nmemb;
	size_t		cap = (size_t) ec_http_max_response_bytes;
	size_t		room = cap > (size_t) r->resp_body.len ? cap - r->resp_body.len : 0;

	if (len > room)
	{
		appendBinaryStringInfo(&r->resp_body, ptr, (int) room);
		r->truncated = true;
		return room;			/* short: libcurl ends the transfer */
	}
	appendBinaryStringInfo(&r->resp_body, ptr, (int) len);
	return len;
}

/* Collect the last response's headers as "name\0value\0" pairs. */
static size_t
HeaderCallback(char *buf, size_t size, size_t nitems, void *userdata)
{
	HttpReq    *r = (HttpReq *) userdata;
	size_t		len = size * nitems;
	const char *colon;
	size_t		nb,
				vb,
				ve;

	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
	{
		/* a new response (after 1xx, say): forget the previous one */
		resetStringInfo(&r->resp_headers);
		r->retry_after = -1;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (colon == NULL || colon == buf ||
		r->resp_headers.len + (int) len + 2 > EC_HTTP_MAX_RESP_HEADERS)
		return len;
	nb = colon - buf;
	vb = nb + 1;
	while (vb < len && (buf[vb] == ' ' || buf[vb] == '\t'))
		vb++;
	ve = len;
	while (ve > vb && (buf[ve - 1] == '\r' || buf[ve - 1] == '\n' || buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
		ve--;

	/* names lower case; bytes that are not printable ASCII become '?' */
	enlargeStringInfo(&r->resp_headers, (int) (nb + (ve - vb) + 2));
	{
		char	   *out = r->resp_headers.data + r->resp_headers.len;

		for (size_t i = 0; i < nb; i++)
		{
			unsigned char c = (unsigned char) buf[i];

			*out++ = (c < 0x21 || c > 0x7e) ? '?' : pg_ascii_tolower(c);
		}
		*out++ = '\0';
		for (size_t i = vb; i < ve; i++)
		{
			unsigned char c = (unsigned char) buf[i];

			*out++ = (c < 0x20 || c > 0x7e) ? '?' : (char) c;
		}
		*out++ = '\0';
		r->resp_headers.len = out - r->resp_headers.data;
		*out = '\0';
	}

	if (nb == 11 && pg_strncasecmp(buf, "retry-after", 11) == 0)
	{
		int64		delay;

		if (ec_http_parse_retry_after(buf + vb, ve - vb, (int64) time(NULL),
									  (int64) ec_http_retry_max_ms * 1000, &delay))
			r->retry_after = delay;
	}
	return len;
}

/* The response headers as a JSON object; repeated names joined by ", ". */
static char *
HeadersJson(HttpReq *r)
{
	StringInfoData out;
	const char *p = r->resp_headers.data;
	const char *end = p + r->resp_headers.len;
	List	   *seen = NIL;
	bool		first = true;

	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	while (p < end)
	{
		const char *name = p;
		const char *value = name + strlen(name) + 1;
		const char *q;
		ListCell   *lc;
		bool		dup = false;
		StringInfoData joined;

		p = value + strlen(value) + 1;
		foreach(lc, seen)
			if (strcmp((const char *) lfirst(lc), name) == 0)
				dup = true;
		if (dup)
			continue;
		seen = lappend(seen, (void *) name);

		initStringInfo(&joined);
		appendStringInfoString(&joined, value);
		for (q = p; q < end;)
		{
			const char *n2 = q;
			const char *v2 = n2 + strlen(n2) + 1;

			q = v2 + strlen(v2) + 1;
			if (strcmp(n2, name) == 0)
				appendStringInfo(&joined, ", %s", v2);
		}
		if (!first)
			appendStringInfoChar(&out, ',');
		first = false;
		escape_json(&out, name);
		appendStringInfoChar(&out, ':');
		escape_json(&out, joined.data);
		pfree(joined.data);
	}
	appendStringInfoChar(&out, '}');
	list_free(seen);
	return out.data;
}

static void
FreeHeaderList(HttpReq *r)
{
	/* header lines may carry an API key: wipe before freeing */
	for (struct curl_slist *s = r->slist; s != NULL; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(r->slist);
	r->slist = NULL;
}

static CURL *
GetEasy(void)
{
	CURL	   *e = n_easy_pool > 0 ? easy_pool[--n_easy_pool] : curl_easy_init();

	if (e == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("could not create a libcurl handle")));
	return e;
}

static void
PutEasy(CURL *e)
{
	if (n_easy_pool < EC_HTTP_EASY_POOL)
	{
		curl_easy_reset(e);
		easy_pool[n_easy_pool++] = e;
	}
	else
		curl_easy_cleanup(e);
}

/* ---- a request's life in memory ---- */

static void
Finish(HttpReq *r)
{
	TimestampTz now = GetCurrentTimestamp();

	r->verdict = ec_http_verdict(r->status, r->error != NULL ? r->retryable : false,
								 r->attempt, r->max_attempts);
	if (r->verdict == EC_HTTP_RETRY)
	{
		int64		delay = r->retry_after >= 0 ? r->retry_after :
			ec_http_backoff(r->attempt, (int64) ec_http_retry_base_ms * 1000,
							(int64) ec_http_retry_max_ms * 1000,
							pg_prng_uint64(&pg_global_prng_state));

		r->retry_at = now + delay;
		/* a host that says "slow down" gets nothing until it said so */
		if (r->status == 429 && r->retry_after >= 0 && r->retry_at > r->host->paused_until)
			r->host->paused_until = r->retry_at;
		if (r->retry_at < next_claim_at)
			next_claim_at = r->retry_at;
		stats.retried++;
	}
	else if (r->verdict == EC_HTTP_SUCCEEDED)
		stats.succeeded++;
	else
		stats.failed++;
	r->host->in_flight--;
	completed_since_claim++;
	dlist_push_tail(&finished, &r->node);
	n_finished++;
}

/* A request that cannot be sent is finished before it starts. */
static void
FinishUnsent(HttpReq *r)
{
	HttpReqWipe(r);
	r->started_at = GetCurrentTimestamp();
	r->status = 0;
	r->error = r->pre_error;
	r->headers_json = NULL;
	Finish(r);
}

static bool
PermanentCurlError(CURLcode res)
{
	return res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT ||
		res == CURLE_NOT_BUILT_IN || res == CURLE_BAD_FUNCTION_ARGUMENT ||
		res == CURLE_TOO_MANY_REDIRECTS;
}

static void
Completed(CURL *e, CURLcode res)
{
	HttpReq    *r = NULL;
	long		code = 0;
	curl_off_t	total = 0;
	MemoryContext old;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &r);
	curl_multi_remove_handle(multi, e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);

	old = MemoryContextSwitchTo(r->cxt);
	r->duration_ms = (double) total / 1000.0;
	if ((res == CURLE_OK || (res == CURLE_WRITE_ERROR && r->truncated)) && code > 0)
	{
		r->status = (int) code;
		r->error = NULL;
	}
	else
	{
		r->status = 0;
		r->error = pstrdup(r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
		r->retryable = !PermanentCurlError(res);
		r->retry_after = -1;
	}
	r->headers_json = HeadersJson(r);
	MemoryContextSwitchTo(old);

	FreeHeaderList(r);
	HttpReqWipe(r);
	PutEasy(e);
	r->easy = NULL;
	dlist_delete(&r->node);
	n_in_flight--;
	Finish(r);
}

static void
Harvest(void)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			Completed(msg->easy_handle, msg->data.result);
}

/* Process ready sockets and an expired timer, then collect what finished. */
static void
DriveCurl(void)
{
	struct epoll_event evs[64];
	int			running;

	for (;;)
	{
		int			n = epoll_wait(epfd, evs, lengthof(evs), 0);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			ereport(ERROR, (errcode_for_socket_access(), errmsg("epoll_wait() failed: %m")));
		}
		for (int i = 0; i < n; i++)
		{
			int			flags = 0;

			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
		}
		if (n < (int) lengthof(evs))
			break;
	}
	if (curl_timer_set && GetCurrentTimestamp() >= curl_deadline)
	{
		curl_timer_set = false;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	Harvest();
}

/* Hand a claimed request to libcurl. */
static void
Start(HttpReq *r)
{
	CURL	   *e;
	ListCell   *lc;
	MemoryContext old;

	if (r->pre_error != NULL)
	{
		FinishUnsent(r);
		return;
	}

	old = MemoryContextSwitchTo(r->cxt);
	initStringInfo(&r->resp_body);
	initStringInfo(&r->resp_headers);
	MemoryContextSwitchTo(old);

	r->slist = curl_slist_append(NULL, "Expect:");
	foreach(lc, r->header_lines)
	{
		char	   *line = (char *) lfirst(lc);

		r->slist = curl_slist_append(r->slist, line);
		explicit_bzero(line, strlen(line));
	}
	if (r->slist == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	e = GetEasy();
	r->easy = e;
	r->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) r);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* no proxy from the server's environment: requests go where they say */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ec_http_ca_file != NULL && ec_http_ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, ec_http_ca_file);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) ec_http_connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) ec_http_timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "equity_connect");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->slist);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, WriteCallback);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *) r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, HeaderCallback);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *) r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, CloseSocket);

	if (strcmp(r->method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else
	{
		if (strcmp(r->method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->has_body || strcmp(r->method, "POST") == 0)
		{
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (r->has_body ? r->body_len : 0));
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->has_body ? r->body : "");
		}
	}

	r->started_at = GetCurrentTimestamp();
	dlist_push_tail(&in_flight, &r->node);
	n_in_flight++;
	stats.sent++;
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
	{
		dlist_delete(&r->node);
		n_in_flight--;
		FreeHeaderList(r);
		PutEasy(e);
		r->easy = NULL;
		r->pre_error = "libcurl refused the request";
		r->retryable = true;
		FinishUnsent(r);
	}
}

/* ---- units of work ---- */

static TimestampTz
Later(TimestampTz t, int ms)
{
	return t + (TimestampTz) ms * 1000;
}

/*
 * Claim due requests host by host.  Each host gets at most its free
 * concurrency, what its rate window allows, and an even share of the
 * global free slots, so no host can take them all.
 */
static void
ClaimRound(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			free_slots = max_in_flight - n_in_flight;
	List	   *claimed = NIL;
	List	   *due;
	ListCell   *lc;
	int			ndue = 0;
	int			left;
	int			start;
	int			i;

	claim_now = false;
	backlog = false;
	completed_since_claim = 0;
	next_claim_at = Later(now, ec_http_poll_interval_ms);
	/* before the snapshot: a commit counted after this is claimed next round */
	wakes_seen = HttpWakeCount();

	HttpTxnBegin("claiming HTTP requests");
	ext_ready = HttpStoreReady();
	if (!ext_ready)
	{
		HttpTxnEnd();
		return;
	}
	if (!recovered)
	{
		/*
		 * What a crash left in flight goes back to the queue in a transaction
		 * of its own: the list of due hosts below is read with the snapshot
		 * its transaction began with, which does not see the transaction's
		 * own updates, and nothing may wake us again for this round's misses
		 * (the latch a process starts with set is consumed by any wait, for a
		 * lock or a buffer, on the way here).
		 */
		HttpStoreRecover();
		recovered = true;
		callbacks_due = true;
		HttpTxnEnd();
		HttpTxnBegin("claiming HTTP requests");
	}

	due = HttpStoreHosts();
	foreach(lc, due)
	{
		HttpDueHost *d = (HttpDueHost *) lfirst(lc);

		if (d->first_due <= now)
			ndue++;
		else if (d->first_due < next_claim_at)
			next_claim_at = d->first_due;
	}

	left = ndue;
	start = ndue > 0 ? (int) (round_robin++ % (uint32) list_length(due)) : 0;
	for (i = 0; i < list_length(due) && free_slots > 0; i++)
	{
		HttpDueHost *d = (HttpDueHost *) list_nth(due, (start + i) % list_length(due));
		HttpHost   *h;
		int			room;
		int			rate;
		int			share;
		int			q;
		List	   *got;
		ListCell   *lc2;

		if (d->first_due > now)
			continue;
		h = HostFor(d->host);
		share = (free_slots + left - 1) / left;
		left--;
		if (h->paused_until > now)
		{
			if (h->paused_until < next_claim_at)
				next_claim_at = h->paused_until;
			continue;
		}
		room = h->max_in_flight - h->in_flight;
		rate = ec_rate_available(&h->rate, now);
		if (rate <= 0)
		{
			TimestampTz t = ec_rate_next(&h->rate, now);

			if (t < next_claim_at)
				next_claim_at = t;
			continue;
		}
		q = Min(Min(room, rate), Min(share, free_slots));
		if (q <= 0)
		{
			backlog = true;		/* a completion on this host frees room */
			continue;
		}

		got = HttpStoreClaim(d->host, q, now, ReqContext, LoopContext);
		foreach(lc2, got)
		{
			HttpReq    *r = (HttpReq *) lfirst(lc2);

			r->host = h;
			h->in_flight++;
			ec_rate_record(&h->rate, now);
		}
		free_slots -= list_length(got);
		if (list_length(got) == q)
			backlog = true;		/* there may be more */
		claimed = list_concat(claimed, got);
	}
	if (free_slots <= 0 && ndue > 0)
		backlog = true;
	HttpStoreForgetKeys();
	HttpTxnEnd();

	/* the network, outside any transaction */
	foreach(lc, claimed)
		Start((HttpReq *) lfirst(lc));
}

/* Record what finished, in one transaction. */
static void
FlushFinished(void)
{
	HttpReq   **reqs = palloc(n_finished * sizeof(HttpReq *));
	bool	   *done = palloc(n_finished * sizeof(bool));
	dlist_iter it;
	int			n = 0;
	int			callbacks;

	dlist_foreach(it, &finished)
		reqs[n++] = dlist_container(HttpReq, node, it.cur);

	HttpTxnBegin("recording HTTP outcomes");
	callbacks = HttpStoreFlush(reqs, n, done);
	HttpTxnEnd();

	for (int i = 0; i < n; i++)
		if (done[i])
		{
			dlist_delete(&reqs[i]->node);
			n_finished--;
			MemoryContextDelete(reqs[i]->cxt);
		}
	if (callbacks > 0)
		callbacks_due = true;
}

static void
RunCallbacks(void)
{
	int64		ids[EC_HTTP_CALLBACKS_PER_PASS];
	int			n;

	HttpTxnBegin("listing HTTP callbacks");
	n = HttpStorePendingCallbacks(EC_HTTP_CALLBACKS_PER_PASS, ids);
	HttpTxnEnd();
	for (int i = 0; i < n; i++)
		HttpRunCallback(ids[i]);
	callbacks_due = n == EC_HTTP_CALLBACKS_PER_PASS;
}

/* SIGTERM: record what finished, give back what is still in flight. */
static void
StopCleanly(void)
{
	HttpReq   **reqs;
	dlist_mutable_iter it;
	int			n = 0;

	Harvest();
	if (n_finished > 0 && ext_ready)
		FlushFinished();
	reqs = palloc((n_in_flight + 1) * sizeof(HttpReq *));
	dlist_foreach_modify(it, &in_flight)
	{
		HttpReq    *r = dlist_container(HttpReq, node, it.cur);

		curl_multi_remove_handle(multi, r->easy);
		FreeHeaderList(r);
		reqs[n++] = r;
	}
	if (n > 0 && ext_ready)
	{
		HttpTxnBegin("requeueing HTTP requests");
		HttpStoreRequeue(reqs, n);
		HttpTxnEnd();
	}
	ereport(LOG,
			(errmsg("HTTP worker stopping; %d requests in flight were returned to the queue", n)));
}

static long
WaitTimeout(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz until = next_claim_at;
	bool		can_claim = n_in_flight < max_in_flight;

	if (n_finished > 0 || callbacks_due)
		return 0;
	if (can_claim && (claim_now || (backlog && completed_since_claim > 0)))
		return 0;
	if (curl_timer_set && curl_deadline < until)
		until = curl_deadline;
	if (until <= now)
		return 0;
	return (long) Min((until - now + 999) / 1000, (int64) 3600 * 1000);
}

void
ec_http_worker_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);
	char		dbname[NAMEDATALEN];
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	HttpAttachWorkerSlot(slot);

	/*
	 * The worker's bookkeeping commits asynchronously: the requests were
	 * committed durably by their senders, and an outcome lost in a crash
	 * only means the request is sent again with the same key.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "equity_connect http worker", PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname("equity_connect http worker");

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not initialize libcurl")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, SocketCallback);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, TimerCallback);

	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not reserve a file descriptor for the HTTP worker")));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not create an epoll set: %m")));

	wait_set = EcCreateProcessWaitEventSet(3);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wait_set, WL_SOCKET_READABLE, epfd, NULL, NULL);

	HostContext = AllocSetContextCreate(TopMemoryContext, "equity_connect http hosts",
										ALLOCSET_DEFAULT_SIZES);
	ReqContext = AllocSetContextCreate(TopMemoryContext, "equity_connect http requests",
									   ALLOCSET_DEFAULT_SIZES);
	LoopContext = AllocSetContextCreate(TopMemoryContext, "equity_connect http loop",
										ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = EC_HOST_MAX_LEN + 1;
	ctl.entrysize = sizeof(HttpHost);
	ctl.hcxt = HostContext;
	hosts = hash_create("equity_connect http hosts", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	ApplySettings();
	ereport(LOG, (errmsg("HTTP worker started for database \"%s\"", dbname)));

	while (!ShutdownRequestPending)
	{
		WaitEvent	events[3];
		int			nev;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ApplySettings();
			claim_now = true;
			stats.reloads++;
		}

		MemoryContextSwitchTo(LoopContext);
		DriveCurl();
		if (n_finished > 0)
			FlushFinished();
		if (callbacks_due && ext_ready)
			RunCallbacks();
		/* a wake-up whose latch a wait in a transaction consumed */
		if (HttpWakeCount() != wakes_seen)
			claim_now = true;
		if (n_in_flight < max_in_flight &&
			(claim_now || (backlog && completed_since_claim > 0) ||
			 GetCurrentTimestamp() >= next_claim_at))
		{
			ClaimRound();
			DriveCurl();
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(LoopContext);
		stats.in_flight = n_in_flight;
		stats.max_in_flight = max_in_flight;
		HttpPublishStats(&stats);

		nev = WaitEventSetWait(wait_set, WaitTimeout(), events, lengthof(events), PG_WAIT_EXTENSION);
		for (int i = 0; i < nev; i++)
			if (events[i].events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				claim_now = true;
			}
	}

	MemoryContextSwitchTo(LoopContext);
	StopCleanly();
	/* exit code 1: the postmaster starts the worker again after a terminate */
	proc_exit(1);
}
