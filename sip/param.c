/*
 * param.c — header parameter lists: ";name[=value]" with optional linear
 * white space around ';' and '=' (RFC 3261 §25.1 SEMI, EQUAL, generic-param).
 *
 * Used for Via, name-addr and credential parameters. A value is a token,
 * a host (IPv6 references included) or a quoted string, kept with its quotes.
 * Folding may use CRLF or a bare LF (scan_lws).
 */
#include "sip.h"
#include "chars.h"
#include "scan.h"

#include <errno.h>

/* p at the opening quote; returns the byte after the closing quote or NULL. */
static const char *scan_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

int sip_param_next(slice *rest, slice *name, slice *value)
{
	const char *p = rest->p, *end = slice_end(*rest), *start;

	p = scan_lws(p, end);
	if (p >= end) {
		*rest = slice_make(end, 0);
		return 0;
	}
	if (*p == ';')
		p = scan_lws(p + 1, end); /* a ';' must introduce a parameter */
	start = p;
	p = ch_span(p, end, CH_TOKEN);
	if (p == start)
		return -EINVAL;
	*name = slice_between(start, p);
	*value = slice_make(p, 0);
	p = scan_lws(p, end);
	if (p < end && *p == '=') {
		p = scan_lws(p + 1, end);
		start = p;
		if (p < end && *p == '"') {
			p = scan_quoted(p, end);
			if (!p)
				return -EINVAL;
		} else {
			p = ch_span(p, end, CH_PVALUE);
		}
		if (p == start)
			return -EINVAL;
		*value = slice_between(start, p);
		p = scan_lws(p, end);
	}
	if (p < end && *p != ';')
		return -EINVAL;
	*rest = slice_between(p, end);
	return 1;
}

bool sip_param_find(slice params, slice name, slice *value)
{
	slice n, v;

	while (sip_param_next(&params, &n, &v) == 1) {
		if (slice_caseeq(n, name)) {
			*value = v;
			return true;
		}
	}
	return false;
}
