/*
 * chars.h — character classes of the SIP grammar (RFC 3261 §25.1), shared
 * by the files of sip/. Private to sip/.
 */
#ifndef PINHOLE_SIP_CHARS_H
#define PINHOLE_SIP_CHARS_H

#include <stdbool.h>

enum {
	CH_TOKEN = 1 << 0,     /* token: alphanum -.!%*_+`'~ */
	CH_WS = 1 << 1,        /* SP / HTAB */
	CH_DIGIT = 1 << 2,
	CH_ALPHA = 1 << 3,
	CH_HEX = 1 << 4,
	CH_UNRESERVED = 1 << 5,/* alphanum mark: -_.!~*'() */
	CH_USER_UNRES = 1 << 6,/* &=+$,;?/ */
	CH_PARAM_UNRES = 1 << 7,/* []/:&+$ */
	CH_HNV_UNRES = 1 << 8, /* []/?:+$ */
	CH_PASSWD = 1 << 9,    /* &=+$, */
	CH_HOST = 1 << 10,     /* alphanum - . (host names) */
	CH_WORD = 1 << 11,     /* word: token plus ()<>:\"/[]?{} */
	CH_PVALUE = 1 << 12,   /* unquoted parameter value: token plus :[] */
	CH_LABEL = 1 << 13,    /* alphanum - (inside a host name label) */
	CH_SPACE = 1 << 14,    /* SP / HTAB / CR / LF (what slice_trim strips) */
};

extern const unsigned short sip_chars[256];

static inline bool ch_is(unsigned char c, unsigned cls)
{
	return (sip_chars[c] & cls) != 0;
}

/*
 * The first byte at or after p that is not of class cls, or end. Four
 * bytes per step while four remain (one bound check per step), then byte
 * by byte. Never reads at or past end.
 */
static inline const char *ch_span(const char *p, const char *end, unsigned cls)
{
	for (; end - p >= 4; p += 4) {
		if (!ch_is((unsigned char)p[0], cls))
			return p;
		if (!ch_is((unsigned char)p[1], cls))
			return p + 1;
		if (!ch_is((unsigned char)p[2], cls))
			return p + 2;
		if (!ch_is((unsigned char)p[3], cls))
			return p + 3;
	}
	while (p < end && ch_is((unsigned char)*p, cls))
		p++;
	return p;
}

#endif
