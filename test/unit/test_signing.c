/*
 * test_signing.c - unit tests of src/core/hmacsha256.c, sigheader.c, jws.c
 *
 * RFC 4231 HMAC-SHA256 vectors, the request-signature headers (whitespace,
 * bounds, malformed values), strict base64url and the RFC 7515 A.1 HS256
 * example, plus truncated and non-base64 tokens.
 */
#include "unit.h"

#include <stdint.h>

#include "core/hmacsha256.h"
#include "core/jws.h"
#include "core/sigheader.h"

/* Decode a hex literal of a test vector (trusted input). */
static size_t
unhex(const char *hex, unsigned char *out)
{
	size_t		n = strlen(hex) / 2;

	if (!ec_hex_decode(hex, 2 * n, out, n))
		return (size_t) -1;
	return n;
}

/* HMAC-SHA256 of one buffer, as lower-case hex in out (65 bytes). */
static void
hmac_hex(const unsigned char *key, size_t keylen, const void *data, size_t len, char *out)
{
	unsigned char mac[EC_SHA256_LEN];
	const void *parts[1];
	size_t		lens[1];

	parts[0] = data;
	lens[0] = len;
	memset(mac, 0, sizeof(mac));
	if (ec_hmac_sha256(key, keylen, 1, parts, lens, mac) != 0)
		strcpy(out, "error");
	else
	{
		ec_hex_encode(mac, sizeof(mac), out);
		out[64] = '\0';
	}
}

