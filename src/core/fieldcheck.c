/*
 * fieldcheck.c - validate and clean one field of an uploaded lead
 *
 * See fieldcheck.h.  Reads nothing outside the given buffer, writes nothing
 * outside the documented output sizes, allocates nothing.
 */
#include "core/fieldcheck.h"

#include <string.h>

static inline bool
ec_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
ec_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline unsigned char
ec_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + ('a' - 'A')) : c;
}

static inline bool
ec_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void
ec_field_trim(const char **s, size_t *len)
{
	const unsigned char *p = (const unsigned char *) *s;
	size_t		n = *len;

	for (;;)
	{
		if (n > 0 && ec_is_space(p[0]))
		{
			p++;
			n--;
		}
		else if (n > 1 && p[0] == 0xC2 && p[1] == 0xA0)
		{
			p += 2;
			n -= 2;
		}
		else
			break;
	}
	for (;;)
	{
		if (n > 0 && ec_is_space(p[n - 1]))
			n--;
		else if (n > 1 && p[n - 2] == 0xC2 && p[n - 1] == 0xA0)
			n -= 2;
		else
			break;
	}
	*s = (const char *) p;
	*len = n;
}

/* Characters of an RFC 5322 atom (atext). */
static bool
ec_is_atext(unsigned char c)
{
	if (ec_is_alpha(c) || ec_is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

EcFieldStatus
ec_field_email(const char *s, size_t len, char out[EC_EMAIL_MAX + 1])
{
	const unsigned char *p;
	size_t		at = 0;
	size_t		i;
	size_t		ats = 0;
	size_t		label_start;
	size_t		labels = 0;
	size_t		last_label;

	out[0] = '\0';
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	if (len > EC_EMAIL_MAX)
		return EC_FIELD_INVALID;
	p = (const unsigned char *) s;
	for (i = 0; i < len; i++)
	{
		if (p[i] == '@')
		{
			ats++;
			at = i;
		}
	}
	if (ats != 1 || at == 0 || at > 64 || at + 1 >= len)
		return EC_FIELD_INVALID;

	/* local part: dot-atom */
	if (p[0] == '.' || p[at - 1] == '.')
		return EC_FIELD_INVALID;
	for (i = 0; i < at; i++)
	{
		if (p[i] == '.')
		{
			if (p[i + 1] == '.')
				return EC_FIELD_INVALID;
		}
		else if (!ec_is_atext(p[i]))
			return EC_FIELD_INVALID;
	}

	/* domain: LDH labels, at least two, alphabetic or xn-- top level */
	label_start = at + 1;
	last_label = label_start;
	for (i = at + 1; i <= len; i++)
	{
		if (i == len || p[i] == '.')
		{
			size_t		n = i - label_start;

			if (n == 0 || n > 63)
				return EC_FIELD_INVALID;
			if (p[label_start] == '-' || p[i - 1] == '-')
				return EC_FIELD_INVALID;
			labels++;
			last_label = label_start;
			label_start = i + 1;
		}
		else if (!(ec_is_alpha(p[i]) || ec_is_digit(p[i]) || p[i] == '-'))
			return EC_FIELD_INVALID;
	}
	if (labels < 2)
		return EC_FIELD_INVALID;
	{
		size_t		n = len - last_label;
		const unsigned char *t = p + last_label;
		bool		alpha = n >= 2;

		for (i = 0; i < n && alpha; i++)
			alpha = ec_is_alpha(t[i]);
		if (!alpha && !(n > 4 && ec_lower(t[0]) == 'x' && ec_lower(t[1]) == 'n' &&
						t[2] == '-' && t[3] == '-'))
			return EC_FIELD_INVALID;
	}

	for (i = 0; i < len; i++)
		out[i] = (char) ec_lower(p[i]);
	out[len] = '\0';
	return EC_FIELD_OK;
}

EcFieldStatus
ec_field_phone(const char *s, size_t len, char out[EC_PHONE_LEN + 1])
{
	const unsigned char *p;
	char		d[11];
	int			nd = 0;
	size_t		i;
	bool		plus = false;
	const char *n;

	out[0] = '\0';
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	p = (const unsigned char *) s;
	for (i = 0; i < len; i++)
	{
		unsigned char c = p[i];

		if (ec_is_digit(c))
		{
			if (nd == 11)
				return EC_FIELD_INVALID;
			d[nd++] = (char) c;
		}
		else if (c == '+')
		{
			/* only in front, and only as +1 */
			if (i != 0)
				return EC_FIELD_INVALID;
			plus = true;
		}
		else if (!(c == ' ' || c == '(' || c == ')' || c == '-' || c == '.' || c == '/'))
			return EC_FIELD_INVALID;	/* letters: an extension, a word */
	}
	if (nd == 11)
	{
		if (d[0] != '1')
			return EC_FIELD_INVALID;
		n = d + 1;
	}
	else if (nd == 10 && !plus)
		n = d;
	else
		return EC_FIELD_INVALID;

	/* NPA: [2-9][0-8][0-9], not N11; NXX: [2-9][0-9][0-9], not N11 */
	if (n[0] < '2' || n[1] == '9' || (n[1] == '1' && n[2] == '1'))
		return EC_FIELD_INVALID;
	if (n[3] < '2' || (n[4] == '1' && n[5] == '1'))
		return EC_FIELD_INVALID;
	out[0] = '+';
	out[1] = '1';
	memcpy(out + 2, n, 10);
	out[EC_PHONE_LEN] = '\0';
	return EC_FIELD_OK;
}

EcFieldStatus
ec_field_zip(const char *s, size_t len, char zip5[6], char zip4[5])
{
	const unsigned char *p;
	size_t		i;

	zip5[0] = '\0';
	zip4[0] = '\0';
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	p = (const unsigned char *) s;
	if (len != 5 && len != 9 && len != 10)
		return EC_FIELD_INVALID;
	for (i = 0; i < 5; i++)
	{
		if (!ec_is_digit(p[i]))
			return EC_FIELD_INVALID;
	}
	if (len == 10)
	{
		if (p[5] != '-' && p[5] != ' ')
			return EC_FIELD_INVALID;
		p++;					/* the digits of the +4 follow the separator */
	}
	if (len >= 9)
	{
		for (i = 5; i < 9; i++)
		{
			if (!ec_is_digit(p[i]))
				return EC_FIELD_INVALID;
		}
		memcpy(zip4, p + 5, 4);
		zip4[4] = '\0';
		p = (const unsigned char *) s;
	}
	if (memcmp(p, "00000", 5) == 0)
		return EC_FIELD_INVALID;
	memcpy(zip5, p, 5);
	zip5[5] = '\0';
	return EC_FIELD_OK;
}

/* USPS state and territory codes with their names (Publication 28, App. B). */
static const struct
{
	const char *code;
	const char *name;
}			ec_states[] =
{
	{"AL", "ALABAMA"}, {"AK", "ALASKA"}, {"AZ", "ARIZONA"}, {"AR", "ARKANSAS"},
	{"CA", "CALIFORNIA"}, {"CO", "COLORADO"}, {"CT", "CONNECTICUT"}, {"DE", "DELAWARE"},
	{"DC", "DISTRICT OF COLUMBIA"}, {"FL", "FLORIDA"}, {"GA", "GEORGIA"}, {"HI", "HAWAII"},
	{"ID", "IDAHO"}, {"IL", "ILLINOIS"}, {"IN", "INDIANA"}, {"IA", "IOWA"},
	{"KS", "KANSAS"}, {"KY", "KENTUCKY"}, {"LA", "LOUISIANA"}, {"ME", "MAINE"},
	{"MD", "MARYLAND"}, {"MA", "MASSACHUSETTS"}, {"MI", "MICHIGAN"}, {"MN", "MINNESOTA"},
	{"MS", "MISSISSIPPI"}, {"MO", "MISSOURI"}, {"MT", "MONTANA"}, {"NE", "NEBRASKA"},
	{"NV", "NEVADA"}, {"NH", "NEW HAMPSHIRE"}, {"NJ", "NEW JERSEY"}, {"NM", "NEW MEXICO"},
	{"NY", "NEW YORK"}, {"NC", "NORTH CAROLINA"}, {"ND", "NORTH DAKOTA"}, {"OH", "OHIO"},
	{"OK", "OKLAHOMA"}, {"OR", "OREGON"}, {"PA", "PENNSYLVANIA"}, {"RI", "RHODE ISLAND"},
	{"SC", "SOUTH CAROLINA"}, {"SD", "SOUTH DAKOTA"}, {"TN", "TENNESSEE"}, {"TX", "TEXAS"},
	{"UT", "UTAH"}, {"VT", "VERMONT"}, {"VA", "VIRGINIA"}, {"WA", "WASHINGTON"},
	{"WV", "WEST VIRGINIA"}, {"WI", "WISCONSIN"}, {"WY", "WYOMING"},
	{"AS", "AMERICAN SAMOA"}, {"GU", "GUAM"}, {"MP", "NORTHERN MARIANA ISLANDS"},
	{"PR", "PUERTO RICO"}, {"VI", "VIRGIN ISLANDS"},
};

EcFieldStatus
ec_field_state(const char *s, size_t len, char code[3])
{
	char		up[32];
	size_t		i;
	size_t		n = 0;
	bool		space = false;

	code[0] = '\0';
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	/* upper case, dots dropped ("D.C."), whitespace runs folded */
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '.')
			continue;
		if (ec_is_space(c))
		{
			space = n > 0;
			continue;
		}
		if (!ec_is_alpha(c))
			return EC_FIELD_INVALID;
		if (n + (space ? 2 : 1) >= sizeof(up))
			return EC_FIELD_INVALID;
		if (space)
			up[n++] = ' ';
		space = false;
		up[n++] = (char) (c & ~0x20);
	}
	up[n] = '\0';
	for (i = 0; i < sizeof(ec_states) / sizeof(ec_states[0]); i++)
	{
		if ((n == 2 && memcmp(up, ec_states[i].code, 2) == 0) ||
			strcmp(up, ec_states[i].name) == 0)
		{
			memcpy(code, ec_states[i].code, 3);
			return EC_FIELD_OK;
		}
	}
	return EC_FIELD_INVALID;
}

