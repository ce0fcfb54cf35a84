/*
 * stream_frame.c — where one SIP message ends on a stream (RFC 3261
 * §18.3): the header block ends at the first empty line, the body is
 * Content-Length bytes, which a stream message must carry. Between
 * messages, CRLFCRLF is a keepalive ping and a lone CRLF its pong
 * (RFC 5626 §4.4.1). Looks only at the bytes, no state, no locks: the
 * stream workers call it on their input buffers.
 */
#include "stream_int.h"

#include <strings.h>

/* Content-Length (or its compact form "l") at the start of a header line
 * in hdr[0..n): 1 with *v set, 0 when absent, -1 when not a number. */
static int content_length(const char *hdr, size_t n, uint64_t *v)
{
	const char *p = hdr, *end = hdr + n, *q;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t name;

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length", 14) == 0)
			name = 14;
		else if (eol - p > 1 && (p[0] == 'l' || p[0] == 'L') &&
			 (p[1] == ':' || p[1] == ' ' || p[1] == '\t'))
			name = 1;
		else
			name = 0;
		if (name) {
			for (q = p + name; q < eol && (*q == ' ' || *q == '\t'); q++)
				;
			if (q < eol && *q == ':') {
				for (q++; q < eol && (*q == ' ' || *q == '\t'); q++)
					;
				if (q == eol || *q < '0' || *q > '9')
					return -1;
				for (*v = 0; q < eol && *q >= '0' && *q <= '9'; q++)
					if ((*v = *v * 10 + (uint64_t)(*q - '0')) > 1u << 30)
						return -1;
				return 1;
			}
		}
		p = eol + 1;
	}
	return 0;
}

static enum frame_result between_messages(const char *p, size_t n, size_t *len)
{
	if (n >= 4 && memcmp(p, "\r\n\r\n", 4) == 0) {
		*len = 4;
		return FRAME_PING;
	}
	if (n < 4 && memcmp(p, "\r\n\r\n", n) == 0)
		return FRAME_NEED_MORE;
	*len = 2;
	return FRAME_PONG;
}

enum frame_result stream_frame(const char *p, size_t n, unsigned max_header,
			       unsigned max_message, size_t *len)
{
	const char *end;
	uint64_t cl = 0;
	size_t hlen;
	int rc;

	if (n == 0)
		return FRAME_NEED_MORE;
	if (p[0] == '\r' && (n < 2 || p[1] == '\n'))
		return n < 2 ? FRAME_NEED_MORE : between_messages(p, n, len);
	end = memmem(p, n < max_header ? n : max_header, "\r\n\r\n", 4);
	if (!end)
		return n >= max_header ? FRAME_TOO_LARGE : FRAME_NEED_MORE;
	hlen = (size_t)(end - p) + 4;
	rc = content_length(p, hlen - 2, &cl);
	*len = hlen;
	if (rc == 0)
		return FRAME_NO_LENGTH;
	if (rc < 0)
		return FRAME_BAD;
	if (hlen + cl > max_message)
		return FRAME_TOO_LARGE;
	if (n < hlen + cl)
		return FRAME_NEED_MORE;
	*len = hlen + (size_t)cl;
	return FRAME_MESSAGE;
}
