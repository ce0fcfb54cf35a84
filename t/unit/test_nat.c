/*
 * test_nat.c — every nat_uac_test bit of sip_nat_detect, and the address
 * classification behind them.
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

static struct sockaddr_in src4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

/* Builds an INVITE with the given Via sent-by, Contact host and SDP c=. */
static int parse(char *buf, size_t cap, struct sip_msg *msg, const char *via,
		 const char *contact, const char *sdp_ip)
{
	char body[256] = "";
	struct sip_parse_status st;
	int n;

	if (sdp_ip)
		snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
			 "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", sdp_ip, sdp_ip);
	n = snprintf(buf, cap,
		     "INVITE sip:bob@example.com SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s;branch=z9hG4bK1\r\n"
		     "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
		     "Call-ID: nat-test\r\nCSeq: 1 INVITE\r\n"
		     "Contact: <sip:alice@%s>\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     via, contact, strlen(body), body);
	return sip_msg_parse(buf, (size_t)n, 0, msg, &st);
}

static unsigned detect(const char *via, const char *contact, const char *sdp_ip,
		       const char *src_ip, uint16_t src_port, unsigned mask)
{
	static char buf[2048];
	static struct sip_msg msg;
	static struct sip_contacts contacts;
	struct sockaddr_in src = src4(src_ip, src_port);

	if (parse(buf, sizeof(buf), &msg, via, contact, sdp_ip) < 0)
		return 0xffff;
	sip_contacts_parse(&msg, &contacts);
	return sip_nat_detect(&msg, &contacts, (struct sockaddr *)&src, mask);
}

static void test_private_addresses(void)
{
	OK(sip_addr_is_private(SLICE_LIT("10.0.2.15")), "10/8 is private");
	OK(sip_addr_is_private(SLICE_LIT("172.16.0.1")), "172.16/12 is private");
	OK(sip_addr_is_private(SLICE_LIT("172.31.255.255")), "172.31.x is private");
	OK(!sip_addr_is_private(SLICE_LIT("172.32.0.1")), "172.32.x is public");
	OK(sip_addr_is_private(SLICE_LIT("192.168.1.1")), "192.168/16 is private");
	OK(sip_addr_is_private(SLICE_LIT("100.64.0.1")), "100.64/10 (CGN) is private");
	OK(!sip_addr_is_private(SLICE_LIT("100.128.0.1")), "100.128.x is public");
	OK(!sip_addr_is_private(SLICE_LIT("203.0.113.5")), "203.0.113.5 is public");
	OK(sip_addr_is_private(SLICE_LIT("fd00::1")), "fc00::/7 is private");
	OK(sip_addr_is_private(SLICE_LIT("::ffff:10.1.2.3")), "v4-mapped private is private");
	OK(!sip_addr_is_private(SLICE_LIT("2001:db8::1")), "2001:db8::1 is not private");
	OK(!sip_addr_is_private(SLICE_LIT("pc.example.com")), "a host name is not private");
	OK(!sip_addr_is_private(SLICE_LIT("10.0.2.15.example.com")), "a name that starts like an IP is not");
}

/* The dotted quads inet_pton(AF_INET) refuses are not addresses either. */
static void test_ipv4_syntax(void)
{
	OK(sip_addr_is_private(SLICE_LIT("10.255.0.0")), "255 and 0 octets");
	OK(!sip_addr_is_private(SLICE_LIT("10.256.0.1")), "an octet above 255");
	OK(!sip_addr_is_private(SLICE_LIT("10.0.02.15")), "a leading zero");
	OK(!sip_addr_is_private(SLICE_LIT("10.0.2")), "three octets");
	OK(!sip_addr_is_private(SLICE_LIT("10.0.2.15.")), "a trailing dot");
	OK(!sip_addr_is_private(SLICE_LIT("10..2.15")), "an empty octet");
	OK(!sip_addr_is_private(SLICE_LIT("10.0.2.15 ")), "a trailing space");
	OK(!sip_addr_is_private(SLICE_LIT("10.0.2.1000000000015")), "a long octet");
	OK(!sip_addr_is_private(SLICE_LIT("")), "empty");
	OK(sip_addr_is_private(slice_make("10.0.2.15x", 9)), "only the slice counts");
}

