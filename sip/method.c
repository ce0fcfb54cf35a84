/*
 * method.c — SIP method names to enum sip_method and back. Methods are
 * case-sensitive tokens (RFC 3261 §7.1): "invite" and "RE%47IST%45R"
 * (RFC 4475 §3.1.1.5) are SIP_M_OTHER. A switch on the length picks the
 * candidates, so a lookup is one or a few memcmp. Pure, any process.
 */
#include "sip.h"

static const char *const method_names[] = {
	[SIP_M_OTHER] = "",
	[SIP_M_INVITE] = "INVITE",
	[SIP_M_ACK] = "ACK",
	[SIP_M_BYE] = "BYE",
	[SIP_M_CANCEL] = "CANCEL",
	[SIP_M_REGISTER] = "REGISTER",
	[SIP_M_OPTIONS] = "OPTIONS",
	[SIP_M_INFO] = "INFO",
	[SIP_M_PRACK] = "PRACK",
	[SIP_M_UPDATE] = "UPDATE",
	[SIP_M_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_M_NOTIFY] = "NOTIFY",
	[SIP_M_MESSAGE] = "MESSAGE",
	[SIP_M_REFER] = "REFER",
	[SIP_M_PUBLISH] = "PUBLISH",
};

#define TRY(m)                                                                 \
	do {                                                                   \
		if (memcmp(t.p, method_names[m], t.len) == 0)                  \
			return m;                                              \
	} while (0)

enum sip_method sip_method_from(slice t)
{
	switch (t.len) {
	case 3: TRY(SIP_M_ACK); TRY(SIP_M_BYE); break;
	case 4: TRY(SIP_M_INFO); break;
	case 5: TRY(SIP_M_PRACK); TRY(SIP_M_REFER); break;
	case 6:
		TRY(SIP_M_INVITE); TRY(SIP_M_CANCEL);
		TRY(SIP_M_UPDATE); TRY(SIP_M_NOTIFY);
		break;
	case 7: TRY(SIP_M_OPTIONS); TRY(SIP_M_MESSAGE); TRY(SIP_M_PUBLISH); break;
	case 8: TRY(SIP_M_REGISTER); break;
	case 9: TRY(SIP_M_SUBSCRIBE); break;
	}
	return SIP_M_OTHER;
}

#undef TRY

const char *sip_method_name(enum sip_method m)
{
	return (unsigned)m < ARRAY_LEN(method_names) ? method_names[m] : "";
}
