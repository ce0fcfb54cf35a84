/*
 * slice.c — comparisons and conversions on byte slices.
 *
 * Pure functions on caller-owned bytes, and the append buffer; safe in
 * every process.
 */
#include "base.h"

#include <errno.h>
#include <strings.h>

bool slice_eq(slice a, slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool slice_caseeq(slice a, slice b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

bool slice_caseeq_cstr(slice a, const char *s)
{
	return slice_caseeq(a, slice_cstr(s));
}

static bool is_trim_char(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

slice slice_trim(slice s)
{
	while (s.len && is_trim_char(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && is_trim_char(s.p[s.len - 1]))
		s.len--;
	return s;
}

int slice_to_u32(slice s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (s.len == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

size_t slice_copy_cstr(slice s, char *dst, size_t cap)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	if (cap == 0)
		return 0;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
	return n;
}

void sbuf_add(struct sbuf *b, slice s)
{
	if (b->full || s.len >= b->cap - b->len) {
		b->full = true;
		return;
	}
	if (s.len)
		memcpy(b->p + b->len, s.p, s.len);
	b->len += s.len;
	b->p[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, slice_cstr(s));
}

void sbuf_add_uint(struct sbuf *b, uint64_t v)
{
	char digits[20];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sbuf_add(b, slice_make(digits + n, sizeof(digits) - n));
}

void sbuf_add_hex(struct sbuf *b, uint64_t v, unsigned width)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t n = sizeof(digits);

	if (width > sizeof(digits))
		width = sizeof(digits);
	do {
		digits[--n] = hex[v & 15];
		v >>= 4;
	} while (v || sizeof(digits) - n < width);
	sbuf_add(b, slice_make(digits + n, sizeof(digits) - n));
}
