/*
 * address.c - USPS Publication 28 address normalizer and addr_hash.
 *
 * Pure C (no postgres.h): buffers and lengths in, EcAddrStatus out.  See
 * address.h for the canonical form.
 *
 * How a part is read:
 *
 * 1. Tokenize: validate UTF-8, upper-case ASCII, fold Latin-1 letters to
 *	  ASCII (E-acute -> E), drop apostrophes, drop the dots of initials
 *	  ("P.O." -> PO, "N.W." -> NW), make '#' and '&' tokens of their own, and
 *	  split on everything else.  Hyphens are kept only inside a house number
 *	  ("123-45", Queens); elsewhere they split words.
 * 2. Street line: rewrite ordinal words (TWENTY FIRST -> 21ST) and post
 *	  office boxes, find where the secondary unit starts (an Appendix C2
 *	  designator that is followed by a range, or '#'), then read the rest
 *	  from the right: a bare trailing range after a suffix ("MAIN ST 4"), the
 *	  post-directional, the suffix (only the last word, and only with a name
 *	  before it: "123 PARK" is a street named PARK), the pre-directional
 *	  (only with a name after it: "123 N ST" is a street named N).  Highway
 *	  names keep their number and spell the road word out (HWY 66 ->
 *	  HIGHWAY 66, CR 12 -> COUNTY ROAD 12), as Publication 28 does.
 * 3. Unit: see address.h ("#" groups).
 *
 * Normalization repeats the pass on its own output until nothing changes (at
 * most four times; one is the rule), so the result is a fixed point and
 * normalize(normalize(x)) = normalize(x) holds by construction; the fuzz
 * harness checks it.
 */
#include "core/address.h"
#include "core/hmacsha256.h"
#include "core/usps_tables.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/sha.h>

#define EC_MAX_TOKENS	(EC_ADDR_INPUT_MAX + 8)
#define EC_WORK_MAX		(4 * EC_ADDR_INPUT_MAX)

typedef struct Tok
{
	const char *s;
	size_t		len;
} Tok;

typedef struct TokList
{
	char		buf[2 * EC_ADDR_INPUT_MAX + 64];
	size_t		used;
	Tok			t[EC_MAX_TOKENS];
	int			n;
} TokList;

/* a bounded string builder; overflow is sticky */
typedef struct Out
{
	char	   *buf;
	size_t		cap;			/* bytes usable, excluding the NUL */
	size_t		len;
	bool		overflow;
} Out;

static void
OutInit(Out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->overflow = false;
	buf[0] = '\0';
}

static void
OutBytes(Out *o, const char *s, size_t len)
{
	if (o->overflow || len > o->cap - o->len)
	{
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, len);
	o->len += len;
	o->buf[o->len] = '\0';
}

/* append a word, with one space before it unless it is the first */
static void
OutWord(Out *o, const char *s, size_t len)
{
	if (len == 0)
		return;
	if (o->len > 0)
		OutBytes(o, " ", 1);
	OutBytes(o, s, len);
}

static void
OutWordZ(Out *o, const char *s)
{
	OutWord(o, s, strlen(s));
}

static inline bool
IsDigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
IsAlpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline bool
IsAlnum(unsigned char c)
{
	return IsDigit(c) || IsAlpha(c);
}

/* a token equal to a NUL-terminated word; stops at the first difference */
static inline bool
TokIs(Tok t, const char *word)
{
	size_t		i;

	for (i = 0; i < t.len; i++)
		if (word[i] == '\0' || word[i] != t.s[i])
			return false;
	return word[t.len] == '\0';
}

static bool
TokHasDigit(Tok t)
{
	size_t		i;

	for (i = 0; i < t.len; i++)
		if (IsDigit((unsigned char) t.s[i]))
			return true;
	return false;
}

/* 1/2, 3/4: the fraction of a house number */
static bool
TokIsFraction(Tok t)
{
	const char *slash = memchr(t.s, '/', t.len);

	return slash != NULL && IsDigit((unsigned char) t.s[0]);
}

/*
 * Decode one UTF-8 sequence at s (len bytes available).  Returns its length
 * and sets *cp, or 0 when the bytes are not valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included).
 */
static size_t
Utf8Decode(const unsigned char *s, size_t len, unsigned int *cp)
{
	unsigned int c = s[0];
	size_t		n,
				i;
	unsigned int min;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		c &= 0x1F;
		min = 0x80;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		c &= 0x0F;
		min = 0x800;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		c &= 0x07;
		min = 0x10000;
	}
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

/* ASCII spelling of a Latin-1 letter U+00C0..U+00FF; NULL for x and / */
static const char *
Latin1Fold(unsigned int cp)
{
	static const char *const fold[64] = {
		"A", "A", "A", "A", "A", "A", "AE", "C",	/* C0-C7 */
		"E", "E", "E", "E", "I", "I", "I", "I", /* C8-CF */
		"D", "N", "O", "O", "O", "O", "O", NULL,	/* D0-D7 */
		"O", "U", "U", "U", "U", "Y", "TH", "SS",	/* D8-DF */
		"A", "A", "A", "A", "A", "A", "AE", "C",	/* E0-E7 */
		"E", "E", "E", "E", "I", "I", "I", "I", /* E8-EF */
		"D", "N", "O", "O", "O", "O", "O", NULL,	/* F0-F7 */
		"O", "U", "U", "U", "U", "Y", "TH", "Y" /* F8-FF */
	};

	return fold[cp - 0xC0];
}

