/*
 * test_address.c - unit tests of the USPS normalizer, addr_hash, APN and MAK
 * rules (src/core/address.c, lead_keys.c, usps_tables.c).
 *
 * The pair table test/data/address_pairs.tsv (shared with the SQL tests)
 * lists address pairs that must give one hash ("same") or two ("diff").
 */
#include "core/address.h"
#include "core/lead_keys.h"
#include "core/usps_tables.h"

#include <stdlib.h>
#include <openssl/sha.h>

#include "unit.h"

/* the pair table, found next to this binary: <dir>/../data/address_pairs.tsv */
static char pairs_path[4096] = "../data/address_pairs.tsv";

static void
FindPairs(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	if (getenv("EC_ADDRESS_PAIRS"))
		snprintf(pairs_path, sizeof(pairs_path), "%s", getenv("EC_ADDRESS_PAIRS"));
	else if (slash)
		snprintf(pairs_path, sizeof(pairs_path), "%.*s/../data/address_pairs.tsv",
				 (int) (slash - argv0), argv0);
}

static EcAddrStatus
Norm5(const char *l1, const char *l2, const char *city, const char *state,
	  const char *zip, EcAddress *a)
{
	return EcAddressNormalize(l1, l1 ? strlen(l1) : 0, l2, l2 ? strlen(l2) : 0,
							  city, city ? strlen(city) : 0,
							  state, state ? strlen(state) : 0,
							  zip, zip ? strlen(zip) : 0, a);
}

/* the one-line canonical form of an address, in a static buffer */
static const char *
OneLine(const char *l1, const char *l2, const char *city, const char *state,
		const char *zip)
{
	static char buf[EC_ADDR_ONELINE_MAX + 1];
	EcAddress	a;
	EcAddrStatus st = Norm5(l1, l2, city, state, zip, &a);

	if (st != EC_ADDR_OK)
	{
		snprintf(buf, sizeof(buf), "<%s>", EcAddrStatusReason(st));
		return buf;
	}
	EcAddressFormat(&a, buf, sizeof(buf));
	return buf;
}

/* normalize(normalize(x)) = normalize(x), part by part */
static int
Idempotent(const EcAddress *a)
{
	EcAddress	b;

	if (Norm5(a->line, a->unit, a->city, a->state, a->zip5, &b) != EC_ADDR_OK)
		return 0;
	return strcmp(a->line, b.line) == 0 && strcmp(a->unit, b.unit) == 0 &&
		strcmp(a->city, b.city) == 0 && strcmp(a->state, b.state) == 0 &&
		strcmp(a->zip5, b.zip5) == 0;
}

static void
TestTables(void)
{
	size_t		i;

	for (i = 1; i < ec_usps_suffixes_count; i++)
		CHECK(strcmp(ec_usps_suffixes[i - 1].word, ec_usps_suffixes[i].word) < 0);
	for (i = 1; i < ec_usps_units_count; i++)
		CHECK(strcmp(ec_usps_units[i - 1].word, ec_usps_units[i].word) < 0);
	for (i = 1; i < ec_usps_states_count; i++)
		CHECK(strcmp(ec_usps_states[i - 1].word, ec_usps_states[i].word) < 0);
	for (i = 1; i < ec_state_fips_count; i++)
		CHECK(strcmp(ec_state_fips[i - 1].word, ec_state_fips[i].word) < 0);

	/* every standard form maps to itself: idempotence depends on it */
	for (i = 0; i < ec_usps_suffixes_count; i++)
	{
		const char *std = ec_usps_suffixes[i].std;
		const char *again = EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count,
											std, strlen(std));

		CHECK(again != NULL && strcmp(again, std) == 0);
	}
	for (i = 0; i < ec_usps_units_count; i++)
	{
		const EcUnitDesignator *d = EcUnitLookup(ec_usps_units[i].std,
												 strlen(ec_usps_units[i].std));

		CHECK(d != NULL && strcmp(d->std, ec_usps_units[i].std) == 0);
	}
	for (i = 0; i < ec_usps_states_count; i++)
	{
		const char *code = ec_usps_states[i].std;

		CHECK(strlen(code) == 2);
		CHECK(EcStateCode(code, 2) != NULL);
	}

	/* the whole of Appendix C1: 200-odd suffixes and their variants */
	CHECK(ec_usps_suffixes_count >= 500);
	CHECK(ec_usps_units_count >= 24);
	CHECK_STR(EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, "STRAVENUE", 9), "STRA");
	CHECK_STR(EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, "TRAFFICWAY", 10), "TRFY");
	CHECK_STR(EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, "VILLIAGE", 8), "VLG");
	CHECK(EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, "MAIN", 4) == NULL);
	CHECK(EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, "S", 1) == NULL);
	CHECK(EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, "", 0) == NULL);
}

