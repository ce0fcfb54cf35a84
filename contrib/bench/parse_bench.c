/*
 * parse_bench.c — how long pinhole takes to parse a SIP message.
 *
 * Prints nanoseconds per message for (1) a typical ~900-byte INVITE with
 * SDP, embedded below, parsed the way the proxy does (sip_msg_parse, then
 * the Contact list and the Route and Record-Route sets), and (2) the valid
 * RFC 4475 torture messages (from $CONFORMANCE_DIR, default
 * ../shared/conformance), averaged over the set, parsed alone and the
 * proxy's way. Each figure is the best
 * of 25 timed runs. Target: < 1000 ns for (1).
 * Usage: parse_bench [iterations]
 */
#include "../../sip/sip.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char invite[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a6f21;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sip:proxy.biloxi.example.com;lr>\r\n"
	"Record-Route: <sip:edge.atlanta.example.com;lr;nat=yes>\r\n"
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	"To: Bob <sip:bob@biloxi.example.com>\r\n"
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: \"Alice\" <sip:alice@192.168.1.23:5060;transport=udp>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REFER, NOTIFY\r\n"
	"Supported: replaces, timer\r\n"
	"User-Agent: ExamplePhone/4.2.1\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 266\r\n"
	"\r\n"
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 192.168.1.23\r\n"
	"s=-\r\n"
	"c=IN IP4 192.168.1.23\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0 8 9 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

struct sample {
	const char *data;
	size_t len;
};

static struct sip_msg msg;
static struct sip_nameaddr addrs[16];


static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* What a proxy parses for each request; returns non-zero on a failure. */
static int parse_like_proxy(const struct sample *s, bool lists)
{
	struct sip_parse_status st;
	const char *why;
	unsigned n;
	bool star;

	if (sip_msg_parse(s->data, s->len, 0, &msg, &st) < 0)
		return 1;
	if (!lists)
		return 0;
	return sip_msg_contacts(&msg, addrs, 16, &n, &star, &why) < 0 ||
	       sip_msg_routes(&msg, SIP_H_ROUTE, addrs, 16, &n, &why) < 0 ||
	       sip_msg_routes(&msg, SIP_H_RECORD_ROUTE, addrs, 16, &n, &why) < 0;
}

/* Average ns per message over iters passes of the set, as the best of
 * RUNS timed runs: short runs and the minimum keep other processes on a
 * shared machine out of the figure. */
#define RUNS 25

static double time_set(const struct sample *set, unsigned n, unsigned iters,
		       bool lists)
{
	unsigned per_run = iters / RUNS + 1;
	double best = 1e30;

	for (int run = 0; run < RUNS; run++) {
		double t0 = now_ns(), per;
		unsigned fails = 0;

		for (unsigned i = 0; i < per_run; i++)
			for (unsigned k = 0; k < n; k++)
				fails += (unsigned)parse_like_proxy(&set[k], lists);
		per = (now_ns() - t0) / ((double)per_run * n);
		if (fails) {
			fprintf(stderr, "parse_bench: %u parse failures\n", fails);
			exit(1);
		}
		if (per < best)
			best = per;
	}
	return best;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = n >= 0 ? malloc((size_t)n) : NULL;
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The RFC 4475 messages of kind "valid" (all of them parse, lists too). */
static unsigned load_valid_set(const char *dir, struct sample *set, unsigned max)
{
	char path[4096], line[2048];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/rfc4475/MANIFEST.tsv", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *file = strtok(line, "\t"), *kind;

		if (!file || !strtok(NULL, "\t") || !(kind = strtok(NULL, "\t")) ||
		    strcmp(kind, "valid") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/rfc4475/%s", dir, file);
		set[n].data = read_file(path, &set[n].len);
		if (set[n].data && parse_like_proxy(&set[n], true) == 0)
			n++;
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;
	const char *dir = getenv("CONFORMANCE_DIR");
	struct sample inv = { invite, sizeof(invite) - 1 }, set[64];
	unsigned n;

	if (!dir || !*dir)
		dir = "../shared/conformance";
	if (parse_like_proxy(&inv, true)) {
		fprintf(stderr, "parse_bench: the embedded INVITE does not parse\n");
		return 1;
	}
	printf("INVITE with SDP (%zu bytes), parse only:            %7.0f ns/msg\n",
	       inv.len, time_set(&inv, 1, iters, false));
	printf("INVITE with SDP (%zu bytes), parse+contacts+routes: %7.0f ns/msg (target < 1000)\n",
	       inv.len, time_set(&inv, 1, iters, true));
	n = load_valid_set(dir, set, ARRAY_LEN(set));
	if (!n) {
		printf("RFC 4475 valid set: not found under %s\n", dir);
		return 0;
	}
	printf("RFC 4475 valid set (%u messages), parse only:        %7.0f ns/msg\n",
	       n, time_set(set, n, iters / 20 + 1, false));
	printf("RFC 4475 valid set (%u messages), parse+contacts+routes: %4.0f ns/msg\n",
	       n, time_set(set, n, iters / 20 + 1, true));
	return 0;
}