typedef struct Tokenizer
{
	TokList    *tl;
	size_t		start;			/* offset in tl->buf of the current token */
	size_t		len;			/* its length so far */
	bool		house_hyphen;	/* keep '-' inside a leading house number */
} Tokenizer;

static void
TokEnd(Tokenizer *z)
{
	if (z->len > 0 && z->tl->n < EC_MAX_TOKENS)
	{
		z->tl->t[z->tl->n].s = z->tl->buf + z->start;
		z->tl->t[z->tl->n].len = z->len;
		z->tl->n++;
	}
	z->start = z->tl->used;
	z->len = 0;
}

static void
TokAppend(Tokenizer *z, const char *s, size_t len)
{
	if (z->tl->used + len > sizeof(z->tl->buf))
		return;					/* cannot happen: output <= input bytes */
	memcpy(z->tl->buf + z->tl->used, s, len);
	z->tl->used += len;
	z->len += len;
}

static void
TokSingle(Tokenizer *z, const char *s)
{
	TokEnd(z);
	TokAppend(z, s, strlen(s));
	TokEnd(z);
}

/* handle a hyphen; next is the following input byte or 0 */
static void
TokHyphen(Tokenizer *z, unsigned char next)
{
	const char *cur = z->tl->buf + z->start;

	if (z->house_hyphen && z->tl->n == 0 && z->len > 0 &&
		IsDigit((unsigned char) cur[0]) &&
		IsAlnum((unsigned char) cur[z->len - 1]) && IsAlnum(next))
		TokAppend(z, "-", 1);
	else
		TokEnd(z);
}

static EcAddrStatus
Tokenize(const char *in, size_t len, TokList *tl, bool house_hyphen)
{
	Tokenizer	z;
	size_t		i = 0;

	tl->n = 0;
	tl->used = 0;
	z.tl = tl;
	z.start = 0;
	z.len = 0;
	z.house_hyphen = house_hyphen;

	while (i < len)
	{
		unsigned char c = (unsigned char) in[i];
		unsigned char next = (i + 1 < len) ? (unsigned char) in[i + 1] : 0;

		if (c < 0x80)
		{
			i++;
			if (IsAlnum(c))
			{
				char		u = (c >= 'a' && c <= 'z') ? (char) (c - 32) : (char) c;

				TokAppend(&z, &u, 1);
			}
			else if (c == '#')
				TokSingle(&z, "#");
			else if (c == '&')
				TokSingle(&z, "&");
			else if (c == '\'' || c == '`')
				;				/* O'BRIEN -> OBRIEN */
			else if (c == '.')
			{
				/* the dot of an initial joins: P.O. -> PO, N.W. -> NW */
				if (!(z.len == 1 && IsAlpha((unsigned char) tl->buf[z.start])))
					TokEnd(&z);
			}
			else if (c == '-')
				TokHyphen(&z, next);
			else if (c == '/' && z.len > 0 &&
					 IsDigit((unsigned char) tl->buf[z.start + z.len - 1]) &&
					 IsDigit(next))
				TokAppend(&z, "/", 1);
			else
				TokEnd(&z);
		}
		else
		{
			unsigned int cp;
			size_t		n = Utf8Decode((const unsigned char *) in + i, len - i, &cp);

			if (n == 0)
				return EC_ADDR_BAD_UTF8;
			i += n;
			next = (i < len) ? (unsigned char) in[i] : 0;
			if (cp >= 0xC0 && cp <= 0xFF)
			{
				const char *f = Latin1Fold(cp);

				if (f)
					TokAppend(&z, f, strlen(f));
				else
					TokEnd(&z);
			}
			else if (cp < 0xC0)
				TokEnd(&z);		/* C1 controls, NBSP, Latin-1 symbols */
			else if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC)
				;				/* typographic apostrophes */
			else if (cp >= 0x2010 && cp <= 0x2015)
				TokHyphen(&z, next);
			else if ((cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 ||
					 cp == 0xFEFF)
				TokEnd(&z);		/* general punctuation and spaces */
			else
				TokAppend(&z, in + i - n, n);	/* any other letter, kept */
		}
	}
	TokEnd(&z);
	return EC_ADDR_OK;
}

/* remove token i from the list */
static void
TokDelete(TokList *tl, int i)
{
	memmove(&tl->t[i], &tl->t[i + 1], sizeof(Tok) * (size_t) (tl->n - i - 1));
	tl->n--;
}

/* store a generated word in the list's buffer; returns false when full */
static bool
TokSet(TokList *tl, int i, const char *s, size_t len)
{
	if (tl->used + len > sizeof(tl->buf))
		return false;
	memcpy(tl->buf + tl->used, s, len);
	tl->t[i].s = tl->buf + tl->used;
	tl->t[i].len = len;
	tl->used += len;
	return true;
}

/* ---------------------------------------------------------------------
 * Word classes
 * --------------------------------------------------------------------- */