static void
test_rfc4231(void)
{
	unsigned char key[256];
	unsigned char data[256];
	char		hex[65];
	size_t		klen;

	/* Test Case 1 */
	memset(key, 0x0b, 20);
	hmac_hex(key, 20, "Hi There", 8, hex);
	CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

	/* Test Case 2: a key shorter than the output */
	hmac_hex((const unsigned char *) "Jefe", 4, "what do ya want for nothing?", 28, hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	/* Test Case 3 */
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	hmac_hex(key, 20, data, 50, hex);
	CHECK_STR(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

	/* Test Case 4 */
	klen = unhex("0102030405060708090a0b0c0d0e0f10111213141516171819", key);
	memset(data, 0xcd, 50);
	hmac_hex(key, klen, data, 50, hex);
	CHECK_STR(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

	/* Test Case 5: only the first 128 bits are given */
	memset(key, 0x0c, 20);
	hmac_hex(key, 20, "Test With Truncation", 20, hex);
	hex[32] = '\0';
	CHECK_STR(hex, "a3b6167473100ee06e0c796c2955552b");

	/* Test Case 6: a key longer than the block is hashed first */
	memset(key, 0xaa, 131);
	hmac_hex(key, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54, hex);
	CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

	/* Test Case 7 */
	{
		const char *msg = "This is a test using a larger than block-size key and a "
		"larger than block-size data. The key needs to be hashed before "
		"being used by the HMAC algorithm.";

		hmac_hex(key, 131, msg, strlen(msg), hex);
		CHECK_STR(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
	}

	/* a message given in several parts equals the same message in one */
	{
		const void *parts[3] = {"what do ", "ya want ", "for nothing?"};
		size_t		lens[3] = {8, 8, 12};
		unsigned char mac[EC_SHA256_LEN];

		CHECK(ec_hmac_sha256((const unsigned char *) "Jefe", 4, 3, parts, lens, mac) == 0);
		ec_hex_encode(mac, sizeof(mac), hex);
		hex[64] = '\0';
		CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	}

	/* an empty key is a valid HMAC key (all zero block) */
	hmac_hex((const unsigned char *) "", 0, "", 0, hex);
	CHECK_STR(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void
test_sha256_hex(void)
{
	unsigned char d[EC_SHA256_LEN];
	unsigned char b[4];
	char		hex[65];

	CHECK(ec_sha256("abc", 3, d) == 0);
	ec_hex_encode(d, sizeof(d), hex);
	hex[64] = '\0';
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	CHECK(ec_hex_decode("00fFaB10", 8, b, 4));
	CHECK(b[0] == 0x00 && b[1] == 0xff && b[2] == 0xab && b[3] == 0x10);
	CHECK(!ec_hex_decode("00fFaB1", 7, b, 4));
	CHECK(!ec_hex_decode("00fFaB1g", 8, b, 4));
	CHECK(!ec_hex_decode("00 FaB10", 8, b, 4));

	CHECK(ec_ct_equal("abcd", "abcd", 4));
	CHECK(!ec_ct_equal("abcd", "abce", 4));
}

/* body {"leads":[]} signed at 1700000000 with "test-secret-1" (openssl dgst) */
#define BODY		"{\"leads\":[]}"
#define BODY_SHA	"de4332a0803a8bc5fd19e51bed6ecc3eebd8c323d16d46926a68c6941f0e4430"
#define SIG_KEY1	"b4e02ac9568d0e9c9d1575f76d764ddf05d339ec35890c63b706752b6aa754c0"
#define SIG_KEY2	"9502b4f52b3cc6df960630f251d263b81d2af398984cd8b1853a78bc6fde8178"

static EcSigStatus
parse_sigs(const char *s, EcSigSet *set)
{
	return ec_sig_parse_signatures(s, strlen(s), set);
}

static void
test_timestamp(void)
{
	int64_t		ts = -1;
	const char *tok = NULL;
	size_t		toklen = 0;

#define TS(s) ec_sig_parse_timestamp(s, strlen(s), &ts, &tok, &toklen)
	CHECK(TS("1700000000") == EC_SIG_OK && ts == 1700000000 && toklen == 10);
	CHECK(TS(" \t1700000000  ") == EC_SIG_OK && ts == 1700000000 &&
		  toklen == 10 && memcmp(tok, "1700000000", 10) == 0);
	CHECK(TS("0") == EC_SIG_OK && ts == 0);
	CHECK(TS("999999999999999999") == EC_SIG_OK && ts == INT64_C(999999999999999999));
	CHECK(TS("") == EC_SIG_EMPTY);
	CHECK(TS("   ") == EC_SIG_EMPTY);
	CHECK(ec_sig_parse_timestamp(NULL, 0, &ts, &tok, &toklen) == EC_SIG_EMPTY);
	CHECK(TS("1000000000000000000") == EC_SIG_MALFORMED);	/* 19 digits */
	CHECK(TS("99999999999999999999999") == EC_SIG_MALFORMED);
	CHECK(TS("-1700000000") == EC_SIG_MALFORMED);
	CHECK(TS("+1700000000") == EC_SIG_MALFORMED);
	CHECK(TS("01700000000") == EC_SIG_MALFORMED);
	CHECK(TS("1700000000.5") == EC_SIG_MALFORMED);
	CHECK(TS("1700 000000") == EC_SIG_MALFORMED);
	CHECK(TS("0x10") == EC_SIG_MALFORMED);
	CHECK(TS("1e9") == EC_SIG_MALFORMED);
	CHECK(TS("1700000000\n") == EC_SIG_MALFORMED);
	/* not NUL-terminated: only len bytes are read */
	CHECK(ec_sig_parse_timestamp("17000000009", 10, &ts, &tok, &toklen) == EC_SIG_OK &&
		  ts == 1700000000);
	/* an embedded NUL is not a digit */
	CHECK(ec_sig_parse_timestamp("17\0000", 4, &ts, &tok, &toklen) == EC_SIG_MALFORMED);
#undef TS
}

static void
test_content_sha(void)
{
	unsigned char d[EC_SHA256_LEN];
	unsigned char want[EC_SHA256_LEN];
	const char *tok = NULL;

#define SHA(s) ec_sig_parse_sha256(s, strlen(s), d, &tok)
	unhex(BODY_SHA, want);
	CHECK(SHA(BODY_SHA) == EC_SIG_OK && memcmp(d, want, 32) == 0);
	CHECK(SHA("  " BODY_SHA "\t") == EC_SIG_OK && memcmp(tok, BODY_SHA, 64) == 0);
	CHECK(SHA("") == EC_SIG_EMPTY);
	CHECK(SHA("DE4332A0803A8BC5FD19E51BED6ECC3EEBD8C323D16D46926A68C6941F0E4430") == EC_SIG_MALFORMED);
	CHECK(SHA("de4332a0803a8bc5fd19e51bed6ecc3eebd8c323d16d46926a68c6941f0e443") == EC_SIG_MALFORMED);
	CHECK(SHA(BODY_SHA "0") == EC_SIG_MALFORMED);
	CHECK(SHA("ge4332a0803a8bc5fd19e51bed6ecc3eebd8c323d16d46926a68c6941f0e4430") == EC_SIG_MALFORMED);
	CHECK(SHA("sha256=" BODY_SHA) == EC_SIG_MALFORMED);
	CHECK(SHA("3kMyoIA6i8X9GeUb7W7MPuvYwyPRbUaSamjGlB8ORDA=") == EC_SIG_MALFORMED);	/* base64 */
#undef SHA
}

static void
test_signature_header(void)
{
	EcSigSet	set;
	unsigned char k1[EC_SHA256_LEN];
	unsigned char k2[EC_SHA256_LEN];

	unhex(SIG_KEY1, k1);
	unhex(SIG_KEY2, k2);

	CHECK(parse_sigs("v1=" SIG_KEY1, &set) == EC_SIG_OK && set.count == 1 &&
		  memcmp(set.mac[0], k1, 32) == 0);
	CHECK(parse_sigs("v1=" SIG_KEY1 ",v1=" SIG_KEY2, &set) == EC_SIG_OK && set.count == 2 &&
		  memcmp(set.mac[1], k2, 32) == 0);
	/* whitespace around everything */
	CHECK(parse_sigs("  v1 = " SIG_KEY1 " ,\tv1=\t" SIG_KEY2 "\t ", &set) == EC_SIG_OK &&
		  set.count == 2 && memcmp(set.mac[0], k1, 32) == 0 && memcmp(set.mac[1], k2, 32) == 0);
	/* upper-case signature hex */
	CHECK(parse_sigs("v1=B4E02AC9568D0E9C9D1575F76D764DDF05D339EC35890C63B706752B6AA754C0", &set) == EC_SIG_OK &&
		  memcmp(set.mac[0], k1, 32) == 0);
	/* other schemes are skipped */
	CHECK(parse_sigs("v0=abc,v1=" SIG_KEY1 ",v2=Zm9v+/=", &set) == EC_SIG_OK && set.count == 1);
	CHECK(parse_sigs("v0=abc", &set) == EC_SIG_NO_V1);

	CHECK(parse_sigs("", &set) == EC_SIG_EMPTY);
	CHECK(parse_sigs(" \t ", &set) == EC_SIG_EMPTY);
	CHECK(ec_sig_parse_signatures(NULL, 0, &set) == EC_SIG_EMPTY);
	CHECK(parse_sigs(SIG_KEY1, &set) == EC_SIG_MALFORMED);	/* no scheme */
	CHECK(parse_sigs("v1=", &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 ",", &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 ", ", &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs(",v1=" SIG_KEY1, &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 ",,v1=" SIG_KEY2, &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 "00", &set) == EC_SIG_MALFORMED);	/* too long */
	CHECK(parse_sigs("v1=b4e02ac9568d0e9c9d1575f76d764ddf05d339ec35890c63b706752b6aa754c", &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 " v1=" SIG_KEY2, &set) == EC_SIG_MALFORMED);	/* no comma */
	CHECK(parse_sigs("v1=" SIG_KEY1 ";v1=" SIG_KEY2, &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("V1=" SIG_KEY1, &set) == EC_SIG_MALFORMED);	/* schemes are lower-case */
	CHECK(parse_sigs("v 1=" SIG_KEY1, &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("=" SIG_KEY1, &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1==" SIG_KEY1, &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 ",v2=", &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("v1=" SIG_KEY1 ",v2=a b", &set) == EC_SIG_MALFORMED);
	CHECK(parse_sigs("t=1700000000,v1=" SIG_KEY1, &set) == EC_SIG_OK);

	/* the bound: 8 elements pass, 9 are refused rather than truncated */
	{
		char		buf[1024];
		int			i;

		buf[0] = '\0';
		for (i = 0; i < EC_SIG_MAX_ELEMENTS; i++)
			strcat(buf, i == 0 ? "v1=" SIG_KEY1 : ",v1=" SIG_KEY2);
		CHECK(parse_sigs(buf, &set) == EC_SIG_OK && set.count == EC_SIG_MAX_ELEMENTS);
		strcat(buf, ",v1=" SIG_KEY1);
		CHECK(parse_sigs(buf, &set) == EC_SIG_TOO_MANY);
		/* unknown schemes count against the bound too */
		buf[0] = '\0';
		for (i = 0; i < 100; i++)
			strcat(buf, "v9=x,");
		strcat(buf, "v1=" SIG_KEY1);
		CHECK(parse_sigs(buf, &set) == EC_SIG_TOO_MANY);
	}
}

static void
test_signature_check(void)
{
	EcSigSet	set;
	unsigned char mac[EC_SHA256_LEN];
	char		hex[65];
	const unsigned char *key1 = (const unsigned char *) "test-secret-1";
	const unsigned char *key2 = (const unsigned char *) "test-secret-2";
	const char *key3 = "test-secret-3";
	unsigned char body_digest[EC_SHA256_LEN];
	unsigned char hdr_digest[EC_SHA256_LEN];
	const char *tok;

	/* the body hash the header claims is the body's */
	CHECK(ec_sha256(BODY, strlen(BODY), body_digest) == 0);
	CHECK(ec_sig_parse_sha256(BODY_SHA, 64, hdr_digest, &tok) == EC_SIG_OK);
	CHECK(ec_ct_equal(body_digest, hdr_digest, 32));

	CHECK(ec_sig_compute(key1, 13, "1700000000", 10, BODY_SHA, 64, mac) == EC_SIG_OK);
	ec_hex_encode(mac, sizeof(mac), hex);
	hex[64] = '\0';
	CHECK_STR(hex, SIG_KEY1);

	CHECK(parse_sigs(" v1=" SIG_KEY2 " , v1=" SIG_KEY1, &set) == EC_SIG_OK);
	CHECK(ec_sig_match(&set, mac));
	CHECK(ec_sig_compute(key2, 13, "1700000000", 10, BODY_SHA, 64, mac) == EC_SIG_OK);
	CHECK(ec_sig_match(&set, mac));
	CHECK(ec_sig_compute((const unsigned char *) key3, 13, "1700000000", 10, BODY_SHA, 64, mac) == EC_SIG_OK);
	CHECK(!ec_sig_match(&set, mac));
	/* another timestamp gives another MAC */
	CHECK(ec_sig_compute(key1, 13, "1700000001", 10, BODY_SHA, 64, mac) == EC_SIG_OK);
	CHECK(!ec_sig_match(&set, mac));
	set.count = 0;
	CHECK(!ec_sig_match(&set, mac));
	CHECK_STR(ec_sig_status_name(EC_SIG_TOO_MANY), "too many signatures");
}

static void
test_base64url(void)
{
	unsigned char out[64];
	char		enc[64];
	size_t		n = 0;

#define DEC(s) ec_b64url_decode(s, strlen(s), out, sizeof(out), &n)
	CHECK(DEC("") == EC_JWS_OK && n == 0);
	CHECK(DEC("Zg") == EC_JWS_OK && n == 1 && out[0] == 'f');
	CHECK(DEC("Zm8") == EC_JWS_OK && n == 2 && memcmp(out, "fo", 2) == 0);
	CHECK(DEC("Zm9v") == EC_JWS_OK && n == 3 && memcmp(out, "foo", 3) == 0);
	CHECK(DEC("Zm9vYmFy") == EC_JWS_OK && n == 6 && memcmp(out, "foobar", 6) == 0);
	CHECK(DEC("-_-_") == EC_JWS_OK && n == 3 && out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf);
	CHECK(DEC("Zg==") == EC_JWS_BAD_BASE64);	/* padding */
	CHECK(DEC("Zm9v+/") == EC_JWS_BAD_BASE64);	/* standard alphabet */
	CHECK(DEC("Zm9 v") == EC_JWS_BAD_BASE64);
	CHECK(DEC("Z") == EC_JWS_BAD_BASE64);	/* length 1 mod 4 */
	CHECK(DEC("Zm9vY") == EC_JWS_BAD_BASE64);
	CHECK(DEC("Zh") == EC_JWS_BAD_BASE64);	/* non-zero trailing bits */
	CHECK(DEC("Zm9") == EC_JWS_BAD_BASE64);
	CHECK(ec_b64url_decode("Zm9v\0mFy", 8, out, sizeof(out), &n) == EC_JWS_BAD_BASE64);
	CHECK(ec_b64url_decode("Zm9vYmFy", 8, out, 5, &n) == EC_JWS_TOO_LONG);
#undef DEC

	CHECK(ec_b64url_encode((const unsigned char *) "foobar", 6, enc, sizeof(enc), &n) == EC_JWS_OK &&
		  n == 8 && memcmp(enc, "Zm9vYmFy", 8) == 0);
	CHECK(ec_b64url_encode((const unsigned char *) "fo", 2, enc, sizeof(enc), &n) == EC_JWS_OK &&
		  n == 3 && memcmp(enc, "Zm8", 3) == 0);
	CHECK(ec_b64url_encode((const unsigned char *) "\xfb\xff\xbf", 3, enc, sizeof(enc), &n) == EC_JWS_OK &&
		  n == 4 && memcmp(enc, "-_-_", 4) == 0);
	CHECK(ec_b64url_encode((const unsigned char *) "foobar", 6, enc, 7, &n) == EC_JWS_TOO_LONG);
	CHECK(ec_b64url_encoded_len(32) == EC_JWS_HS256_SIG_B64_LEN);
	CHECK(ec_b64url_decoded_max(43) == 32);

	/* every length round-trips */
	{
		unsigned char src[40];
		size_t		len;
		size_t		m;
		int			ok = 1;

		for (len = 0; len < sizeof(src); len++)
		{
			src[len] = (unsigned char) (len * 37 + 11);
			if (ec_b64url_encode(src, len, enc, sizeof(enc), &m) != EC_JWS_OK ||
				m != ec_b64url_encoded_len(len) ||
				ec_b64url_decode(enc, m, out, sizeof(out), &n) != EC_JWS_OK ||
				n != len || memcmp(out, src, len) != 0)
				ok = 0;
		}
		CHECK(ok);
	}
}

/* RFC 7515 appendix A.1 */
#define A1_HEADER	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define A1_PAYLOAD	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define A1_SIG		"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_KEY		"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_TOKEN	A1_HEADER "." A1_PAYLOAD "." A1_SIG

static EcJwsStatus
split(const char *s, EcJwsParts *p)
{
	return ec_jws_split(s, strlen(s), p);
}

static void
test_jws(void)
{
	unsigned char key[64];
	size_t		keylen = 0;
	EcJwsParts	p;
	unsigned char buf[256];
	size_t		n = 0;
	char		tok[EC_JWS_MAX_TOKEN + 8];

	CHECK(ec_b64url_decode(A1_KEY, strlen(A1_KEY), key, sizeof(key), &keylen) == EC_JWS_OK &&
		  keylen == 64);

	CHECK(split(A1_TOKEN, &p) == EC_JWS_OK);
	CHECK(p.header_len == strlen(A1_HEADER) && p.payload_len == strlen(A1_PAYLOAD) &&
		  p.signature_len == 43 && p.signing_input_len == strlen(A1_HEADER "." A1_PAYLOAD));
	CHECK(ec_b64url_decode(p.header, p.header_len, buf, sizeof(buf), &n) == EC_JWS_OK &&
		  n == 30 && memcmp(buf, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", 30) == 0);
	CHECK(ec_jws_hs256_verify(key, keylen, &p) == EC_JWS_OK);

	/* another key, a flipped signature bit, a changed payload */
	CHECK(ec_jws_hs256_verify((const unsigned char *) "other", 5, &p) == EC_JWS_BAD_SIGNATURE);
	CHECK(split(A1_HEADER "." A1_PAYLOAD ".eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &p) == EC_JWS_OK);
	CHECK(ec_jws_hs256_verify(key, keylen, &p) == EC_JWS_BAD_SIGNATURE);
	CHECK(split(A1_HEADER ".eyJpc3MiOiJqb2UifQ." A1_SIG, &p) == EC_JWS_OK);
	CHECK(ec_jws_hs256_verify(key, keylen, &p) == EC_JWS_BAD_SIGNATURE);

	/* signing reproduces the RFC's signature */
	{
		char		sig[EC_JWS_HS256_SIG_B64_LEN];
		const char *in = A1_HEADER "." A1_PAYLOAD;

		CHECK(ec_jws_hs256_sign(key, keylen, in, strlen(in), sig) == EC_JWS_OK &&
			  memcmp(sig, A1_SIG, 43) == 0);
	}

	/* encode then split and verify */
	{
		const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"c1\"}";
		const char *pl = "{\"lid\":42,\"exp\":1700604800,\"nonce\":\"abc\"}";
		size_t		len = 0;

		CHECK(ec_jws_hs256_encode((const unsigned char *) "k", 1, h, strlen(h), pl, strlen(pl),
								  tok, sizeof(tok), &len) == EC_JWS_OK);
		CHECK(ec_jws_split(tok, len, &p) == EC_JWS_OK);
		CHECK(ec_jws_hs256_verify((const unsigned char *) "k", 1, &p) == EC_JWS_OK);
		CHECK(ec_b64url_decode(p.payload, p.payload_len, buf, sizeof(buf), &n) == EC_JWS_OK &&
			  n == strlen(pl) && memcmp(buf, pl, n) == 0);
		CHECK(ec_jws_hs256_encode((const unsigned char *) "k", 1, h, strlen(h), pl, strlen(pl),
								  tok, len - 1, &len) == EC_JWS_TOO_LONG);
	}

	/* alg none: splits (the header says none), never verifies */
	CHECK(split("eyJhbGciOiJub25lIn0." A1_PAYLOAD ".", &p) == EC_JWS_OK && p.signature_len == 0);
	CHECK(ec_jws_hs256_verify(key, keylen, &p) == EC_JWS_BAD_SIGNATURE);

	/* truncated tokens */
	CHECK(split("", &p) == EC_JWS_MALFORMED);
	CHECK(ec_jws_split(NULL, 0, &p) == EC_JWS_MALFORMED);
	CHECK(split(A1_HEADER, &p) == EC_JWS_MALFORMED);
	CHECK(split(A1_HEADER ".", &p) == EC_JWS_MALFORMED);
	CHECK(split(A1_HEADER "." A1_PAYLOAD, &p) == EC_JWS_MALFORMED);
	CHECK(split("." A1_PAYLOAD "." A1_SIG, &p) == EC_JWS_MALFORMED);
	CHECK(split(A1_HEADER ".." A1_SIG, &p) == EC_JWS_MALFORMED);
	CHECK(split(A1_HEADER "." A1_PAYLOAD ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOE", &p) == EC_JWS_OK);
	CHECK(ec_jws_hs256_verify(key, keylen, &p) == EC_JWS_BAD_SIGNATURE);
	/* 42 characters: the last one has bits no byte uses */
	CHECK(split(A1_HEADER "." A1_PAYLOAD ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX", &p) == EC_JWS_BAD_BASE64);
	/* cut inside the signature at a length that is not base64 */
	CHECK(split(A1_HEADER "." A1_PAYLOAD ".dBjftJeZ4", &p) == EC_JWS_BAD_BASE64);
	/* five segments (JWE) and trailing dots */
	CHECK(split(A1_TOKEN ".x.y", &p) == EC_JWS_MALFORMED);
	CHECK(split(A1_TOKEN ".", &p) == EC_JWS_MALFORMED);

	/* non-base64 */
	CHECK(split("eyJ0eXAiOiJKV1Qi+LA0KICJhbGciOiJIUzI1NiJ9." A1_PAYLOAD "." A1_SIG, &p) == EC_JWS_BAD_BASE64);
	CHECK(split(A1_HEADER "." A1_PAYLOAD "=." A1_SIG, &p) == EC_JWS_BAD_BASE64);
	CHECK(split(A1_HEADER "." A1_PAYLOAD "." A1_SIG "=", &p) == EC_JWS_BAD_BASE64);
	CHECK(split(A1_HEADER " ." A1_PAYLOAD "." A1_SIG, &p) == EC_JWS_BAD_BASE64);
	CHECK(split(A1_HEADER "." A1_PAYLOAD "." A1_SIG "\n", &p) == EC_JWS_BAD_BASE64);
	CHECK(split("e30." A1_PAYLOAD ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", &p) == EC_JWS_BAD_BASE64);
	CHECK(ec_jws_split("e30.e30.\0abc", 12, &p) == EC_JWS_BAD_BASE64);

	/* too long */
	memset(tok, 'A', sizeof(tok));
	tok[100] = '.';
	tok[200] = '.';
	CHECK(ec_jws_split(tok, EC_JWS_MAX_TOKEN, &p) == EC_JWS_OK);
	CHECK(ec_jws_split(tok, EC_JWS_MAX_TOKEN + 1, &p) == EC_JWS_TOO_LONG);
	CHECK_STR(ec_jws_status_name(EC_JWS_BAD_BASE64), "bad base64url");
}

int
main(void)
{
	test_rfc4231();
	test_sha256_hex();
	test_timestamp();
	test_content_sha();
	test_signature_header();
	test_signature_check();
	test_base64url();
	test_jws();
	UNIT_DONE();
}
