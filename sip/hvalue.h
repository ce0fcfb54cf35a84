/*
 * hvalue.h — helpers of the URI and header value parsers (uri.c,
 * nameaddr.c, credentials.c): quoted strings (RFC 3261 §25.1) and names
 * compared with lower-case literals; LWS and tokens come from scan.h.
 * Private to sip/; pure inline functions on caller bytes.
 *
 * Folding is CRLF or, for robustness, a bare LF followed by SP/HTAB, as in
 * scan_lws.
 */
#ifndef PINHOLE_SIP_HVALUE_H
#define PINHOLE_SIP_HVALUE_H

#include "sip.h"
#include "scan.h"

/* The length of the line folding at p (CRLF or LF, then SP/HTAB), or 0. */
static inline int hvalue_fold_len(const char *p, const char *end)
{
	if (*p == '\r' && end - p >= 3 && p[1] == '\n' &&
	    (p[2] == ' ' || p[2] == '\t'))
		return 2;
	if (*p == '\n' && end - p >= 2 && (p[1] == ' ' || p[1] == '\t'))
		return 1;
	return 0;
}

/* slice_trim(v), without the call when neither end is white space (the
 * message parser hands over trimmed header values). */
static inline slice hvalue_trim(slice v)
{
	if (v.len == 0 || (!ch_is((unsigned char)v.p[0], CH_SPACE) &&
			   !ch_is((unsigned char)v.p[v.len - 1], CH_SPACE)))
		return v;
	return slice_trim(v);
}

/*
 * Whether name equals lit (lower-case letters only, len bytes) ignoring
 * ASCII case: c | 0x20 maps exactly 'A'-'Z' onto 'a'-'z' for such a lit.
 * Done on two overlapping words (the first and the last four or eight
 * bytes) when the name is that long.
 */
static inline bool hvalue_name_is(slice name, const char *lit, uint32_t len)
{
	const char *p = name.p;

	if (name.len != len)
		return false;
	if (len >= 8 && len <= 16)
		return (scan_load8(p) | 0x2020202020202020ull) == scan_load8(lit) &&
		       (scan_load8(p + len - 8) | 0x2020202020202020ull) ==
		       scan_load8(lit + len - 8);
	if (len >= 4 && len < 8)
		return (scan_load4(p) | 0x20202020u) == scan_load4(lit) &&
		       (scan_load4(p + len - 4) | 0x20202020u) ==
		       scan_load4(lit + len - 4);
	for (uint32_t i = 0; i < len; i++)
		if ((p[i] | 0x20) != lit[i])
			return false;
	return true;
}

/*
 * p at an opening '"': returns the byte after the closing quote, or NULL
 * with *reason set. qdtext is LWS, printable ASCII but '"' and '\', and
 * any byte >= 0x80 (UTF-8); quoted-pair is '\' and an ASCII byte but CR/LF.
 */
static inline const char *hvalue_scan_quoted(const char *p, const char *end,
				      const char **reason)
{
	for (p++; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (++p == end)
				break;
			c = (unsigned char)*p;
			if (c == '\r' || c == '\n' || c > 0x7f)
				goto bad;
		} else if (c == '\r' || c == '\n') {
			if (!hvalue_fold_len(p, end))
				goto bad;
			p += hvalue_fold_len(p, end);
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			goto bad;
		}
	}
	*reason = "Unterminated quoted string";
	return NULL;
bad:
	*reason = "Bad character in quoted string";
	return NULL;
}

#endif
