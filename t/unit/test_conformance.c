/*
 * test_conformance.c — the RFC 4475 torture messages and the RFC 5118 IPv6
 * messages (wire copies) through sip_msg_parse (datagram mode) and, for
 * requests, sip_msg_check. The corpus lives in $CONFORMANCE_DIR (make
 * exports it; default ../shared/conformance from the repo root), listed by
 * each MANIFEST.tsv. One TAP test per message, then the specific facts the
 * RFCs call out. Without the corpus one SKIP line says where it looked.
 */
#include "tap.h"
#include "../../sip/sip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* What pinhole does with a message. */
enum outcome {
	ACCEPT,        /* parses, and a request passes sip_msg_check */
	REJECT_PARSE,  /* sip_msg_parse refuses it */
	REJECT_CHECK,  /* parses, sip_msg_check refuses it */
};

struct result {
	const char *name;
	const char *data;
	size_t len;
	int parse_rc, check_rc;
	struct sip_parse_status st;
	struct sip_msg msg;
	struct sip_contacts contacts;
};

/* Messages whose outcome is not simply "valid: accept, invalid: reject by
 * the parser"; the comment says why. */
static const struct {
	const char *file;
	enum outcome outcome;
	enum sip_parse_error error;
} decisions[] = {
	/* the CSeq method is compared by sip_msg_check, not by the parser */
	{ "mismatch01.dat", REJECT_CHECK, SIP_PERR_BAD_MESSAGE },
	{ "mismatch02.dat", REJECT_CHECK, SIP_PERR_BAD_MESSAGE },
	/* the Contact list is parsed on demand: sip_msg_check refuses it */
	{ "regbadct.dat", REJECT_CHECK, SIP_PERR_BAD_MESSAGE },
	/* well formed, but SIP/7.0: 505 */
	{ "badvers.dat", REJECT_PARSE, SIP_PERR_BAD_VERSION },
	/* "reject 400 or tolerate": pinhole rejects extra SP in the
	 * Request-Line rather than forwarding a line it would have to fix */
	{ "lwsstart.dat", REJECT_PARSE, SIP_PERR_BAD_MESSAGE },
	{ "trws.dat", REJECT_PARSE, SIP_PERR_BAD_MESSAGE },
	/* "accept ignoring Date": pinhole never interprets Date */
	{ "baddate.dat", ACCEPT, SIP_PERR_NONE },
	/* a bare z9hG4bK branch is a transaction-layer matter, not syntax:
	 * the parser accepts it (RFC 2543-style matching applies) */
	{ "badbranch.dat", ACCEPT, SIP_PERR_NONE },
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1); /* exact size: ASan sees overreads */
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static enum outcome expected_outcome(const char *file, const char *kind,
				     enum sip_parse_error *error)
{
	for (unsigned i = 0; i < ARRAY_LEN(decisions); i++) {
		if (strcmp(decisions[i].file, file) == 0) {
			*error = decisions[i].error;
			return decisions[i].outcome;
		}
	}
	*error = strcmp(kind, "valid") == 0 ? SIP_PERR_NONE : SIP_PERR_BAD_MESSAGE;
	return *error == SIP_PERR_NONE ? ACCEPT : REJECT_PARSE;
}

static enum outcome run(struct result *r)
{
	r->check_rc = 0;
	r->parse_rc = sip_msg_parse(r->data, r->len, 0, &r->msg, &r->st);
	if (r->parse_rc < 0)
		return REJECT_PARSE;
	if (r->msg.is_request) {
		sip_contacts_parse(&r->msg, &r->contacts);
		r->check_rc = sip_msg_check(&r->msg, &r->contacts, &r->st);
		if (r->check_rc < 0)
			return REJECT_CHECK;
	}
	return ACCEPT;
}

static const char *outcome_name(enum outcome o)
{
	return o == ACCEPT ? "accept" : o == REJECT_PARSE ? "parser rejects" :
							    "check rejects";
}

/* ---- the specific facts ------------------------------------------------ */

static void contact_facts(const struct result *r, unsigned want,
			  const char *const users[])
{
	struct sip_nameaddr c[8];
	const char *why = NULL;
	unsigned n = 0;
	bool star;

	IS_INT(sip_msg_contacts(&r->msg, c, 8, &n, &star, &why), 0,
	       "%s: contacts parse", r->name);
	IS_INT(n, want, "%s: %u Contact values", r->name, want);
	for (unsigned i = 0; users && i < n && i < want; i++)
		IS_SLICE(c[i].uri.user, users[i], "%s: contact %u user", r->name, i);
}

/* A message framed by Content-Length parses the same way on a stream. */
static void stream_facts(const struct result *r)
{
	static struct sip_msg sm;
	struct sip_parse_status st;

	if (r->msg.content_length < 0)
		return;
	OK(sip_msg_parse(r->data, r->len, SIP_PARSE_STREAM, &sm, &st) == 0 &&
	   sm.len == r->msg.len, "%s: same framing on a stream", r->name);
}