static const char *
DirectionalStd(Tok t)
{
	static const EcWordMap dirs[] = {
		{"E", "E"}, {"EAST", "E"}, {"N", "N"}, {"NE", "NE"},
		{"NORTH", "N"}, {"NORTHEAST", "NE"}, {"NORTHWEST", "NW"},
		{"NW", "NW"}, {"S", "S"}, {"SE", "SE"}, {"SOUTH", "S"},
		{"SOUTHEAST", "SE"}, {"SOUTHWEST", "SW"}, {"SW", "SW"},
		{"W", "W"}, {"WEST", "W"}
	};

	return EcWordMapLookup(dirs, sizeof(dirs) / sizeof(dirs[0]), t.s, t.len);
}

/* NORTH WEST, N W -> NW; NULL when a and b do not make one */
static const char *
DirectionalPair(Tok a, Tok b)
{
	const char *x = DirectionalStd(a);
	const char *y = DirectionalStd(b);

	if (x == NULL || y == NULL || x[1] != '\0' || y[1] != '\0')
		return NULL;
	if (x[0] == 'N')
		return y[0] == 'E' ? "NE" : y[0] == 'W' ? "NW" : NULL;
	if (x[0] == 'S')
		return y[0] == 'E' ? "SE" : y[0] == 'W' ? "SW" : NULL;
	return NULL;
}

static const char *
SuffixStd(Tok t)
{
	return EcWordMapLookup(ec_usps_suffixes, ec_usps_suffixes_count, t.s, t.len);
}

/* the road word of a numbered highway, spelled out */
static const char *
HighwayStd(Tok t)
{
	static const EcWordMap hw[] = {
		{"CR", "COUNTY ROAD"}, {"HIGHWAY", "HIGHWAY"}, {"HIGHWY", "HIGHWAY"},
		{"HIWAY", "HIGHWAY"}, {"HIWY", "HIGHWAY"}, {"HWAY", "HIGHWAY"},
		{"HWY", "HIGHWAY"}, {"RD", "ROAD"}, {"ROAD", "ROAD"},
		{"ROUTE", "ROUTE"}, {"RT", "ROUTE"}, {"RTE", "ROUTE"}
	};

	return EcWordMapLookup(hw, sizeof(hw) / sizeof(hw[0]), t.s, t.len);
}

/* a word before a highway's road word: COUNTY ROAD, STATE ROUTE */
static const char *
HighwayPrefixStd(Tok t)
{
	static const EcWordMap hp[] = {
		{"CNTY", "COUNTY"}, {"CO", "COUNTY"}, {"COUNTY", "COUNTY"},
		{"ST", "STATE"}, {"STATE", "STATE"}
	};

	return EcWordMapLookup(hp, sizeof(hp) / sizeof(hp[0]), t.s, t.len);
}

/* name words spelled out when another name word follows (ST JAMES) */
static const char *
NameWordStd(Tok t)
{
	static const EcWordMap nw[] = {
		{"FT", "FORT"}, {"MT", "MOUNT"}, {"ST", "SAINT"}
	};

	return EcWordMapLookup(nw, sizeof(nw) / sizeof(nw[0]), t.s, t.len);
}

/* a word that can be a secondary range: 4, 4B, B, or a spelled direction */
static bool
TokIsRange(Tok t)
{
	if (TokHasDigit(t))
		return true;
	if (t.len == 1 && IsAlpha((unsigned char) t.s[0]))
		return true;
	if (TokIs(t, "#"))
		return true;
	return DirectionalStd(t) != NULL;
}

/* ---------------------------------------------------------------------
 * Ordinal words and post office boxes
 * --------------------------------------------------------------------- */

static int
OrdinalUnit(Tok t)
{
	static const char *const units[] = {
		"FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH",
		"EIGHTH", "NINTH", "TENTH", "ELEVENTH", "TWELFTH", "THIRTEENTH",
		"FOURTEENTH", "FIFTEENTH", "SIXTEENTH", "SEVENTEENTH", "EIGHTEENTH",
		"NINETEENTH", "TWENTIETH", "THIRTIETH", "FORTIETH", "FIFTIETH",
		"SIXTIETH", "SEVENTIETH", "EIGHTIETH", "NINETIETH"
	};
	int			i;

	for (i = 0; i < 27; i++)
		if (TokIs(t, units[i]))
			return i < 19 ? i + 1 : (i - 19 + 2) * 10;
	return 0;
}

static int
TensWord(Tok t)
{
	static const char *const tens[] = {
		"TWENTY", "THIRTY", "FORTY", "FIFTY", "SIXTY", "SEVENTY", "EIGHTY",
		"NINETY"
	};
	int			i;

	for (i = 0; i < 8; i++)
		if (TokIs(t, tens[i]))
			return (i + 2) * 10;
	return 0;
}

static bool
SetOrdinal(TokList *tl, int i, int n)
{
	char		buf[8];
	int			len = 0;
	const char *sfx;

	if (n >= 10)
		buf[len++] = (char) ('0' + n / 10);
	buf[len++] = (char) ('0' + n % 10);
	if (n % 100 >= 11 && n % 100 <= 13)
		sfx = "TH";
	else if (n % 10 == 1)
		sfx = "ST";
	else if (n % 10 == 2)
		sfx = "ND";
	else if (n % 10 == 3)
		sfx = "RD";
	else
		sfx = "TH";
	buf[len++] = sfx[0];
	buf[len++] = sfx[1];
	return TokSet(tl, i, buf, (size_t) len);
}

