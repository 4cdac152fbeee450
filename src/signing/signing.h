/*-------------------------------------------------------------------------
 *
 * signing.h
 *		Keys, signed requests and consent tokens (issue #5).
 *
 * The pure checks live in src/core (sigheader.c, jws.c); this room adds the
 * key store, the replay guard, the rate limit, consent capture and the
 * SQL-callable functions.  Entry points that answer a request from outside
 * return jsonb {status, reason, ...} and never raise for bad input.
 *
 * Functions of this room read and write tables no API role may touch
 * (ec.keys, the replay guard, the audit): they switch to the extension's
 * owner around their own SPI work, as pg_cron does, and every statement they
 * run is schema-qualified with fixed text and parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_SIGNING_H
#define EC_SIGNING_H

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/inet.h"
#include "utils/jsonb.h"

#include "core/hmacsha256.h"

/* Settings (signing.c). */
extern int	ec_request_max_skew;		/* seconds either side of now */
extern int	ec_request_rate_limit;		/* requests per minute per client, 0 = off */
extern int	ec_request_max_size;		/* kB */
extern int	ec_replay_guard_retention;	/* seconds */
extern int	ec_consent_token_ttl;		/* seconds */

extern void SigningInit(void);

/* Running our own statements as the extension owner (signing.c). */
typedef struct EcOwnerScope
{
	Oid			save_userid;
	int			save_sec_context;
} EcOwnerScope;

extern void EcBecomeOwner(EcOwnerScope *scope);
extern void EcForgetOwner(void);
extern void EcRestoreUser(const EcOwnerScope *scope);

/*
 * Building a jsonb answer {status, reason, ...} (signing.c): the pairs are
 * collected, sorted once in jsonb's key order and converted, which costs
 * less than pushJsonbValue's general path (these answers are on every call).
 */
#define EC_ANSWER_MAX_PAIRS 12

typedef struct EcAnswer
{
	int			npairs;
	JsonbPair	pairs[EC_ANSWER_MAX_PAIRS];
} EcAnswer;

extern void EcAnswerBegin(EcAnswer *a, int status, const char *reason);
extern void EcAnswerText(EcAnswer *a, const char *key, const char *value);
extern void EcAnswerInt(EcAnswer *a, const char *key, int64 value);
extern void EcAnswerNull(EcAnswer *a, const char *key);
extern void EcAnswerTimestamp(EcAnswer *a, const char *key, TimestampTz value);
extern Jsonb *EcAnswerEnd(EcAnswer *a);

/* Unix seconds of a timestamp, and back. */
extern int64 EcUnixSeconds(TimestampTz t);
extern TimestampTz EcFromUnixSeconds(int64 s);

/* Keys of one purpose, from the backend's cache of ec.keys (keys.c). */
typedef struct EcKey
{
	char		purpose[16];
	char		key_id[65];
	unsigned char *secret;
	size_t		secret_len;
	TimestampTz created_at;
	TimestampTz not_after;		/* 0: none */
	TimestampTz retired_at;		/* 0: not retired */
} EcKey;

/*
 * The keys of a purpose, newest first (by created_at, then key_id); *nkeys
 * set.  Valid until the next call (a change of ec.keys reloads the cache).
 */
extern const EcKey *EcKeysOf(const char *purpose, int *nkeys);
extern bool EcKeyActive(const EcKey *key, TimestampTz now);

/*
 * The outcome of checking a signed request (request.c): the checks of the
 * scheme, then (when record is true) the rate limit, the replay guard and
 * the record of a rejection.  The ingest room calls this directly.
 */
typedef struct EcRequestVerdict
{
	int			status;
	const char *reason;
	char		key_id[65];		/* the key whose signature matched, or "" */
	unsigned char content_sha256[EC_SHA256_LEN];
	bool		have_sha256;
	int64		upload_id;		/* 200: reserved for this upload; 409: the first one */
} EcRequestVerdict;

extern Jsonb *EcVerifyRequest(bytea *body, Jsonb *headers, inet *client_ip,
							  bool record, EcRequestVerdict *verdict);

/*
 * Run a fixed statement through a plan prepared once per backend and kept
 * (signing.c).  SPI must be connected.  Returns SPI_processed; raises when
 * the result code is not the one expected.
 */
extern uint64 EcSpiRun(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
					   Datum *values, const char *nulls, int expect);

#endif							/* EC_SIGNING_H */
