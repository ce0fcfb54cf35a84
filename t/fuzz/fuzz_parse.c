/*
 * fuzz_parse.c — libFuzzer harness for the SIP message core: every input
 * goes through sip_msg_parse in datagram and stream mode (and the rest of
 * a stream buffer as the next message), then through everything a proxy
 * calls on a parsed message: sip_msg_check, the header accessors, the
 * Contact/Route/Record-Route/Path lists, option tags, Expires, the SDP body
 * and Digest credentials. Built and run by `make fuzz` with ASan + UBSan.
 */
#include "../../sip/sip.h"

#include <stdint.h>
#include <stdlib.h>

static int count_tag(slice tag, void *arg)
{
	(*(unsigned *)arg)++;
	return tag.len == 0; /* never: a tag is non-empty */
}

static void walk_headers(const struct sip_msg *msg)
{
	static const char *const names[] = { "X-Custom", "v", "Call-ID", "Date" };
	unsigned n = 0;

	for (int id = 1; id < SIP_H_COUNT; id++) { /* OTHER: by name */
		for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h;
		     h = sip_msg_hdr_next(msg, h))
			n++;
		n -= sip_msg_hdr_count(msg, id);
	}
	if (n)
		abort(); /* hdr_next and hdr_count disagree */
	for (unsigned i = 0; i < 4; i++)
		(void)sip_msg_hdr_by_name(msg, slice_cstr(names[i]));
}

static void use_lists(const struct sip_msg *msg)
{
	static const enum sip_hdr_id routes[] = { SIP_H_ROUTE, SIP_H_RECORD_ROUTE,
						  SIP_H_PATH };
	static const enum sip_hdr_id tags[] = { SIP_H_REQUIRE, SIP_H_PROXY_REQUIRE,
						SIP_H_SUPPORTED, SIP_H_UNSUPPORTED };
	struct sip_nameaddr addrs[8];
	const char *why;
	unsigned n, ntags = 0;
	uint32_t expires;
	bool star;

	if (sip_msg_contacts(msg, addrs, 8, &n, &star, &why) == 0 && star && n)
		abort(); /* "*" never comes with contacts */
	for (unsigned i = 0; i < 3; i++)
		(void)sip_msg_routes(msg, routes[i], addrs, 8, &n, &why);
	for (unsigned i = 0; i < 4; i++)
		(void)sip_msg_option_tags(msg, tags[i], count_tag, &ntags);
	(void)sip_msg_expires(msg, &expires);
}

static void use_body_and_auth(const struct sip_msg *msg)
{
	static const enum sip_hdr_id auth[] = { SIP_H_AUTHORIZATION,
						SIP_H_PROXY_AUTHORIZATION };
	static struct sdp_session sdp;
	struct sip_credentials cr;
	const char *why;

	if (sdp_parse(msg->body, &sdp, &why) == 0) {
		for (unsigned i = 0; i < sdp.nmedia; i++) {
			(void)sdp_media_conn(&sdp, i);
			(void)sdp_media_direction(&sdp, i);
		}
	}
	for (unsigned i = 0; i < 2; i++)
		for (const struct sip_hdr *h = sip_msg_hdr(msg, auth[i]); h;
		     h = sip_msg_hdr_next(msg, h))
			(void)sip_credentials_parse(h->value, &cr, &why);
}

static void use(const struct sip_msg *msg)
{
	static struct sip_contacts contacts;
	struct sip_parse_status st;

	if (msg->len > SIP_MAX_MSG || msg->nvia == 0 || msg->nvia > SIP_MAX_VIA)
		abort(); /* a parsed message always honours these */
	(void)sip_contacts_parse(msg, &contacts);
	(void)sip_msg_check(msg, &contacts, &st);
	walk_headers(msg);
	use_lists(msg);
	use_body_and_auth(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg msg;
	struct sip_parse_status st;
	const char *buf = (const char *)data;

	if (sip_msg_parse(buf, size, 0, &msg, &st) == 0) {
		if (msg.buf + msg.len > buf + size)
			abort();
		use(&msg);
	}
	if (sip_msg_parse(buf, size, SIP_PARSE_STREAM, &msg, &st) == 0) {
		size_t used = (size_t)(msg.buf - buf) + msg.len;

		if (used > size)
			abort();
		use(&msg);
		if (sip_msg_parse(buf + used, size - used, SIP_PARSE_STREAM, &msg,
				  &st) == 0)
			use(&msg);
	}
	return 0;
}
