/*
 * cseq.c — the CSeq header body: 1*DIGIT LWS Method (RFC 3261 §20.16).
 *
 * The number must fit 32 bits (RFC 4475 §3.1.2.4 scalar02 and §3.1.2.5
 * scalarlg send larger ones); leading zeros are fine ("0009", §3.1.1.1).
 * The method is kept as written; comparing it with the request method is
 * sip_msg_check's job. Pure, any process.
 */
#include "sip.h"
#include "scan.h"

#include <errno.h>

static const char *scan_u32(const char *p, const char *end, uint32_t *out,
			    bool *overflow)
{
	uint64_t v = 0;

	*overflow = false;
	for (; p < end && scan_is_digit(*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			*overflow = true;
			v = UINT32_MAX;
		}
	}
	*out = (uint32_t)v;
	return p;
}

int sip_cseq_parse(slice value, struct sip_cseq *out, const char **reason)
{
	const char *p, *digits, *sep, *end = slice_end(value);
	bool overflow;

	digits = scan_lws(value.p, end);
	p = scan_u32(digits, end, &out->num, &overflow);
	sep = p;
	p = scan_lws(p, end);
	if (sep == digits || p == sep || overflow) {
		*reason = "Bad CSeq number";
		return -EINVAL;
	}
	out->method = slice_between(p, scan_token(p, end));
	p = scan_lws(slice_end(out->method), end);
	if (out->method.len == 0 || p != end) {
		*reason = "Bad CSeq method";
		return -EINVAL;
	}
	out->method_id = (uint8_t)sip_method_from(out->method);
	return 0;
}
