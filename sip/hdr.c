/*
 * hdr.c — header names: long and compact forms (RFC 3261 §7.3.3, §20 and
 * the IANA compact-form registry) to enum sip_hdr_id and back.
 *
 * sip_hdr_lookup runs for every header line of every message, so it is a
 * switch on the name length followed by at most a handful of
 * case-insensitive compares, never a loop over the table. Pure, any process.
 */
#include "sip.h"

static const char *const hdr_names[SIP_H_COUNT] = {
	[SIP_H_OTHER] = "",
	[SIP_H_VIA] = "Via",
	[SIP_H_FROM] = "From",
	[SIP_H_TO] = "To",
	[SIP_H_CALL_ID] = "Call-ID",
	[SIP_H_CSEQ] = "CSeq",
	[SIP_H_MAX_FORWARDS] = "Max-Forwards",
	[SIP_H_CONTACT] = "Contact",
	[SIP_H_ROUTE] = "Route",
	[SIP_H_RECORD_ROUTE] = "Record-Route",
	[SIP_H_CONTENT_LENGTH] = "Content-Length",
	[SIP_H_CONTENT_TYPE] = "Content-Type",
	[SIP_H_EXPIRES] = "Expires",
	[SIP_H_MIN_EXPIRES] = "Min-Expires",
	[SIP_H_REQUIRE] = "Require",
	[SIP_H_PROXY_REQUIRE] = "Proxy-Require",
	[SIP_H_SUPPORTED] = "Supported",
	[SIP_H_UNSUPPORTED] = "Unsupported",
	[SIP_H_ALLOW] = "Allow",
	[SIP_H_AUTHORIZATION] = "Authorization",
	[SIP_H_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[SIP_H_WWW_AUTHENTICATE] = "WWW-Authenticate",
	[SIP_H_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[SIP_H_PATH] = "Path",
	[SIP_H_USER_AGENT] = "User-Agent",
	[SIP_H_SERVER] = "Server",
	[SIP_H_CONTENT_ENCODING] = "Content-Encoding",
	[SIP_H_EVENT] = "Event",
	[SIP_H_SUBJECT] = "Subject",
	[SIP_H_REFER_TO] = "Refer-To",
	[SIP_H_ACCEPT] = "Accept",
	[SIP_H_DATE] = "Date",
	[SIP_H_ALLOW_EVENTS] = "Allow-Events",
	[SIP_H_REFERRED_BY] = "Referred-By",
	[SIP_H_SESSION_EXPIRES] = "Session-Expires",
	[SIP_H_IDENTITY] = "Identity",
};

/* Compact forms, indexed by the lower-case letter. */
static const uint8_t compact_ids['z' + 1] = {
	['v'] = SIP_H_VIA, ['f'] = SIP_H_FROM, ['t'] = SIP_H_TO,
	['i'] = SIP_H_CALL_ID, ['m'] = SIP_H_CONTACT,
	['l'] = SIP_H_CONTENT_LENGTH, ['c'] = SIP_H_CONTENT_TYPE,
	['k'] = SIP_H_SUPPORTED, ['s'] = SIP_H_SUBJECT,
	['e'] = SIP_H_CONTENT_ENCODING, ['o'] = SIP_H_EVENT,
	['u'] = SIP_H_ALLOW_EVENTS, ['r'] = SIP_H_REFER_TO,
	['b'] = SIP_H_REFERRED_BY, ['x'] = SIP_H_SESSION_EXPIRES,
	['y'] = SIP_H_IDENTITY,
};

static inline unsigned char lower(unsigned char c)
{
	return (unsigned char)(c - 'A') < 26 ? c | 0x20 : c;
}

/* n.len == strlen(lc) is known by the caller; lc is lower case. */
static bool name_is(slice n, const char *lc)
{
	for (uint32_t i = 0; i < n.len; i++)
		if (lower((unsigned char)n.p[i]) != (unsigned char)lc[i])
			return false;
	return true;
}

#define TRY(lc, id)                                                            \
	do {                                                                   \
		if (name_is(n, lc))                                            \
			return id;                                             \
	} while (0)

static enum sip_hdr_id lookup_short(slice n)
{
	switch (n.len) {
	case 1: {
		unsigned char c = lower((unsigned char)n.p[0]);

		return c <= 'z' ? (enum sip_hdr_id)compact_ids[c] : SIP_H_OTHER;
	}
	case 2: TRY("to", SIP_H_TO); break;
	case 3: TRY("via", SIP_H_VIA); break;
	case 4:
		TRY("from", SIP_H_FROM); TRY("cseq", SIP_H_CSEQ);
		TRY("path", SIP_H_PATH); TRY("date", SIP_H_DATE);
		break;
	case 5:
		TRY("route", SIP_H_ROUTE); TRY("allow", SIP_H_ALLOW);
		TRY("event", SIP_H_EVENT);
		break;
	case 6: TRY("server", SIP_H_SERVER); TRY("accept", SIP_H_ACCEPT); break;
	case 7:
		TRY("call-id", SIP_H_CALL_ID); TRY("contact", SIP_H_CONTACT);
		TRY("expires", SIP_H_EXPIRES); TRY("require", SIP_H_REQUIRE);
		TRY("subject", SIP_H_SUBJECT);
		break;
	case 8: TRY("refer-to", SIP_H_REFER_TO); TRY("identity", SIP_H_IDENTITY); break;
	case 9: TRY("supported", SIP_H_SUPPORTED); break;
	}
	return SIP_H_OTHER;
}

static enum sip_hdr_id lookup_long(slice n)
{
	switch (n.len) {
	case 10: TRY("user-agent", SIP_H_USER_AGENT); break;
	case 11:
		TRY("min-expires", SIP_H_MIN_EXPIRES);
		TRY("unsupported", SIP_H_UNSUPPORTED);
		TRY("referred-by", SIP_H_REFERRED_BY);
		break;
	case 12:
		TRY("max-forwards", SIP_H_MAX_FORWARDS);
		TRY("record-route", SIP_H_RECORD_ROUTE);
		TRY("content-type", SIP_H_CONTENT_TYPE);
		TRY("allow-events", SIP_H_ALLOW_EVENTS);
		break;
	case 13:
		TRY("proxy-require", SIP_H_PROXY_REQUIRE);
		TRY("authorization", SIP_H_AUTHORIZATION);
		break;
	case 14: TRY("content-length", SIP_H_CONTENT_LENGTH); break;
	case 15: TRY("session-expires", SIP_H_SESSION_EXPIRES); break;
	case 16:
		TRY("www-authenticate", SIP_H_WWW_AUTHENTICATE);
		TRY("content-encoding", SIP_H_CONTENT_ENCODING);
		break;
	case 18: TRY("proxy-authenticate", SIP_H_PROXY_AUTHENTICATE); break;
	case 19: TRY("proxy-authorization", SIP_H_PROXY_AUTHORIZATION); break;
	}
	return SIP_H_OTHER;
}

#undef TRY

enum sip_hdr_id sip_hdr_lookup(slice name)
{
	if (name.len == 0)
		return SIP_H_OTHER;
	return name.len < 10 ? lookup_short(name) : lookup_long(name);
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	return (unsigned)id < SIP_H_COUNT ? hdr_names[id] : "";
}