/* FIRST -> 1ST, TWENTY FIRST -> 21ST; P O BOX, POST OFFICE BOX -> PO BOX */
static bool
RewriteWords(TokList *tl)
{
	int			i;

	for (i = 0; i < tl->n; i++)
	{
		int			tens = TensWord(tl->t[i]);
		int			unit = OrdinalUnit(tl->t[i]);

		if (tens && i + 1 < tl->n)
		{
			int			u = OrdinalUnit(tl->t[i + 1]);

			if (u >= 1 && u <= 9)
			{
				if (!SetOrdinal(tl, i, tens + u))
					return false;
				TokDelete(tl, i + 1);
				continue;
			}
		}
		if (unit && !SetOrdinal(tl, i, unit))
			return false;
	}

	if (tl->n >= 3 && TokIs(tl->t[0], "P") && TokIs(tl->t[1], "O") &&
		TokIs(tl->t[2], "BOX"))
	{
		tl->t[0].s = "PO";
		tl->t[0].len = 2;
		TokDelete(tl, 1);
	}
	else if (tl->n >= 3 && TokIs(tl->t[0], "POST") &&
			 TokIs(tl->t[1], "OFFICE") && TokIs(tl->t[2], "BOX"))
	{
		tl->t[0].s = "PO";
		tl->t[0].len = 2;
		TokDelete(tl, 1);
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Secondary units
 * --------------------------------------------------------------------- */

typedef struct UnitBuilder
{
	Out			out;			/* groups written so far, space-separated */
	size_t		goff[EC_MAX_TOKENS];	/* where each written group starts */
	size_t		glen[EC_MAX_TOKENS];
	int			ngroups;
	char		group[EC_WORK_MAX + 1];
	Out			g;				/* the group being read */
	bool		open;			/* a group is open */
	bool		has_id;			/* the open group has a range */
	bool		force_id;		/* the next word is a range (after '#') */
} UnitBuilder;

static void
UnitFlush(UnitBuilder *ub)
{
	int			i;

	if (!ub->open)
		return;
	ub->open = false;
	if (ub->g.buf[0] == '#' && !ub->has_id)
		return;					/* a designator with no range says nothing */
	if (ub->g.overflow)
	{
		ub->out.overflow = true;
		return;
	}
	if (ub->has_id)
	{
		/* leading zeros of a number: APT 04 = APT 4 */
		char	   *id = strchr(ub->g.buf, ' ') + 1;
		size_t		skip = 0;

		while (id[skip] == '0' && IsDigit((unsigned char) id[skip + 1]))
			skip++;
		if (skip > 0)
		{
			memmove(id, id + skip, strlen(id + skip) + 1);
			ub->g.len -= skip;
		}
	}

	/* skip a group already present: APT 4 in line1 and again in line2 */
	for (i = 0; i < ub->ngroups; i++)
		if (ub->glen[i] == ub->g.len &&
			memcmp(ub->out.buf + ub->goff[i], ub->g.buf, ub->g.len) == 0)
			return;
	if (ub->ngroups == EC_MAX_TOKENS)
	{
		ub->out.overflow = true;
		return;
	}
	OutWord(&ub->out, ub->g.buf, ub->g.len);
	ub->goff[ub->ngroups] = ub->out.len - ub->g.len;
	ub->glen[ub->ngroups] = ub->g.len;
	ub->ngroups++;
}

static void
UnitOpen(UnitBuilder *ub, const char *designator)
{
	UnitFlush(ub);
	OutInit(&ub->g, ub->group, EC_WORK_MAX);
	OutBytes(&ub->g, designator, strlen(designator));
	ub->open = true;
	ub->has_id = false;
}

static void
UnitWord(UnitBuilder *ub, Tok t)
{
	const EcUnitDesignator *d;
	size_t		i;

	if (TokIs(t, "#"))
	{
		UnitOpen(ub, "#");
		ub->force_id = true;
		return;
	}
	if (!ub->force_id && (d = EcUnitLookup(t.s, t.len)) != NULL)
	{
		UnitOpen(ub, d->ranged ? "#" : d->std);
		return;
	}
	ub->force_id = false;
	if (!ub->open)
		UnitOpen(ub, "#");
	if (!ub->has_id)
	{
		OutBytes(&ub->g, " ", 1);
		ub->has_id = true;
	}
	for (i = 0; i < t.len; i++)
		if (t.s[i] != '-')
			OutBytes(&ub->g, t.s + i, 1);
}

/* ---------------------------------------------------------------------
 * The street line
 * --------------------------------------------------------------------- */

/* where the secondary unit starts in the line's tokens (n when none) */
static int
FindUnitStart(const TokList *tl)
{
	const Tok  *T = tl->t;
	int			n = tl->n;
	int			i;

	for (i = 0; i < n; i++)
	{
		const EcUnitDesignator *d;

		if (TokIs(T[i], "#"))
			return i;
		d = EcUnitLookup(T[i].s, T[i].len);
		if (d == NULL)
			continue;
		if (d->ranged)
		{
			if (i >= 2 && i + 1 < n && TokIsRange(T[i + 1]))
				return i;
			if (i >= 3 && i == n - 1 &&
				(SuffixStd(T[i - 1]) || DirectionalStd(T[i - 1])))
				return i;
		}
		else if (i >= 3 && (SuffixStd(T[i - 1]) || DirectionalStd(T[i - 1])) &&
				 (i == n - 1 || TokIsRange(T[i + 1]) ||
				  EcUnitLookup(T[i + 1].s, T[i + 1].len)))
			return i;
	}
	return n;
}

static EcAddrStatus
ParseLine(TokList *tl, Out *line, UnitBuilder *ub)
{
	Tok		   *T;
	int			n,
				u,
				h = 0,
				m,
				k,
				p0 = 0,
				j;
	Tok		   *S;
	const char *postdir = NULL,
			   *predir = NULL,
			   *suffix = NULL;
	bool		highway = false;
	Tok			bare = {NULL, 0};

	if (!RewriteWords(tl))
		return EC_ADDR_TOO_LONG;
	T = tl->t;
	n = tl->n;
	u = FindUnitStart(tl);

	/* house number, with its fraction */
	if (u > 0 && IsDigit((unsigned char) T[0].s[0]))
	{
		h = 1;
		while (T[0].len > 1 && T[0].s[0] == '0' && IsDigit((unsigned char) T[0].s[1]))
		{
			T[0].s++;
			T[0].len--;
		}
		if (h < u && TokIsFraction(T[1]))
			h = 2;
	}
	S = T + h;
	m = u - h;

	/* a bare range after the suffix: 123 MAIN ST 4 */
	if (m >= 3 && TokHasDigit(S[m - 1]) && !TokIsFraction(S[m - 1]))
	{
		if ((SuffixStd(S[m - 2]) && !HighwayStd(S[m - 2])) ||
			(m >= 4 && DirectionalStd(S[m - 2]) && SuffixStd(S[m - 3]) &&
			 !HighwayStd(S[m - 3])))
		{
			bare = S[m - 1];
			m--;
		}
	}

	/* post-directional */
	if (m >= 3 && (postdir = DirectionalPair(S[m - 2], S[m - 1])) != NULL)
		m -= 2;
	else if (m >= 2 && (postdir = DirectionalStd(S[m - 1])) != NULL)
		m -= 1;

	/* suffix, or a numbered highway */
	k = m;
	if (m >= 2 && IsDigit((unsigned char) S[m - 1].s[0]) && HighwayStd(S[m - 2]))
		highway = true;
	else if (m >= 2 && (suffix = SuffixStd(S[m - 1])) != NULL)
		k = m - 1;

	/* pre-directional */
	if (k >= 3 && (predir = DirectionalPair(S[0], S[1])) != NULL)
		p0 = 2;
	else if (k >= 2 && (predir = DirectionalStd(S[0])) != NULL)
		p0 = 1;

	for (j = 0; j < h; j++)
		OutWord(line, T[j].s, T[j].len);
	if (predir)
		OutWordZ(line, predir);
	for (j = p0; j < k; j++)
	{
		const char *w = NULL;

		if (highway && j == k - 2)
			w = HighwayStd(S[j]);
		else if (highway && j == k - 3)
			w = HighwayPrefixStd(S[j]);
		if (w == NULL && j < k - 1)
			w = NameWordStd(S[j]);
		if (w)
			OutWordZ(line, w);
		else
			OutWord(line, S[j].s, S[j].len);
	}
	if (suffix)
		OutWordZ(line, suffix);
	if (postdir)
		OutWordZ(line, postdir);

	/* the unit: designators in the line, then the bare range */
	for (j = u; j < n; j++)
		UnitWord(ub, T[j]);
	if (bare.len > 0)
	{
		UnitFlush(ub);
		ub->force_id = false;
		UnitWord(ub, bare);
	}
	UnitFlush(ub);
	ub->force_id = false;

	return line->overflow ? EC_ADDR_TOO_LONG : EC_ADDR_OK;
}

/* line2: a unit; a bare range gets an implied '#' */
static void
ParseUnit(const TokList *tl, UnitBuilder *ub)
{
	int			j;

	UnitFlush(ub);
	ub->force_id = false;
	for (j = 0; j < tl->n; j++)
		UnitWord(ub, tl->t[j]);
	UnitFlush(ub);
	ub->force_id = false;
}

/* ---------------------------------------------------------------------
 * City, state, ZIP
 * --------------------------------------------------------------------- */

static void
ParseCity(const TokList *tl, Out *city)
{
	static const EcWordMap lead[] = {
		{"E", "EAST"}, {"N", "NORTH"}, {"S", "SOUTH"}, {"W", "WEST"}
	};
	static const EcWordMap words[] = {
		{"FT", "FORT"}, {"MT", "MOUNT"}, {"PT", "POINT"}, {"ST", "SAINT"},
		{"STE", "SAINTE"}
	};
	int			j;

	for (j = 0; j < tl->n; j++)
	{
		Tok			t = tl->t[j];
		const char *w = NULL;

		if (j == 0 && tl->n >= 2)
			w = EcWordMapLookup(lead, 4, t.s, t.len);
		if (w == NULL && j < tl->n - 1)
			w = EcWordMapLookup(words, 5, t.s, t.len);
		if (w)
			OutWordZ(city, w);
		else
			OutWord(city, t.s, t.len);
	}
}

static void
ParseState(const TokList *tl, Out *state, unsigned int *flags)
{
	char		key[EC_WORK_MAX + 1];
	Out			k;
	int			j;
	const char *code;

	OutInit(&k, key, EC_WORK_MAX);
	for (j = 0; j < tl->n; j++)
		OutWord(&k, tl->t[j].s, tl->t[j].len);
	if (k.len == 0)
		return;
	code = k.overflow ? NULL :
		EcWordMapLookup(ec_usps_states, ec_usps_states_count, k.buf, k.len);
	if (code)
		OutWordZ(state, code);
	else
	{
		*flags |= EC_ADDR_WARN_STATE;
		OutWord(state, k.buf, k.len);
		if (k.overflow)
			state->overflow = true;
	}
}

static void
ParseZip(const char *in, size_t len, char zip5[6], unsigned int *flags)
{
	char		d[10];
	size_t		nd = 0,
				i,
				pad;

	zip5[0] = '\0';
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) in[i];

		if (IsDigit(c))
		{
			if (nd == sizeof(d))
			{
				nd = 0;
				break;
			}
			d[nd++] = (char) c;
		}
		else if (c != '-' && c != ' ' && c != '\t')
		{
			nd = 0;
			break;
		}
	}
	if (nd == 0)
	{
		for (i = 0; i < len; i++)
			if (in[i] != ' ' && in[i] != '\t')
			{
				*flags |= EC_ADDR_WARN_ZIP;
				break;
			}
		return;
	}
	/* 5 or 9 digits; 3-4 or 7-8 lost leading zeros in a spreadsheet */
	if (nd == 5 || nd == 9)
		pad = 0;
	else if (nd == 3 || nd == 4)
		pad = 5 - nd;
	else if (nd == 7 || nd == 8)
		pad = 9 - nd;
	else
	{
		*flags |= EC_ADDR_WARN_ZIP;
		return;
	}
	for (i = 0; i < 5; i++)
		zip5[i] = i < pad ? '0' : d[i - pad];
	zip5[5] = '\0';
}