static void
TestCanonical(void)
{
	CHECK_STR(OneLine("123 North Main Street Apt 4", NULL, "Springfield", "Illinois", "62704-1234"),
			  "123 N MAIN ST # 4, SPRINGFIELD, IL 62704");
	CHECK_STR(OneLine("123 N MAIN ST #4", NULL, "SPRINGFIELD", "IL", "62704"),
			  "123 N MAIN ST # 4, SPRINGFIELD, IL 62704");
	CHECK_STR(OneLine("123 N ST", NULL, "Lincoln", "NE", "68508"),
			  "123 N ST, LINCOLN, NE 68508");
	CHECK_STR(OneLine("123 Park", NULL, "X", "NY", "10001"), "123 PARK, X, NY 10001");
	CHECK_STR(OneLine("123 Park Avenue South", NULL, "New York", "NY", "10003"),
			  "123 PARK AVE S, NEW YORK, NY 10003");
	CHECK_STR(OneLine("123 County Road 12", NULL, "Tyler", "TX", "75701"),
			  "123 COUNTY ROAD 12, TYLER, TX 75701");
	CHECK_STR(OneLine("123 Hwy 66 N", NULL, "Tyler", "TX", "75701"),
			  "123 HIGHWAY 66 N, TYLER, TX 75701");
	CHECK_STR(OneLine("10 Twenty-First Ave NE", NULL, "Seattle", "WA", "98101"),
			  "10 21ST AVE NE, SEATTLE, WA 98101");
	CHECK_STR(OneLine("P.O. Box 77", NULL, "Helena", "MT", "59601"),
			  "PO BOX 77, HELENA, MT 59601");
	CHECK_STR(OneLine("77 Bay St Bldg 2 Apt 4-b", NULL, "San Francisco", "CA", "94133"),
			  "77 BAY ST # 2 # 4B, SAN FRANCISCO, CA 94133");
	CHECK_STR(OneLine("77 Bay St Rear", NULL, "San Francisco", "CA", "94133"),
			  "77 BAY ST REAR, SAN FRANCISCO, CA 94133");
	CHECK_STR(OneLine("77 Front St", NULL, "San Francisco", "CA", "94133"),
			  "77 FRONT ST, SAN FRANCISCO, CA 94133");
	CHECK_STR(OneLine("123-45 Queens Blvd", NULL, "Forest Hills", "NY", "11375"),
			  "123-45 QUEENS BLVD, FOREST HILLS, NY 11375");
	CHECK_STR(OneLine("123 1/2 Main St", NULL, "St. Louis", "MO", "631"),
			  "123 1/2 MAIN ST, SAINT LOUIS, MO 00631");
	CHECK_STR(OneLine("12 Calle Peña", NULL, "San Juan", "Puerto Rico", "00901"),
			  "12 CALLE PENA, SAN JUAN, PR 00901");
	CHECK_STR(OneLine("1 Main St", NULL, "N Las Vegas", "nv", NULL),
			  "1 MAIN ST, NORTH LAS VEGAS, NV");
	CHECK_STR(OneLine("1 Main St", NULL, NULL, NULL, "89030"), "1 MAIN ST, , 89030");
	CHECK_STR(OneLine("1 Main St", "Apt 4", NULL, "Nev.", "89030"),
			  "1 MAIN ST # 4, , NV 89030");
	CHECK_STR(OneLine("1 Main St Apt 4", "APT 4", "X", "NV", "89030"),
			  "1 MAIN ST # 4, X, NV 89030");
	CHECK_STR(OneLine("1 Main St", "Unit PH", "X", "NV", "89030"),
			  "1 MAIN ST PH, X, NV 89030");
	CHECK_STR(OneLine("1 Main St Penthouse 2", NULL, "X", "NV", "89030"),
			  "1 MAIN ST PH 2, X, NV 89030");
}

