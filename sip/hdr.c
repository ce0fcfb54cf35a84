/*
 * hdr.c — header names: long and compact forms (RFC 3261 §7.3.3, §20 and
 * the IANA compact-form registry) to enum sip_hdr_id and back.
 *
 * sip_hdr_lookup runs for every header line of every message, so it is a
 * table slot from a hash of the length and the first and last letters,
 * then one case-insensitive compare done a word at a time: no loop over
 * the names and no chain of branches to mispredict. Pure, any process.
 */
#include "sip.h"
#include "scan.h"

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

/* Long forms: a hash of the length and of the first and last letters
 * (& 31 folds case) gives one slot per known name, holding the name in
 * lower case (zero-padded so word loads stay inside), its length and its
 * id: one table load, then one word-wise compare confirms it. The table is
 * collision-free, which -Woverride-init (in -Wextra) checks at build time. */
#define SLOT(len, first, last) \
	(((len) + ((first) & 31) * 33 + ((last) & 31)) & 127)
#define LONG(lc, first, last, id) \
	[SLOT(sizeof(lc) - 1, first, last)] = { lc, sizeof(lc) - 1, id }

static const struct {
	char name[30];
	uint8_t len;
	uint8_t id;
} slots[128] = {
	LONG("to", 't', 'o', SIP_H_TO),
	LONG("via", 'v', 'a', SIP_H_VIA),
	LONG("from", 'f', 'm', SIP_H_FROM),
	LONG("cseq", 'c', 'q', SIP_H_CSEQ),
	LONG("path", 'p', 'h', SIP_H_PATH),
	LONG("date", 'd', 'e', SIP_H_DATE),
	LONG("route", 'r', 'e', SIP_H_ROUTE),
	LONG("allow", 'a', 'w', SIP_H_ALLOW),
	LONG("event", 'e', 't', SIP_H_EVENT),
	LONG("server", 's', 'r', SIP_H_SERVER),
	LONG("accept", 'a', 't', SIP_H_ACCEPT),
	LONG("call-id", 'c', 'd', SIP_H_CALL_ID),
	LONG("contact", 'c', 't', SIP_H_CONTACT),
	LONG("expires", 'e', 's', SIP_H_EXPIRES),
	LONG("require", 'r', 'e', SIP_H_REQUIRE),
	LONG("subject", 's', 't', SIP_H_SUBJECT),
	LONG("refer-to", 'r', 'o', SIP_H_REFER_TO),
	LONG("identity", 'i', 'y', SIP_H_IDENTITY),
	LONG("supported", 's', 'd', SIP_H_SUPPORTED),
	LONG("user-agent", 'u', 't', SIP_H_USER_AGENT),
	LONG("min-expires", 'm', 's', SIP_H_MIN_EXPIRES),
	LONG("unsupported", 'u', 'd', SIP_H_UNSUPPORTED),
	LONG("referred-by", 'r', 'y', SIP_H_REFERRED_BY),
	LONG("max-forwards", 'm', 's', SIP_H_MAX_FORWARDS),
	LONG("record-route", 'r', 'e', SIP_H_RECORD_ROUTE),
	LONG("content-type", 'c', 'e', SIP_H_CONTENT_TYPE),
	LONG("allow-events", 'a', 's', SIP_H_ALLOW_EVENTS),
	LONG("proxy-require", 'p', 'e', SIP_H_PROXY_REQUIRE),
	LONG("authorization", 'a', 'n', SIP_H_AUTHORIZATION),
	LONG("content-length", 'c', 'h', SIP_H_CONTENT_LENGTH),
	LONG("session-expires", 's', 's', SIP_H_SESSION_EXPIRES),
	LONG("www-authenticate", 'w', 'e', SIP_H_WWW_AUTHENTICATE),
	LONG("content-encoding", 'c', 'g', SIP_H_CONTENT_ENCODING),
	LONG("proxy-authenticate", 'p', 'e', SIP_H_PROXY_AUTHENTICATE),
	LONG("proxy-authorization", 'p', 'n', SIP_H_PROXY_AUTHORIZATION),
};

/*
 * Whether the bytes at p equal the lower-case name bytes lc ignoring ASCII
 * case, one word at a time: OR-ing 0x20 into p where lc has a letter (bit
 * 6 set, moved to bit 5 by the shift) folds exactly 'A'-'Z' onto 'a'-'z'
 * there; where lc has '-' (bit 6 clear) p must hold '-' itself. The names
 * are letters and '-' only.
 */
static inline bool eq8(const char *p, const char *lc)
{
	uint64_t l = scan_load8(lc);

	return (scan_load8(p) | ((l >> 1) & 0x2020202020202020ull)) == l;
}

static inline bool eq2(const char *p, const char *lc)
{
	uint16_t l = scan_load2(lc);

	return (uint16_t)(scan_load2(p) | ((l >> 1) & 0x2020u)) == l;
}

/* Whether the n bytes at p (2 <= n < 24) equal the lower-case lc ignoring
 * ASCII case: two or three overlapping word compares, never a load outside
 * p[0..n). */
static bool name_eq(const char *p, const char *lc, unsigned n)
{
	if (n >= 8)
		return eq8(p, lc) && (n <= 16 || eq8(p + 8, lc + 8)) &&
		       eq8(p + n - 8, lc + n - 8);
	if (n >= 4)
		return scan_caseeq4(p, lc) && scan_caseeq4(p + n - 4, lc + n - 4);
	return eq2(p, lc) && eq2(p + n - 2, lc + n - 2);
}

enum sip_hdr_id sip_hdr_lookup(slice name)
{
	unsigned char c;
	unsigned slot;

	if (name.len == 1) {
		c = (unsigned char)name.p[0] | 0x20; /* a letter only from one */
		return c <= 'z' ? (enum sip_hdr_id)compact_ids[c] : SIP_H_OTHER;
	}
	if (name.len < 2 || name.len >= 24)
		return SIP_H_OTHER;
	slot = SLOT(name.len, name.p[0], name.p[name.len - 1]);
	if (slots[slot].len == name.len &&
	    name_eq(name.p, slots[slot].name, name.len))
		return (enum sip_hdr_id)slots[slot].id;
	return SIP_H_OTHER;
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	return (unsigned)id < SIP_H_COUNT ? hdr_names[id] : "";
}