/* ---------------------------------------------------------------------
 * One pass and the fixed point
 * --------------------------------------------------------------------- */

typedef struct Work
{
	TokList		tl;
	UnitBuilder ub;
	char		unitbuf[EC_WORK_MAX + 1];
	char		linebuf[EC_WORK_MAX + 1];
	char		citybuf[EC_WORK_MAX + 1];
	char		statebuf[EC_WORK_MAX + 1];
} Work;

static EcAddrStatus
CopyField(char *dst, const Out *o)
{
	if (o->overflow || o->len > EC_ADDR_FIELD_MAX)
		return EC_ADDR_TOO_LONG;
	memcpy(dst, o->buf, o->len + 1);
	return EC_ADDR_OK;
}

static EcAddrStatus
NormalizePass(Work *w,
			  const char *line1, size_t line1_len,
			  const char *line2, size_t line2_len,
			  const char *city, size_t city_len,
			  const char *state, size_t state_len,
			  const char *zip, size_t zip_len,
			  EcAddress *out)
{
	EcAddrStatus st;
	Out			line,
				c,
				s;

	memset(out, 0, sizeof(*out));
	OutInit(&line, w->linebuf, EC_WORK_MAX);
	OutInit(&w->ub.out, w->unitbuf, EC_WORK_MAX);
	w->ub.open = false;
	w->ub.force_id = false;
	w->ub.ngroups = 0;

	if ((st = Tokenize(line1, line1_len, &w->tl, true)) != EC_ADDR_OK)
		return st;
	if ((st = ParseLine(&w->tl, &line, &w->ub)) != EC_ADDR_OK)
		return st;
	if ((st = Tokenize(line2, line2_len, &w->tl, false)) != EC_ADDR_OK)
		return st;
	ParseUnit(&w->tl, &w->ub);

	OutInit(&c, w->citybuf, EC_WORK_MAX);
	if ((st = Tokenize(city, city_len, &w->tl, false)) != EC_ADDR_OK)
		return st;
	ParseCity(&w->tl, &c);

	OutInit(&s, w->statebuf, EC_WORK_MAX);
	if ((st = Tokenize(state, state_len, &w->tl, false)) != EC_ADDR_OK)
		return st;
	ParseState(&w->tl, &s, &out->flags);

	ParseZip(zip, zip_len, out->zip5, &out->flags);

	if ((st = CopyField(out->line, &line)) != EC_ADDR_OK ||
		(st = CopyField(out->unit, &w->ub.out)) != EC_ADDR_OK ||
		(st = CopyField(out->city, &c)) != EC_ADDR_OK ||
		(st = CopyField(out->state, &s)) != EC_ADDR_OK)
		return st;
	if (out->line[0] == '\0')
		return EC_ADDR_EMPTY;
	return EC_ADDR_OK;
}