static void
TestStatus(void)
{
	EcAddress	a;
	char		big[EC_ADDR_INPUT_MAX + 2];
	unsigned char h[EC_ADDR_HASH_LEN];

	CHECK(Norm5(NULL, NULL, NULL, NULL, NULL, &a) == EC_ADDR_EMPTY);
	CHECK(Norm5("", "Apt 4", "X", "CA", "90210", &a) == EC_ADDR_EMPTY);
	CHECK(Norm5("  ,.;  ", NULL, "X", "CA", "90210", &a) == EC_ADDR_EMPTY);
	CHECK(Norm5("#4", NULL, "X", "CA", "90210", &a) == EC_ADDR_EMPTY);
	CHECK(a.line[0] == '\0');

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(Norm5(big, NULL, "X", "CA", "90210", &a) == EC_ADDR_TOO_LONG);
	CHECK(Norm5("1 Main St", NULL, big, "CA", "90210", &a) == EC_ADDR_TOO_LONG);
	/* within the input limit, but the canonical part would be too long */
	big[EC_ADDR_INPUT_MAX] = '\0';
	CHECK(Norm5(big, NULL, "X", "CA", "90210", &a) == EC_ADDR_TOO_LONG);
	big[EC_ADDR_FIELD_MAX] = '\0';
	CHECK(Norm5(big, NULL, "X", "CA", "90210", &a) == EC_ADDR_OK);

	CHECK(Norm5("1 Main St \xff", NULL, "X", "CA", NULL, &a) == EC_ADDR_BAD_UTF8);
	CHECK(Norm5("1 Main St \xc0\xaf", NULL, "X", "CA", NULL, &a) == EC_ADDR_BAD_UTF8);	/* overlong */
	CHECK(Norm5("1 Main St \xed\xa0\x80", NULL, "X", "CA", NULL, &a) == EC_ADDR_BAD_UTF8);	/* surrogate */
	CHECK(Norm5("1 Main St \xe2\x82", NULL, "X", "CA", NULL, &a) == EC_ADDR_BAD_UTF8);	/* truncated */
	CHECK(Norm5("1 Main St", NULL, "X\x80", "CA", NULL, &a) == EC_ADDR_BAD_UTF8);
	CHECK(Norm5("1 Main St", NULL, "X", "CA", "9021\xc3", &a) == EC_ADDR_OK);	/* ZIP: dropped */
	CHECK(a.flags & EC_ADDR_WARN_ZIP);
	CHECK(Norm5("1 Main St", NULL, "X", "Zork", "90210", &a) == EC_ADDR_OK);
	CHECK(a.flags & EC_ADDR_WARN_STATE);
	CHECK_STR(a.state, "ZORK");

	/* embedded NUL is a separator, not the end */
	CHECK(EcAddressNormalize("1 Main\0St", 9, NULL, 0, "X", 1, "CA", 2, NULL, 0, &a) == EC_ADDR_OK);
	CHECK_STR(a.line, "1 MAIN ST");

	/* hashing needs a ZIP, or a city and a state */
	CHECK(Norm5("1 Main St", NULL, NULL, "CA", NULL, &a) == EC_ADDR_OK);
	CHECK(EcAddressHash(&a, h) == EC_ADDR_INCOMPLETE);
	CHECK(Norm5("1 Main St", NULL, "X", "CA", NULL, &a) == EC_ADDR_OK);
	CHECK(EcAddressHash(&a, h) == EC_ADDR_OK);
	CHECK(Norm5("1 Main St", NULL, NULL, NULL, "90210", &a) == EC_ADDR_OK);
	CHECK(EcAddressHash(&a, h) == EC_ADDR_OK);

	CHECK_STR(EcAddrStatusReason(EC_ADDR_BAD_UTF8), "address_not_utf8");
	CHECK_STR(EcAddrStatusReason(EC_ADDR_TOO_LONG), "address_too_long");
}

/* the hash is SHA-256 of the one-line form, so SQL can recompute it */
static void
TestHashDefinition(void)
{
	EcAddress	a;
	unsigned char h1[EC_ADDR_HASH_LEN],
				h2[EC_ADDR_HASH_LEN];
	char		one[EC_ADDR_ONELINE_MAX + 1];

	CHECK(Norm5("123 N Main St Apt 4", NULL, "Springfield", "IL", "62704", &a) == EC_ADDR_OK);
	CHECK(EcAddressHash(&a, h1) == EC_ADDR_OK);
	EcAddressFormat(&a, one, sizeof(one));
	SHA256((const unsigned char *) one, strlen(one), h2);
	CHECK(memcmp(h1, h2, sizeof(h1)) == 0);
}

/* split a TSV line in place into at most max fields */
static int
SplitTabs(char *line, char **f, int max)
{
	int			n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max)
	{
		char	   *tab = strchr(line, '\t');

		f[n++] = line;
		if (tab == NULL)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return n;
}

