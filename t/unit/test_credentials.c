/*
 * test_credentials.c — sip_credentials_parse: Digest fields with quotes
 * stripped, LWS and folding, unknown schemes (RFC 4475 regaut01) and
 * malformed credentials.
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <stdio.h>

static struct sip_credentials cr;
static const char *why;

static int parse(const char *s)
{
	why = NULL;
	return sip_credentials_parse(slice_cstr(s), &cr, &why);
}

static void bad(const char *s, const char *want)
{
	IS_INT(parse(s), -22, "rejects %s", s);
	OK(why != NULL, "  with a reason (%s)", why ? why : "none");
	if (want && why)
		IS_SLICE(slice_cstr(why), want, "  reason for %s", s);
}

static void test_digest_fields(void)
{
	IS_INT(parse("Digest username=\"bob\", realm=\"biloxi.example.com\", "
		     "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
		     "uri=\"sip:bob@biloxi.example.com\", qop=auth, nc=00000001, "
		     "cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", "
		     "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", algorithm=MD5"),
	       0, "RFC 3261 style Digest");
	IS_SLICE(cr.scheme, "Digest", "scheme");
	IS_SLICE(cr.username, "bob", "username without quotes");
	IS_SLICE(cr.realm, "biloxi.example.com", "realm");
	IS_SLICE(cr.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "nonce");
	IS_SLICE(cr.uri, "sip:bob@biloxi.example.com", "uri");
	IS_SLICE(cr.qop, "auth", "qop token");
	IS_SLICE(cr.nc, "00000001", "nc");
	IS_SLICE(cr.cnonce, "0a4f113b", "cnonce");
	IS_SLICE(cr.response, "6629fae49393a05397450978507c4ef1", "response");
	IS_SLICE(cr.opaque, "5ccc069c403ebaf9f0171e9517f40e41", "opaque");
	IS_SLICE(cr.algorithm, "MD5", "algorithm");
	OK(cr.params.len > 0 && !memcmp(cr.params.p, "username=", 9), "params start at the first param");
	OK(slice_end(cr.params)[-1] == '5', "params run to the end");
}

static void test_case_and_lws(void)
{
	IS_INT(parse("  digest  USERNAME = \"alice\" ,\r\n  Realm=\"a, b\"\t,nonce=\"\" ,qop=\"auth\"  "),
	       0, "case, LWS, folding, commas in quotes");
	IS_SLICE(cr.scheme, "digest", "scheme as written");
	IS_SLICE(cr.username, "alice", "username");
	IS_SLICE(cr.realm, "a, b", "realm with a comma");
	OK(cr.nonce.p != NULL && cr.nonce.len == 0, "empty quoted nonce");
	IS_SLICE(cr.qop, "auth", "quoted qop stripped");
	OK(cr.response.p == NULL, "absent response");
	IS_INT(parse("Digest username=\"a\\\"b\""), 0, "escaped quote inside");
	IS_SLICE(cr.username, "a\\\"b", "escape kept as written");
}

/* RFC 4475 §3.3.7 regaut01: unknown scheme, only scheme and params. */
static void test_unknown_scheme(void)
{
	IS_INT(parse("NoOneKnowsThisScheme opaque-data=here"), 0, "regaut01");
	IS_SLICE(cr.scheme, "NoOneKnowsThisScheme", "scheme");
	IS_SLICE(cr.params, "opaque-data=here", "params");
	OK(cr.username.p == NULL && cr.opaque.p == NULL, "no typed fields");
	IS_INT(parse("Basic username=\"x\", realm=\"y\""), 0, "another scheme");
	OK(cr.username.p == NULL && cr.realm.p == NULL, "typed fields only for Digest");
}

static void test_malformed(void)
{
	bad("", "Malformed credentials");
	IS_INT(sip_credentials_parse(SLICE_NULL, &cr, &why), -22, "a NULL slice");
	bad("Digest", "Malformed credentials");
	bad("Digest   ", "Malformed credentials");
	bad("Digest ,", "Malformed credentials");
	bad("Digest username", "Malformed credentials");
	bad("Digest username=", "Malformed credentials");
	bad("Digest a=b,,c=d", "Malformed credentials");
	bad("Digest a=b,", "Malformed credentials");
	bad("Digest a=b c=d", "Malformed credentials");
	bad("Digest a=<b>", "Malformed credentials");
	bad("Digest=x", "Malformed credentials");
	bad("Digest username=\"bob", "Unterminated quoted string");
	bad("Digest username=\"a\", username=\"b\"", "Duplicate credentials parameter");
}

static void test_too_many_params(void)
{
	char buf[512] = "Digest p0=x";
	size_t len = strlen(buf);

	for (int i = 1; i < SIP_MAX_PARAMS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",p%d=x", i);
	IS_INT(parse(buf), 0, "SIP_MAX_PARAMS params");
	strcat(buf, ",x=y");
	bad(buf, "Too many credentials parameters");
}

int main(void)
{
	test_digest_fields();
	test_case_and_lws();
	test_unknown_scheme();
	test_malformed();
	test_too_many_params();
	return tap_done();
}