/* ---------------------------------------------------------------------
 * A whole address in line 1
 *
 * "123 Main St, Tampa, FL 33606" or "123 Main St Apt 4, Tampa FL 33606",
 * as a web form or a one-column spreadsheet gives it, with no city, state
 * or ZIP of its own: read from the end, at the commas.  The last segment
 * ends with the ZIP (5 digits, 9, or 5-4), if any, and before it the state
 * (a code or a name, up to three words); the city is what precedes the
 * state in that segment, or else the whole segment before it ("..., FL,
 * 33606" too).  The street is the rest.  A city that starts with a digit,
 * '#' or a unit designator is not one ("123 Main St, Apt 4, FL 33606",
 * "123 Main St, Apt IN"): no split, and the line is read as a street line,
 * as before.
 * --------------------------------------------------------------------- */

static bool
IsBlank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static EcSpan
Trim(const char *s, size_t len)
{
	EcSpan		r;

	while (len > 0 && IsBlank((unsigned char) s[0]))
		s++, len--;
	while (len > 0 && IsBlank((unsigned char) s[len - 1]))
		len--;
	r.s = s;
	r.len = len;
	return r;
}

/* the position of the last comma in s[0..len), or -1 */
static long
LastComma(const char *s, size_t len)
{
	while (len > 0)
		if (s[--len] == ',')
			return (long) len;
	return -1;
}