EcFieldStatus
ec_field_money(const char *s, size_t len, char out[EC_MONEY_MAX + 1])
{
	const unsigned char *p;
	size_t		i;
	bool		neg = false;
	bool		paren = false;
	bool		dot = false;
	bool		seen_digit = false;
	int			intd = 0;
	int			fracd = 0;
	char		ibuf[EC_MONEY_INT_DIGITS];
	char		fbuf[2];
	size_t		o = 0;

	out[0] = '\0';
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	p = (const unsigned char *) s;
	if (len > 1 && p[0] == '(' && p[len - 1] == ')')
	{
		paren = neg = true;
		p++;
		len -= 2;
	}
	for (i = 0; i < len; i++)
	{
		unsigned char c = p[i];

		if (c == '-' && !neg && !seen_digit && !dot)
			neg = true;
		else if (c == '$' && !seen_digit && !dot)
			continue;
		else if (c == ' ')
			continue;
		else if (c == ',' && seen_digit && !dot)
			continue;
		else if (c == '.' && !dot)
			dot = true;
		else if (ec_is_digit(c))
		{
			seen_digit = true;
			if (dot)
			{
				/* numeric(14,2) keeps cents; further digits are cut */
				if (fracd < 2)
					fbuf[fracd++] = (char) c;
			}
			else if (intd == 0 && c == '0')
				continue;		/* a leading zero */
			else if (intd == EC_MONEY_INT_DIGITS)
				return EC_FIELD_OUT_OF_RANGE;
			else
				ibuf[intd++] = (char) c;
		}
		else
			return EC_FIELD_INVALID;
	}
	(void) paren;
	if (!seen_digit)
		return EC_FIELD_INVALID;	/* "$", "-", ".", "$--" */
	if (neg && intd == 0 && (fracd == 0 || (fbuf[0] == '0' && (fracd == 1 || fbuf[1] == '0'))))
		neg = false;			/* no "-0" */
	if (neg)
		out[o++] = '-';
	if (intd == 0)
		out[o++] = '0';
	memcpy(out + o, ibuf, intd);
	o += intd;
	if (fracd > 0)
	{
		out[o++] = '.';
		memcpy(out + o, fbuf, fracd);
		o += fracd;
	}
	out[o] = '\0';
	return EC_FIELD_OK;
}

