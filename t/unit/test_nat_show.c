/*
 * test_nat_show.c — `nat show AOR` through the ctl command table: the
 * declared and observed addresses, NAT tests by name, keepalive fields and
 * the verdict for a NATed phone, a public one, one flagged without an
 * address change, one not flagged though its address changed, and one
 * added by hand; the AOR argument and an unknown AOR.
 */
#include "tap.h"
#include "../../ctl/ctl.h"
#include "../../conf/conf.h"
#include "../../shm/shm.h"
#include "../../sip/sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

static struct pinhole_conf conf;

static void put(const char *aor, const char *contact, const char *ip, uint16_t port,
		uint8_t flags, uint8_t tests, int64_t keepalive_ms)
{
	struct loc_binding b = { .contact = slice_cstr(contact), .call_id = SLICE_LIT("c"),
				 .user_agent = SLICE_LIT("phone/1.0"),
				 .expires = time(NULL) + 600, .last_modified = time(NULL),
				 .q = -1, .flags = flags, .nat_tests = tests,
				 .last_keepalive_ms = keepalive_ms, .rtt_us = 12500 };
	struct loc_handle h;

	if (ip) {
		b.received = (struct loc_addr){ .family = AF_INET, .proto = CONF_PROTO_UDP,
						.port = port };
		inet_pton(AF_INET, ip, b.received.addr);
	}
	loc_lock(slice_cstr(aor), &h);
	loc_put_locked(&h, &b);
	loc_unlock(&h);
}

/* The one binding of aor as `nat show` reports it (NULL on error). */
static json_t *show(const char *aor, int *rc, char *err, size_t errlen)
{
	const char *argv[] = { "nat", "show", aor };
	struct ctl_ctx ctx = { &conf };
	json_t *result = NULL, *bindings, *b;
	const char *key;

	*rc = ctl_dispatch(&ctx, 3, argv, &result, err, errlen);
	if (*rc < 0)
		return NULL;
	bindings = json_object_get(result, "bindings");
	json_object_foreach(bindings, key, b) {
		json_incref(b);
		json_decref(result);
		return b;
	}
	json_decref(result);
	return NULL;
}

static const char *str(json_t *b, const char *key)
{
	const char *s = json_string_value(json_object_get(b, key));

	return s ? s : "";
}

static void test_nated(void)
{
	char err[256];
	int rc;
	int64_t now_ms = (int64_t)time(NULL) * 1000;

	put("alice@example.com", "sip:alice@10.0.2.15:5060", "203.0.113.2", 40123,
	    LOC_F_NAT | LOC_F_KEEPALIVE, SIP_NAT_CONTACT_PRIVATE | SIP_NAT_VIA_HOST_DIFFERS,
	    now_ms - 3000);
	json_t *b = show("sip:alice@EXAMPLE.com", &rc, err, sizeof(err));

	IS_INT(rc, 0, "nat show of a NATed phone (AOR given as a SIP URI)");
	OK(strcmp(str(b, "declared"), "10.0.2.15:5060") == 0, "declared: the Contact's host:port");
	OK(strcmp(str(b, "received"), "203.0.113.2:40123") == 0, "received: where it came from");
	json_t *tests = json_object_get(b, "nat_tests");
	OK(json_array_size(tests) == 2 &&
	   strcmp(json_string_value(json_array_get(tests, 0)), "contact_private") == 0 &&
	   strcmp(json_string_value(json_array_get(tests, 1)), "via_host_differs") == 0,
	   "the tests that fired, by name");
	OK(json_is_true(json_object_get(b, "nat")) && json_is_true(json_object_get(b, "keepalive")),
	   "nat and keepalive");
	OK(json_integer_value(json_object_get(b, "last_keepalive_ago_s")) >= 2 &&
	   json_real_value(json_object_get(b, "rtt_ms")) == 12.5, "last keepalive and rtt");
	OK(strstr(str(b, "verdict"), "behind NAT: replies and calls go to 203.0.113.2:40123, "
		  "not to the declared 10.0.2.15:5060") != NULL, "verdict: behind NAT (%s)",
	   str(b, "verdict"));
	OK(strstr(str(b, "verdict"), "keepalive answered") != NULL, "verdict: keepalive answered");
	json_decref(b);
}

static void test_other_verdicts(void)
{
	char err[256];
	int rc;
	json_t *b;

	put("bob@example.com", "sip:bob@198.51.100.7:5060", "198.51.100.7", 5060, 0, 0, 0);
	b = show("bob@example.com", &rc, err, sizeof(err));
	OK(strstr(str(b, "verdict"), "not behind NAT: reached at its declared address "
		  "198.51.100.7:5060") != NULL, "public phone: not behind NAT");
	OK(strstr(str(b, "verdict"), "not pinged") != NULL, "and not pinged (nated_only)");
	OK(json_is_null(json_object_get(b, "last_keepalive_ago_s")), "never answered: null");
	json_decref(b);
	put("carol@example.com", "sip:carol@198.51.100.8:5060", "198.51.100.8", 5060,
	    LOC_F_NAT | LOC_F_KEEPALIVE, SIP_NAT_SDP_PRIVATE, 0);
	b = show("carol@example.com", &rc, err, sizeof(err));
	OK(strstr(str(b, "verdict"), "flagged as NATed, though it registered from its declared") &&
	   strstr(str(b, "verdict"), "no keepalive answered yet"),
	   "flagged without an address change (%s)", str(b, "verdict"));
	json_decref(b);
	put("dave@example.com", "sip:dave@192.0.2.9:5060", "198.51.100.9", 7000, 0, 0, 0);
	b = show("dave@example.com", &rc, err, sizeof(err));
	OK(strstr(str(b, "verdict"), "not flagged as NATed, yet it registered from "
		  "198.51.100.9:7000") != NULL, "address changed without the NAT flag");
	json_decref(b);
	put("erin@example.com", "sip:erin@phone.example.net", NULL, 0, 0, 0, 0);
	b = show("erin@example.com", &rc, err, sizeof(err));
	OK(strcmp(str(b, "declared"), "phone.example.net:5060") == 0 &&
	   json_is_null(json_object_get(b, "received")) &&
	   strstr(str(b, "verdict"), "no source address recorded") != NULL,
	   "added by hand: no source address");
	json_decref(b);
}

static void test_errors(void)
{
	char err[256] = "";
	int rc;

	OK(show("nobody@example.com", &rc, err, sizeof(err)) == NULL && rc == -ENOENT &&
	   strstr(err, "no bindings for nobody@example.com"), "unknown AOR: -ENOENT (%s)", err);
	OK(show("not an aor", &rc, err, sizeof(err)) == NULL && rc == -EINVAL,
	   "not an AOR: -EINVAL (%s)", err);
	OK(show("@example.com", &rc, err, sizeof(err)) == NULL && rc == -EINVAL,
	   "no user: -EINVAL");
}

int main(void)
{
	conf_defaults(&conf);
	if (shm_create(16u << 20) < 0 || loc_init(0) < 0) {
		OK(false, "shared memory for the location table");
		return tap_done();
	}
	test_nated();
	test_other_verdicts();
	test_errors();
	shm_detach();
	return tap_done();
}
