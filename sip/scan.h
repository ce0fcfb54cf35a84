/*
 * scan.h — small inline scanners shared by the message-level parsers of
 * sip/ (msg.c, via.c, cseq.c, msg_access.c): linear white space with line
 * folding, tokens, digits. Private to sip/; pure functions on caller bytes.
 *
 * Folding is CRLF or, for robustness, a bare LF followed by SP/HTAB
 * (RFC 3261 §7.3.1, §25.1 LWS).
 */
#ifndef PINHOLE_SIP_SCAN_H
#define PINHOLE_SIP_SCAN_H

#include "chars.h"
#include "sip.h"

static inline bool scan_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool scan_is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* Skips SP, HTAB and folded line ends; returns the first other byte. One
 * class test when there is nothing to skip, the usual case. */
static inline const char *scan_lws(const char *p, const char *end)
{
	while (p < end && ch_is((unsigned char)*p, CH_SPACE)) {
		if (scan_is_wsp(*p))
			p++;
		else if (*p == '\n' && end - p >= 2 && scan_is_wsp(p[1]))
			p += 2;
		else if (*p == '\r' && end - p >= 3 && p[1] == '\n' &&
			 scan_is_wsp(p[2]))
			p += 3;
		else
			break;
	}
	return p;
}

/* Skips token characters (RFC 3261 §25.1 token). */
static inline const char *scan_token(const char *p, const char *end)
{
	return ch_span(p, end, CH_TOKEN);
}

/* Whether s equals lc ignoring ASCII case; lc is lower case, n its length.
 * Byte by byte: meant for short parameter names after a length switch. */
static inline bool scan_name_is(slice s, const char *lc, uint32_t n)
{
	if (s.len != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if ((unsigned char)(c - 'A') < 26)
			c |= 0x20;
		if (c != (unsigned char)lc[i])
			return false;
	}
	return true;
}

/*
 * memset(p, 0, n) as plain stores, 64 bytes at a time: gcc -O2 compiles a
 * constant memset or a compound literal over 64 bytes (struct sip_uri,
 * sip_nameaddr, sip_via) to "rep stos", whose start-up costs about as much
 * as parsing a short URI.
 */
static inline void scan_zero(void *p, size_t n)
{
	char *c = p;

	for (; n > 64; n -= 64, c += 64)
		memset(c, 0, 64);
	memset(c, 0, n);
}

/* Unaligned native-order loads for word-wise compares. */
static inline uint16_t scan_load2(const char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t scan_load4(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t scan_load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Whether the four bytes at p equal lc ignoring the case of its letters;
 * lc holds lower-case letters and bytes below 0x40 only ("sip:", "sip/").
 * A letter of lc has bit 6 set: moved to bit 5 it is exactly what to OR
 * into p there, and p must match every other byte as is. */
static inline bool scan_caseeq4(const char *p, const char *lc)
{
	uint32_t l = scan_load4(lc);

	return (scan_load4(p) | ((l >> 1) & 0x20202020u)) == l;
}

/* Whether s is a non-empty token. */
static inline bool scan_is_token(slice s)
{
	return s.len && scan_token(s.p, slice_end(s)) == slice_end(s);
}

#endif