EcFieldStatus
ec_field_int(const char *s, size_t len, int64_t min, int64_t max, int64_t *v)
{
	const unsigned char *p;
	size_t		i = 0;
	bool		neg = false;
	int64_t		acc = 0;
	int			digits = 0;
	size_t		dstart;

	*v = 0;
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	p = (const unsigned char *) s;
	if (p[0] == '-' || p[0] == '+')
	{
		neg = p[0] == '-';
		i = 1;
	}
	dstart = i;
	for (; i < len && ec_is_digit(p[i]); i++)
	{
		if (digits == 15)
			return EC_FIELD_OUT_OF_RANGE;
		if (acc != 0 || p[i] != '0')
			digits++;
		acc = acc * 10 + (p[i] - '0');
	}
	if (i == dstart)
		return EC_FIELD_INVALID;
	if (i < len && p[i] == '.')
	{
		/* "75.0" is 75; "75.5" is not an integer */
		for (i++; i < len; i++)
		{
			if (p[i] != '0')
				return EC_FIELD_INVALID;
		}
	}
	if (i != len)
		return EC_FIELD_INVALID;
	if (neg)
		acc = -acc;
	if (acc < min || acc > max)
		return EC_FIELD_OUT_OF_RANGE;
	*v = acc;
	return EC_FIELD_OK;
}

