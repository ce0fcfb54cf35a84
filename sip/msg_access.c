/*
 * msg_access.c — access to the header lines of a parsed message and the
 * on-demand parsing of list headers (Contact, Route, Record-Route, Path,
 * option tags, Expires) across every line carrying them (RFC 3261 §7.3.1:
 * "Via: a, b" equals two Via lines).
 *
 * Linear scans over at most SIP_MAX_HEADERS lines; nothing is cached in the
 * message, which stays const. A request's Contact list is parsed once by
 * the pipeline into a struct sip_contacts (sip_contacts_parse) that the
 * NAT tests, sip_msg_check and the registrar read. Pure; any process.
 */
#include "sip.h"
#include "scan.h"

#include <errno.h>

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_H_COUNT || msg->first[id] < 0)
		return NULL;
	return &msg->hdrs[msg->first[id]];
}

/* For SIP_H_OTHER the next line with the same name (case-insensitive),
 * so the lines of an unknown header can be walked as well. */
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg,
				       const struct sip_hdr *h)
{
	const struct sip_hdr *end = msg->hdrs + msg->nhdrs;

	for (const struct sip_hdr *n = h + 1; n < end; n++) {
		if (n->id != h->id)
			continue;
		if (h->id != SIP_H_OTHER || slice_caseeq(n->name, h->name))
			return n;
	}
	return NULL;
}

unsigned sip_msg_hdr_count(const struct sip_msg *msg, enum sip_hdr_id id)
{
	unsigned n = 0;

	if ((unsigned)id >= SIP_H_COUNT || msg->first[id] < 0)
		return 0;
	for (unsigned i = (unsigned)msg->first[id]; i < msg->nhdrs; i++)
		n += msg->hdrs[i].id == id;
	return n;
}

/* A known name (long or compact form) finds its id's first line. */
const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *msg, slice name)
{
	enum sip_hdr_id id = sip_hdr_lookup(name);

	if (id != SIP_H_OTHER)
		return sip_msg_hdr(msg, id);
	for (unsigned i = 0; i < msg->nhdrs; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];

		if (h->id == SIP_H_OTHER && slice_caseeq(h->name, name))
			return h;
	}
	return NULL;
}

/* "Contact: *" is only valid as the one and only Contact value
 * (RFC 3261 §10.2.2, §20.10). */
int sip_msg_contacts(const struct sip_msg *msg, struct sip_nameaddr *out,
		     unsigned max, unsigned *n, bool *star, const char **reason)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_H_CONTACT);
	int rc;

	*n = 0;
	*star = false;
	for (; h; h = sip_msg_hdr_next(msg, h)) {
		bool is_star = h->value.len == 1 && h->value.p[0] == '*';

		if (*star || (is_star && *n)) {
			*reason = "Contact * with other contacts";
			return -EINVAL;
		}
		if (is_star) {
			*star = true;
			continue;
		}
		rc = sip_nameaddr_list_parse(h->value, out, max, n, reason);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sip_contacts_parse(const struct sip_msg *msg, struct sip_contacts *out)
{
	out->reason = NULL;
	out->error = sip_msg_contacts(msg, out->v, SIP_MAX_CONTACTS, &out->n,
				      &out->star, &out->reason);
	return out->error;
}

int sip_msg_routes(const struct sip_msg *msg, enum sip_hdr_id id,
		   struct sip_nameaddr *out, unsigned max, unsigned *n,
		   const char **reason)
{
	int rc;

	*n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h;
	     h = sip_msg_hdr_next(msg, h)) {
		rc = sip_nameaddr_list_parse(h->value, out, max, n, reason);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* option-tag *(COMMA option-tag), COMMA = SWS "," SWS (RFC 3261 §20.32).
 * An empty line gives no tag (Supported may be empty, §20.37). */
static int tags_of_line(slice value, int (*fn)(slice tag, void *arg), void *arg)
{
	const char *p = value.p, *end = slice_end(value), *start;
	int rc;

	if (value.len == 0)
		return 0;
	for (;;) {
		start = scan_lws(p, end);
		p = scan_token(start, end);
		if (p == start)
			return -EINVAL;
		rc = fn(slice_between(start, p), arg);
		if (rc)
			return rc;
		p = scan_lws(p, end);
		if (p == end)
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

int sip_msg_option_tags(const struct sip_msg *msg, enum sip_hdr_id id,
			int (*fn)(slice tag, void *arg), void *arg)
{
	int rc;

	for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h;
	     h = sip_msg_hdr_next(msg, h)) {
		rc = tags_of_line(h->value, fn, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* Expires appears at most once; delta-seconds up to 2^32-1 (RFC 4475
 * §3.1.2.4 scalar02 sends 10^100). */
int sip_msg_expires(const struct sip_msg *msg, uint32_t *out)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_H_EXPIRES);

	if (!h)
		return -ENOENT;
	if (sip_msg_hdr_next(msg, h) || slice_to_u32(h->value, UINT32_MAX, out) < 0)
		return -EINVAL;
	return 0;
}