static void facts(const struct result *r)
{
	const struct sip_msg *m = &r->msg;
	const char *n = r->name;

	stream_facts(r);

	if (strcmp(n, "escnull.dat") == 0) {
		static const char *const users[] = { "%00", "%00%00" };

		IS_SLICE(m->to.uri.user, "null-%00-null", "escnull: %%00 not truncated");
		contact_facts(r, 2, users);
	} else if (strcmp(n, "esc02.dat") == 0) {
		IS_INT(m->method_id, SIP_M_OTHER, "esc02: RE%%47IST%%45R is not REGISTER");
		contact_facts(r, 2, NULL);
	} else if (strcmp(n, "dblreq.dat") == 0) {
		IS_INT(m->len, strstr(r->data, "\r\n\r\n") + 4 - r->data,
		       "dblreq: len stops at Content-Length");
		IS_INT(m->body.len, 0, "dblreq: empty body");
	} else if (strcmp(n, "mpart01.dat") == 0) {
		IS_INT(m->body.len, m->content_length, "mpart01: body is Content-Length");
		OK(memchr(m->body.p, 0, m->body.len) != NULL, "mpart01: NUL in body kept");
	} else if (strcmp(n, "semiuri.dat") == 0) {
		IS_SLICE(m->ruri.user, "user;par=u%40example.net", "semiuri: R-URI user");
	} else if (strcmp(n, "longreq.dat") == 0) {
		IS_INT(m->nvia, 34, "longreq: 34 Via values");
	} else if (strcmp(n, "transports.dat") == 0) {
		IS_SLICE(m->via[3].transport, "UNKNOWN", "transports: unknown transport");
	} else if (strcmp(n, "wsinv.dat") == 0) {
		IS_INT(m->max_forwards, 68, "wsinv: Max-Forwards 0068");
		IS_INT(m->cseq.num, 9, "wsinv: CSeq 0009");
		IS_INT(m->nvia, 3, "wsinv: three Via values");
	} else if (strcmp(n, "noreason.dat") == 0) {
		OK(m->status == 100 && m->reason.len == 0, "noreason: 100, empty reason");
	} else if (strcmp(n, "unreason.dat") == 0) {
		OK(m->status == 200 && slice_end(m->reason) == slice_end(m->start_line) &&
		   memchr(m->reason.p, 0xd0, m->reason.len) != NULL,
		   "unreason: the whole UTF-8 reason kept");
	} else if (strcmp(n, "inv2543.dat") == 0) {
		OK(m->content_length == -1 && m->max_forwards == -1 && m->body.len > 0,
		   "inv2543: no Content-Length/Max-Forwards, body to the end");
	} else if (strcmp(n, "zeromf.dat") == 0) {
		IS_INT(m->max_forwards, 0, "zeromf: Max-Forwards 0 (483 is policy)");
	} else if (strcmp(n, "intmeth.dat") == 0) {
		OK(m->method_id == SIP_M_OTHER && slice_eq(m->method, m->cseq.method),
		   "intmeth: unusual method token, CSeq agrees");
	} else if (strcmp(n, "port-ambiguous.dat") == 0) {
		OK(m->ruri.port == 0 && slice_eq(m->ruri.host, slice_cstr("2001:db8::10:5070")),
		   "port-ambiguous: no port, 5070 is part of the address");
	} else if (strcmp(n, "port-unambiguous.dat") == 0) {
		IS_INT(m->ruri.port, 5070, "port-unambiguous: port 5070");
	} else if (strncmp(n, "via-received-param", 18) == 0) {
		IS_SLICE(m->via[0].received, "2001:db8::9:255", "%s: received", n);
	}
}

static void reject_facts(const struct result *r)
{
	const char *why = r->st.reason ? r->st.reason : "";

	if (strcmp(r->name, "insuf.dat") == 0)
		OK(strncmp(why, "Missing ", 8) == 0, "insuf: reason names it (%s)", why);
	else if (strcmp(r->name, "mcl01.dat") == 0)
		IS_SLICE(slice_cstr(why), "Conflicting Content-Length values", "mcl01");
	else if (strcmp(r->name, "clerr.dat") == 0)
		IS_SLICE(slice_cstr(why), "Content-Length larger than message", "clerr");
	else if (strcmp(r->name, "scalar02.dat") == 0)
		IS_SLICE(slice_cstr(why), "Bad CSeq number", "scalar02");
	else if (strncmp(r->name, "mismatch0", 9) == 0)
		IS_SLICE(slice_cstr(why), "CSeq method does not match request method",
			 "%s", r->name);
}

/* ---- the corpus -------------------------------------------------------- */

static void one(const char *dir, const char *file, const char *kind)
{
	static struct result r;
	enum sip_parse_error want_error, got_error;
	enum outcome want, got;
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	r.name = file;
	r.data = read_file(path, &r.len);
	if (!r.data) {
		OK(false, "%s: cannot read %s", file, path);
		return;
	}
	want = expected_outcome(file, kind, &want_error);
	got = run(&r);
	got_error = got == ACCEPT ? SIP_PERR_NONE : r.st.error;
	if (!OK(got == want && got_error == want_error &&
		(got == ACCEPT || (r.st.reason && *r.st.reason)),
		"%s (%s): %s", file, kind, outcome_name(want)))
		tap_diag("  got: %s, error %d, reason '%s'", outcome_name(got),
			 got_error, r.st.reason ? r.st.reason : "");
	else if (got == ACCEPT)
		facts(&r);
	else
		reject_facts(&r);
	free((char *)r.data);
}

static void manifest(const char *base, const char *sub, const char *wire)
{
	char path[1024], line[2048], dir[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/MANIFEST.tsv", base, sub);
	snprintf(dir, sizeof(dir), "%s/%s%s", base, sub, wire);
	f = fopen(path, "r");
	if (!OK(f != NULL, "%s readable", path))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *file = strtok(line, "\t"), *kind;

		if (!file || strtok(NULL, "\t") == NULL || !(kind = strtok(NULL, "\t")))
			continue;
		if (strcmp(file, "file") != 0)
			one(dir, file, kind);
	}
	fclose(f);
}

int main(void)
{
	const char *dir = getenv("CONFORMANCE_DIR");
	struct stat sb;

	if (!dir || !*dir)
		dir = "../shared/conformance";
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		printf("1..0 # SKIP conformance corpus not found at %s\n", dir);
		return 0;
	}
	manifest(dir, "rfc4475", "");
	manifest(dir, "rfc5118", "/wire");
	return tap_done();
}