EcFieldStatus
ec_field_bool(const char *s, size_t len, bool *v)
{
	static const char *const yes[] = {"yes", "y", "true", "t", "1"};
	static const char *const no[] = {"no", "n", "false", "f", "0"};
	char		low[8];
	size_t		i;

	*v = false;
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	if (len >= sizeof(low))
		return EC_FIELD_INVALID;
	for (i = 0; i < len; i++)
		low[i] = (char) ec_lower((unsigned char) s[i]);
	low[len] = '\0';
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
	{
		if (strcmp(low, yes[i]) == 0)
		{
			*v = true;
			return EC_FIELD_OK;
		}
		if (strcmp(low, no[i]) == 0)
			return EC_FIELD_OK;
	}
	return EC_FIELD_INVALID;
}

static bool
ec_valid_date(int y, int m, int d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			n;

	if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1)
		return false;
	n = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		n = 29;
	return d <= n;
}

/* Reads 1..maxd digits at p[*i]; false when there are none. */
static bool
ec_read_num(const unsigned char *p, size_t len, size_t *i, int maxd, int *out)
{
	int			n = 0;
	int			v = 0;

	while (*i < len && ec_is_digit(p[*i]) && n < maxd)
	{
		v = v * 10 + (p[*i] - '0');
		(*i)++;
		n++;
	}
	if (n == 0 || (*i < len && ec_is_digit(p[*i])))
		return false;
	*out = v;
	return true;
}