static void
TestPairs(void)
{
	const char *path = pairs_path;
	FILE	   *fp = fopen(path, "r");
	char		line[4096];
	int			lineno = 0,
				same = 0,
				diff = 0;

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp))
	{
		char	   *f[12];
		EcAddress	a,
					b;
		unsigned char ha[EC_ADDR_HASH_LEN],
					hb[EC_ADDR_HASH_LEN];
		int			ok;

		if (lineno++ == 0)
			continue;			/* header */
		CHECK(SplitTabs(line, f, 12) == 12);
		ok = Norm5(f[1], f[2], f[3], f[4], f[5], &a) == EC_ADDR_OK &&
			Norm5(f[6], f[7], f[8], f[9], f[10], &b) == EC_ADDR_OK &&
			EcAddressHash(&a, ha) == EC_ADDR_OK &&
			EcAddressHash(&b, hb) == EC_ADDR_OK;
		CHECK(ok);
		if (!ok)
			continue;
		CHECK(Idempotent(&a));
		CHECK(Idempotent(&b));
		if (strcmp(f[0], "same") == 0)
		{
			same++;
			if (memcmp(ha, hb, sizeof(ha)) == 0)
				unit_passed++;
			else
			{
				char		oa[EC_ADDR_ONELINE_MAX + 1],
							ob[EC_ADDR_ONELINE_MAX + 1];

				EcAddressFormat(&a, oa, sizeof(oa));
				EcAddressFormat(&b, ob, sizeof(ob));
				unit_failed++;
				fprintf(stderr, "%s:%d: should match (%s): [%s] vs [%s]\n",
						path, lineno, f[11], oa, ob);
			}
		}
		else
		{
			diff++;
			CHECK(strcmp(f[0], "diff") == 0);
			if (memcmp(ha, hb, sizeof(ha)) != 0)
				unit_passed++;
			else
			{
				unit_failed++;
				fprintf(stderr, "%s:%d: should differ (%s): %s\n", path, lineno,
						f[11], a.line);
			}
		}
	}
	fclose(fp);
	CHECK(same + diff >= 150);
	CHECK(same >= 50 && diff >= 50);
}

static void
TestApnMak(void)
{
	char		out[EC_APN_KEY_MAX + 1];
	char		mak[EC_MAK_LEN + 1];

	CHECK(EcApnNormalize("5555-001-002", 12, "CA", 2, "037", 3, out) == EC_KEY_OK);
	CHECK_STR(out, "CA:06037:5555001002");
	CHECK(EcApnNormalize("5555 001 002", 12, "California", 10, "06037", 5, out) == EC_KEY_OK);
	CHECK_STR(out, "CA:06037:5555001002");
	CHECK(EcApnNormalize("05555.001.002", 13, NULL, 0, "6037", 4, out) == EC_KEY_OK);
	CHECK_STR(out, "CA:06037:5555001002");
	CHECK(EcApnNormalize("12-34-56-a", 10, "tx", 2, "48201", 5, out) == EC_KEY_OK);
	CHECK_STR(out, "TX:48201:123456A");
	/* one APN in two counties is two parcels */
	CHECK(EcApnNormalize("123-456", 7, "TX", 2, "201", 3, out) == EC_KEY_OK);
	CHECK_STR(out, "TX:48201:123456");
	CHECK(EcApnNormalize("123-456", 7, "TX", 2, "113", 3, out) == EC_KEY_OK);
	CHECK_STR(out, "TX:48113:123456");
	CHECK(EcApnNormalize("000", 3, "TX", 2, "201", 3, out) == EC_KEY_OK);
	CHECK_STR(out, "TX:48201:0");
	CHECK(EcApnNormalize(" - . ", 5, "TX", 2, "201", 3, out) == EC_KEY_EMPTY);
	CHECK(EcApnNormalize(NULL, 0, "TX", 2, "201", 3, out) == EC_KEY_EMPTY);
	CHECK(EcApnNormalize("12#34", 5, "TX", 2, "201", 3, out) == EC_KEY_BAD_CHARS);
	CHECK(EcApnNormalize("1234", 4, NULL, 0, "201", 3, out) == EC_KEY_NO_SCOPE);
	CHECK(EcApnNormalize("1234", 4, "TX", 2, NULL, 0, out) == EC_KEY_NO_SCOPE);
	CHECK(EcApnNormalize("1234", 4, "TX", 2, "2O1", 3, out) == EC_KEY_NO_SCOPE);
	CHECK(EcApnNormalize("1234", 4, "CA", 2, "48201", 5, out) == EC_KEY_SCOPE_MISMATCH);
	CHECK(EcApnNormalize("1234567890123456789012345678901234567890123456789012345678901234567890",
						 70, "CA", 2, "037", 3, out) == EC_KEY_TOO_LONG);
	CHECK(out[0] == '\0');

	CHECK(EcMakNormalize(" 1234567890 ", 12, mak) == EC_KEY_OK);
	CHECK_STR(mak, "1234567890");
	CHECK(EcMakNormalize("0123456789", 10, mak) == EC_KEY_OK);
	CHECK_STR(mak, "0123456789");
	CHECK(EcMakNormalize("123456789", 9, mak) == EC_KEY_BAD_LENGTH);
	CHECK(EcMakNormalize("12345678901", 11, mak) == EC_KEY_BAD_LENGTH);
	CHECK(EcMakNormalize("12345-67890", 11, mak) == EC_KEY_BAD_CHARS);
	CHECK(EcMakNormalize("   ", 3, mak) == EC_KEY_EMPTY);
	CHECK(EcMakNormalize(NULL, 0, mak) == EC_KEY_EMPTY);

	CHECK_STR(EcStateCode("new york", 8), "NY");
	CHECK_STR(EcStateCode("N.Y.", 4), "NY");
	CHECK_STR(EcStateCode(" Calif. ", 8), "CA");
	CHECK(EcStateCode("Atlantis", 8) == NULL);
	CHECK_STR(EcKeyStatusReason(EC_KEY_NO_SCOPE), "apn_without_county");
}

