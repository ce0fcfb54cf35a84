/*
 * msg_check.c — sip_msg_check: the well-formedness checks a proxy makes on
 * a request beyond sip_msg_parse (RFC 3261 §16.3 "reasonable syntax"):
 * the CSeq method equals the request method (RFC 4475 §3.1.2.17-18),
 * Contact, Route, Record-Route and Path lists parse (§3.1.2.1 badinv01),
 * Require, Proxy-Require and Supported are token lists, Expires and every
 * Contact expires fit 32 bits (§3.1.2.4 scalar02).
 *
 * The Contact list comes parsed (sip_contacts_parse, SIP_MAX_CONTACTS
 * values at most); the route lists are parsed into a stack array of
 * SIP_MAX_VIA entries (a route set has no more entries than a request has
 * hops). Pure; any process.
 */
#include "sip.h"

#include <errno.h>

static int bad(struct sip_parse_status *st, const char *reason)
{
	st->error = SIP_PERR_BAD_MESSAGE;
	st->reason = reason;
	return -EINVAL;
}

static int accept_tag(slice tag, void *arg)
{
	return 0;
}

static int check_lists(const struct sip_msg *msg, const struct sip_contacts *contacts,
		       struct sip_parse_status *st)
{
	static const struct {
		uint8_t id;
		const char *reason;
	} lists[] = {
		{ SIP_H_ROUTE, "Malformed Route header" },
		{ SIP_H_RECORD_ROUTE, "Malformed Record-Route header" },
		{ SIP_H_PATH, "Malformed Path header" },
	};
	struct sip_nameaddr addrs[SIP_MAX_VIA];
	const char *reason;
	unsigned n;

	if (contacts->error < 0)
		return bad(st, "Malformed Contact header");
	for (unsigned i = 0; i < ARRAY_LEN(lists); i++)
		if (sip_msg_routes(msg, lists[i].id, addrs, SIP_MAX_VIA, &n,
				   &reason) < 0)
			return bad(st, lists[i].reason);
	return 0;
}

static int check_tags(const struct sip_msg *msg, struct sip_parse_status *st)
{
	if (sip_msg_option_tags(msg, SIP_H_REQUIRE, accept_tag, NULL) < 0)
		return bad(st, "Malformed Require header");
	if (sip_msg_option_tags(msg, SIP_H_PROXY_REQUIRE, accept_tag, NULL) < 0)
		return bad(st, "Malformed Proxy-Require header");
	if (sip_msg_option_tags(msg, SIP_H_SUPPORTED, accept_tag, NULL) < 0)
		return bad(st, "Malformed Supported header");
	return 0;
}

int sip_msg_check(const struct sip_msg *msg, const struct sip_contacts *contacts,
		  struct sip_parse_status *st)
{
	uint32_t expires;

	*st = (struct sip_parse_status){ .error = SIP_PERR_NONE,
					 .have_start_line = true };
	if (msg->is_request && !slice_eq(msg->cseq.method, msg->method))
		return bad(st, "CSeq method does not match request method");
	if (check_lists(msg, contacts, st) < 0 || check_tags(msg, st) < 0)
		return -EINVAL;
	if (sip_msg_expires(msg, &expires) == -EINVAL)
		return bad(st, "Bad Expires header");
	return 0;
}