EcFieldStatus
ec_field_date(const char *s, size_t len, int *y, int *m, int *d)
{
	const unsigned char *p;
	size_t		i = 0;
	int			a,
				b,
				c;

	*y = *m = *d = 0;
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	p = (const unsigned char *) s;
	if (!ec_read_num(p, len, &i, 4, &a))
		return EC_FIELD_INVALID;
	if (i == 4 && i < len && p[i] == '-')
	{
		/* YYYY-MM-DD[Thh:mm...] */
		i++;
		if (!ec_read_num(p, len, &i, 2, &b) || i >= len || p[i] != '-')
			return EC_FIELD_INVALID;
		i++;
		if (!ec_read_num(p, len, &i, 2, &c))
			return EC_FIELD_INVALID;
		if (i < len && p[i] != 'T' && p[i] != ' ')
			return EC_FIELD_INVALID;
		*y = a;
		*m = b;
		*d = c;
	}
	else if (i <= 2 && i < len && p[i] == '/')
	{
		/* MM/DD/YYYY */
		i++;
		if (!ec_read_num(p, len, &i, 2, &b) || i >= len || p[i] != '/')
			return EC_FIELD_INVALID;
		i++;
		{
			size_t		start = i;

			if (!ec_read_num(p, len, &i, 4, &c) || i - start != 4)
				return EC_FIELD_INVALID;
		}
		if (i < len && p[i] != ' ')
			return EC_FIELD_INVALID;
		*y = c;
		*m = a;
		*d = b;
	}
	else
		return EC_FIELD_INVALID;
	if (!ec_valid_date(*y, *m, *d))
	{
		*y = *m = *d = 0;
		return EC_FIELD_INVALID;
	}
	return EC_FIELD_OK;
}

int
ec_field_years_between(int y1, int m1, int d1, int y2, int m2, int d2)
{
	int			years = y2 - y1;

	if (m2 < m1 || (m2 == m1 && d2 < d1))
		years--;
	return years;
}

EcFieldStatus
ec_field_digits(const char *s, size_t len, int n, char *out)
{
	size_t		i;

	out[0] = '\0';
	if (s == NULL)
		return EC_FIELD_EMPTY;
	ec_field_trim(&s, &len);
	if (len == 0)
		return EC_FIELD_EMPTY;
	for (i = 0; i < len; i++)
	{
		if (!ec_is_digit((unsigned char) s[i]))
			return EC_FIELD_INVALID;
	}
	/* a county FIPS code whose leading zero a spreadsheet dropped */
	if (n == 5 && len == 4)
	{
		out[0] = '0';
		memcpy(out + 1, s, 4);
		out[5] = '\0';
		return EC_FIELD_OK;
	}
	if (len != (size_t) n)
		return EC_FIELD_INVALID;
	memcpy(out, s, len);
	out[len] = '\0';
	return EC_FIELD_OK;
}

size_t
ec_field_text(const char *s, size_t len, char *out, size_t outsize, bool *truncated)
{
	const unsigned char *p;
	size_t		o = 0;
	size_t		i = 0;
	bool		space = false;

	*truncated = false;
	if (outsize == 0)
		return 0;
	out[0] = '\0';
	if (s == NULL)
		return 0;
	ec_field_trim(&s, &len);
	p = (const unsigned char *) s;

	/* the usual value, printable ASCII with single spaces, is copied as it is */
	for (i = 0; i < len; i++)
	{
		unsigned char c = p[i];

		if (!((c > ' ' && c < 0x80) || (c == ' ' && i > 0 && p[i - 1] != ' ')))
			break;
	}
	if (i == len && len < outsize)
	{
		memcpy(out, p, len);
		out[len] = '\0';
		return len;
	}

	i = 0;
	while (i < len)
	{
		size_t		j = i;

		if (ec_is_space(p[i]))
		{
			space = true;
			i++;
			continue;
		}
		/*
		 * A run of characters up to the next space, whole characters only
		 * (a lead byte takes its continuation bytes with it), copied at once
		 * when it fits.
		 */
		while (j < len && !ec_is_space(p[j]))
		{
			unsigned char c = p[j];
			size_t		clen = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

			j += clen > len - j ? len - j : clen;
		}
		if (o + (space ? 1 : 0) + (j - i) > outsize - 1)
		{
			/* the run does not fit: as many whole characters as do */
			while (i < j)
			{
				unsigned char c = p[i];
				size_t		clen = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

				if (clen > len - i)
					clen = len - i;
				if (o + (space ? 1 : 0) + clen > outsize - 1)
					break;
				if (space)
					out[o++] = ' ';
				space = false;
				memcpy(out + o, p + i, clen);
				o += clen;
				i += clen;
			}
			*truncated = true;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		memcpy(out + o, p + i, j - i);
		o += j - i;
		i = j;
	}
	out[o] = '\0';
	return o;
}