/* a whole address in line 1, with no city, state or ZIP of its own */
static void
TestWholeLine(void)
{
	CHECK_STR(OneLine("123 Main St, Tampa, FL 33606", NULL, NULL, NULL, NULL), "123 MAIN ST, TAMPA, FL 33606");
	CHECK_STR(OneLine("123 North Main Street Apt 4, Tampa FL 33606-1234", NULL, NULL, NULL, NULL),
			  "123 N MAIN ST # 4, TAMPA, FL 33606");
	CHECK_STR(OneLine("123 Main St, Springfield IL", NULL, NULL, NULL, NULL), "123 MAIN ST, SPRINGFIELD, IL");
	CHECK_STR(OneLine("9 Oak Ave, Tampa, Fla. 33606", NULL, NULL, NULL, NULL), "9 OAK AVE, TAMPA, FL 33606");
	CHECK_STR(OneLine("7 Pine Ct,, Tampa,FL,33606", NULL, NULL, NULL, NULL), "7 PINE CT, TAMPA, FL 33606");
	CHECK_STR(OneLine("5 Elm Rd, Washington, District of Columbia 20001", NULL, NULL, NULL, NULL),
			  "5 ELM RD, WASHINGTON, DC 20001");
	CHECK_STR(OneLine("1 Main St, Unit 5, New York, New York 10001", NULL, NULL, NULL, NULL),
			  "1 MAIN ST # 5, NEW YORK, NY 10001");
	/* not split: a unit or a number where the city would be, no state */
	CHECK(strstr(OneLine("123 Main St, Apt IN", NULL, NULL, NULL, NULL), ", IN") == NULL);
	CHECK(strstr(OneLine("123 Main St, Apt 4, FL 33606", NULL, NULL, NULL, NULL), ", FL") == NULL);
	CHECK(strstr(OneLine("1 Main St, FL, 33606", NULL, NULL, NULL, NULL), ", FL") == NULL);
	CHECK(strstr(OneLine("12 Rue X, Montreal, QC", NULL, NULL, NULL, NULL), ", QC") == NULL);
	/* only when city, state and ZIP are all absent */
	CHECK(strstr(OneLine("123 Main St, Tampa, FL 33606", NULL, "Orlando", NULL, NULL), "TAMPA, FL") == NULL);
	/* and idempotent, as every result */
	CHECK_STR(OneLine("123 MAIN ST", NULL, "TAMPA", "FL", "33606"), "123 MAIN ST, TAMPA, FL 33606");
}

int
main(int argc, char **argv)
{
	FindPairs(argc > 0 ? argv[0] : "");
	TestTables();
	TestCanonical();
	TestStatus();
	TestHashDefinition();
	TestPairs();
	TestApnMak();
	TestWholeLine();
	UNIT_DONE();
}