/* the last blank-separated word of a trimmed span */
static EcSpan
LastWord(EcSpan sp)
{
	size_t		i = sp.len;

	while (i > 0 && !IsBlank((unsigned char) sp.s[i - 1]))
		i--;
	return (EcSpan) {sp.s + i, sp.len - i};
}

static bool
IsZipWord(EcSpan w)
{
	size_t		i,
				nd = 0;

	for (i = 0; i < w.len; i++)
	{
		if (IsDigit((unsigned char) w.s[i]))
			nd++;
		else if (!(w.s[i] == '-' && i == 5))
			return false;
	}
	return (nd == 5 && w.len == 5) || (nd == 9 && w.len >= 9);
}

/* a state code or name (up to three words) ending the trimmed span */
static bool
StateAtEnd(EcSpan sp, EcSpan *state)
{
	EcSpan		words[3];
	int			n = 0,
				k;
	EcSpan		rest = sp;

	while (n < 3 && rest.len > 0)
	{
		words[n] = LastWord(rest);
		rest = Trim(rest.s, (size_t) (words[n].s - rest.s));
		n++;
	}
	for (k = n; k >= 1; k--)
	{
		char		key[40];
		size_t		klen = 0;
		int			j;
		bool		fits = true;

		for (j = k - 1; j >= 0 && fits; j--)
		{
			size_t		i;

			if (klen > 0)
				key[klen++] = ' ';
			if (klen + words[j].len >= sizeof(key))
				fits = false;
			for (i = 0; fits && i < words[j].len; i++)
			{
				unsigned char c = (unsigned char) words[j].s[i];

				/* "Fla.", "Calif.": abbreviations keep no period */
				if (c != '.')
					key[klen++] = (char) ((c >= 'a' && c <= 'z') ? c - 32 : c);
			}
		}
		if (fits && EcWordMapLookup(ec_usps_states, ec_usps_states_count, key, klen) != NULL)
		{
			state->s = words[k - 1].s;
			state->len = (size_t) (sp.s + sp.len - words[k - 1].s);
			return true;
		}
	}
	return false;
}

/* whether a city span reads as a unit or a number instead */
static bool
NotACity(EcSpan city)
{
	EcSpan		first = city;
	size_t		i;

	for (i = 0; i < city.len; i++)
		if (IsBlank((unsigned char) city.s[i]))
		{
			first.len = i;
			break;
		}
	if (city.len == 0 || IsDigit((unsigned char) city.s[0]) || city.s[0] == '#')
		return true;
	{
		char		key[16];

		if (first.len >= sizeof(key))
			return false;
		for (i = 0; i < first.len; i++)
		{
			unsigned char c = (unsigned char) first.s[i];

			key[i] = (char) ((c >= 'a' && c <= 'z') ? c - 32 : c);
		}
		return EcUnitLookup(key, first.len) != NULL;
	}
}

bool
EcAddressSplitLine(const char *line, size_t len, EcSpan *street, EcSpan *city,
				   EcSpan *state, EcSpan *zip)
{
	long		c1 = LastComma(line, len);
	EcSpan		tail,
				w,
				rest;

	if (c1 < 0)
		return false;
	tail = Trim(line + c1 + 1, len - (size_t) c1 - 1);
	w = LastWord(tail);
	zip->s = NULL;
	zip->len = 0;
	if (w.len > 0 && IsZipWord(w))
	{
		*zip = w;
		tail = Trim(tail.s, (size_t) (w.s - tail.s));
		if (tail.len == 0)
		{
			/* "..., FL, 33606": the state is the segment before */
			long		c = LastComma(line, (size_t) c1);

			if (c < 0)
				return false;
			tail = Trim(line + c + 1, (size_t) (c1 - c - 1));
			c1 = c;
		}
	}
	if (tail.len == 0 || !StateAtEnd(tail, state))
		return false;
	rest = Trim(tail.s, (size_t) (state->s - tail.s));
	if (rest.len > 0)
	{
		*city = rest;
		*street = Trim(line, (size_t) c1);
	}
	else
	{
		long		c0 = LastComma(line, (size_t) c1);

		if (c0 < 0)
			return false;
		*city = Trim(line + c0 + 1, (size_t) (c1 - c0 - 1));
		*street = Trim(line, (size_t) c0);
	}
	return street->len > 0 && !NotACity(*city);
}

static bool
AddressEqual(const EcAddress *a, const EcAddress *b)
{
	return strcmp(a->line, b->line) == 0 && strcmp(a->unit, b->unit) == 0 &&
		strcmp(a->city, b->city) == 0 && strcmp(a->state, b->state) == 0 &&
		strcmp(a->zip5, b->zip5) == 0;
}