static void test_addr_equals(void)
{
	struct sockaddr_in s = src4("203.0.113.2", 5060);

	OK(sip_addr_equals(SLICE_LIT("203.0.113.2"), (struct sockaddr *)&s), "same IPv4 equals");
	OK(!sip_addr_equals(SLICE_LIT("203.0.113.3"), (struct sockaddr *)&s), "other IPv4 differs");
	OK(!sip_addr_equals(SLICE_LIT("host.example.com"), (struct sockaddr *)&s), "a name differs");
}

static void test_each_bit(void)
{
	/* A UA at 10.0.2.15:5060 behind a NAT whose public side is 203.0.113.2. */
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "203.0.113.2", 40000, 1),
	       1, "bit 1: Contact host private");
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "203.0.113.2", 40000, 2),
	       2, "bit 2: Via host differs from the source");
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "203.0.113.2", 40000, 4),
	       4, "bit 4: Via host private");
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "203.0.113.2", 40000, 8),
	       8, "bit 8: SDP c= private");
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "203.0.113.2", 40000, 16),
	       16, "bit 16: Via port differs from the source port");
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "10.0.2.15", 5060, 32),
	       32, "bit 32: source private");
	IS_INT(detect("10.0.2.15:5060", "10.0.2.15:5060", "10.0.2.15", "203.0.113.2", 40000, 19),
	       19, "default mask 19 fires 1+2+16 for a NATed UA");
}

static void test_not_nated(void)
{
	IS_INT(detect("198.51.100.7:5060", "198.51.100.7:5060", "198.51.100.7", "198.51.100.7", 5060,
		      SIP_NAT_ALL), 0, "a public UA sending from its declared address fires nothing");
	IS_INT(detect("198.51.100.7", "198.51.100.7", NULL, "198.51.100.7", 5060, SIP_NAT_ALL),
	       0, "a Via without port means 5060");
	IS_INT(detect("198.51.100.7:5062", "198.51.100.7", NULL, "198.51.100.7", 5062, 0),
	       0, "mask 0 runs no test");
	IS_INT(detect("198.51.100.7:5060", "198.51.100.7", NULL, "198.51.100.7", 5060, 8),
	       0, "no SDP body: bit 8 does not fire");
}

/* The Contact test reads the parsed list it is given: its first values,
 * those before a defect too, never a value past the eighth. */
static unsigned contact_bit(const char *contact_lines)
{
	static char buf[4096];
	static struct sip_msg msg;
	static struct sip_contacts contacts;
	struct sip_parse_status st;
	struct sockaddr_in src = src4("198.51.100.7", 5060);
	int n = snprintf(buf, sizeof(buf),
			 "OPTIONS sip:bob@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n"
			 "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
			 "Call-ID: nat-contacts\r\nCSeq: 1 OPTIONS\r\n%s"
			 "Content-Length: 0\r\n\r\n", contact_lines);

	if (sip_msg_parse(buf, (size_t)n, 0, &msg, &st) < 0)
		return 0xffff;
	sip_contacts_parse(&msg, &contacts);
	return sip_nat_detect(&msg, &contacts, (struct sockaddr *)&src, SIP_NAT_ALL);
}

static void test_contact_list(void)
{
	IS_INT(contact_bit("Contact: <sip:a@198.51.100.7>, <sip:b@10.0.2.15>\r\n"), 1,
	       "a private second Contact fires bit 1");
	IS_INT(contact_bit("Contact: <sip:a@10.0.2.15>, <sip:b@h\r\n"), 1,
	       "a private Contact before a defect still counts");
	IS_INT(contact_bit("Contact: <sip:a@h>\r\nContact: *\r\nContact: <sip:c@10.0.2.15>\r\n"), 0,
	       "nothing after the defect is looked at");
	IS_INT(contact_bit("Contact: *\r\n"), 0, "Contact * has no address");
	IS_INT(contact_bit(""), 0, "no Contact");
	IS_INT(contact_bit("Contact: <sip:1@h>,<sip:2@h>,<sip:3@h>,<sip:4@h>,<sip:5@h>,"
			   "<sip:6@h>,<sip:7@h>,<sip:8@10.0.2.15>\r\n"), 1,
	       "the eighth Contact is tested");
	IS_INT(contact_bit("Contact: <sip:1@h>,<sip:2@h>,<sip:3@h>,<sip:4@h>,<sip:5@h>,"
			   "<sip:6@h>,<sip:7@h>,<sip:8@h>,<sip:9@10.0.2.15>\r\n"), 0,
	       "the ninth is not");
}

int main(void)
{
	test_private_addresses();
	test_ipv4_syntax();
	test_addr_equals();
	test_each_bit();
	test_not_nated();
	test_contact_list();
	return tap_done();
}