static size_t
NulLen(const char *s, size_t len)
{
	return s ? len : 0;
}

/* whether an input field (len bytes) is the output field out */
static bool
SameField(const char *in, size_t len, const char *out)
{
	return strlen(out) == len && (len == 0 || memcmp(in, out, len) == 0);
}

EcAddrStatus
EcAddressNormalize(const char *line1, size_t line1_len,
				   const char *line2, size_t line2_len,
				   const char *city, size_t city_len,
				   const char *state, size_t state_len,
				   const char *zip, size_t zip_len,
				   EcAddress *out)
{
	Work		w;
	EcAddress	next;
	EcAddrStatus st;
	int			i;

	memset(out, 0, sizeof(*out));
	line1_len = NulLen(line1, line1_len);
	line2_len = NulLen(line2, line2_len);
	city_len = NulLen(city, city_len);
	state_len = NulLen(state, state_len);
	zip_len = NulLen(zip, zip_len);
	if (line1_len > EC_ADDR_INPUT_MAX || line2_len > EC_ADDR_INPUT_MAX ||
		city_len > EC_ADDR_INPUT_MAX || state_len > EC_ADDR_INPUT_MAX ||
		zip_len > EC_ADDR_INPUT_MAX)
		return EC_ADDR_TOO_LONG;

	if (city_len == 0 && state_len == 0 && zip_len == 0)
	{
		EcSpan		sstreet,
					scity,
					sstate,
					szip;

		if (EcAddressSplitLine(line1, line1_len, &sstreet, &scity, &sstate, &szip))
		{
			line1 = sstreet.s;
			line1_len = sstreet.len;
			city = scity.s;
			city_len = scity.len;
			state = sstate.s;
			state_len = sstate.len;
			zip = szip.s;
			zip_len = szip.len;
		}
	}
	st = NormalizePass(&w, line1, line1_len, line2, line2_len, city, city_len,
					   state, state_len, zip, zip_len, out);

	/*
	 * A first pass that changed nothing is its own fixed point: the next
	 * pass would read the same bytes (an export already in USPS form).
	 */
	if (st == EC_ADDR_OK && SameField(line1, line1_len, out->line) &&
		SameField(line2, line2_len, out->unit) && SameField(city, city_len, out->city) &&
		SameField(state, state_len, out->state) && SameField(zip, zip_len, out->zip5))
		return st;
	for (i = 0; st == EC_ADDR_OK && i < 4; i++)
	{
		st = NormalizePass(&w, out->line, strlen(out->line),
						   out->unit, strlen(out->unit),
						   out->city, strlen(out->city),
						   out->state, strlen(out->state),
						   out->zip5, strlen(out->zip5), &next);
		if (st != EC_ADDR_OK)
			break;
		next.flags |= out->flags;
		if (AddressEqual(out, &next))
			break;
		*out = next;
	}
	if (st != EC_ADDR_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

size_t
EcAddressFormat(const EcAddress *addr, char *buf, size_t buflen)
{
	char		tmp[EC_ADDR_ONELINE_MAX + 1];
	Out			o;

	OutInit(&o, tmp, EC_ADDR_ONELINE_MAX);
	OutBytes(&o, addr->line, strlen(addr->line));
	if (addr->unit[0])
	{
		OutBytes(&o, " ", 1);
		OutBytes(&o, addr->unit, strlen(addr->unit));
	}
	OutBytes(&o, ", ", 2);
	OutBytes(&o, addr->city, strlen(addr->city));
	OutBytes(&o, ", ", 2);
	OutBytes(&o, addr->state, strlen(addr->state));
	if (addr->state[0] && addr->zip5[0])
		OutBytes(&o, " ", 1);
	OutBytes(&o, addr->zip5, strlen(addr->zip5));

	if (buflen > 0)
	{
		size_t		n = o.len < buflen - 1 ? o.len : buflen - 1;

		memcpy(buf, tmp, n);
		buf[n] = '\0';
	}
	return o.len;
}

EcAddrStatus
EcAddressHash(const EcAddress *addr, unsigned char hash[EC_ADDR_HASH_LEN])
{
	char		one[EC_ADDR_ONELINE_MAX + 1];
	size_t		len;

	if (addr->line[0] == '\0' ||
		(addr->zip5[0] == '\0' && (addr->city[0] == '\0' || addr->state[0] == '\0')))
		return EC_ADDR_INCOMPLETE;
	len = EcAddressFormat(addr, one, sizeof(one));
	/* the digest fetched once (ec_sha256); SHA256() fetches it per call */
	if (ec_sha256(one, len, hash) != 0)
		SHA256((const unsigned char *) one, len, hash);
	return EC_ADDR_OK;
}

const char *
EcAddrStatusReason(EcAddrStatus status)
{
	switch (status)
	{
		case EC_ADDR_OK:
			return "ok";
		case EC_ADDR_EMPTY:
			return "address_empty";
		case EC_ADDR_TOO_LONG:
			return "address_too_long";
		case EC_ADDR_BAD_UTF8:
			return "address_not_utf8";
		case EC_ADDR_INCOMPLETE:
			return "address_incomplete";
	}
	return "address_unknown_status";
}
