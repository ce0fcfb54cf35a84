/*
 * test_stream_frame.c — framing SIP on a stream (workers/stream_frame.c):
 * Content-Length (long and compact, any case, odd spacing), partial
 * headers and bodies, keepalive CRLFs between messages, and the limits.
 */
#include "tap.h"
#include "../../workers/stream_int.h"

#include <string.h>

#define REQ "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"

static enum frame_result frame(const char *s, size_t *len)
{
	return stream_frame(s, strlen(s), 4096, 8192, len);
}

static void test_whole_messages(void)
{
	const char *a = REQ "Content-Length: 4\r\n\r\nbody";
	const char *b = REQ "l:   0\r\n\r\n";
	const char *c = REQ "content-LENGTH\t :\t2\r\n\r\nxyREST";
	size_t len = 0;

	IS_INT(frame(a, &len), FRAME_MESSAGE, "Content-Length: the body included");
	IS_INT((int)len, (int)strlen(a), "length of headers and body");
	IS_INT(frame(b, &len), FRAME_MESSAGE, "compact form l:");
	IS_INT((int)len, (int)strlen(b), "no body");
	IS_INT(frame(c, &len), FRAME_MESSAGE, "any case, spaces and tabs around the colon");
	IS_INT((int)len, (int)strlen(c) - 4, "bytes after the body are the next message");
}

static void test_partial(void)
{
	const char *a = REQ "Content-Length: 10\r\n\r\nshort";
	size_t len = 0;

	IS_INT(frame(REQ "Content-Le", &len), FRAME_NEED_MORE, "headers not finished");
	IS_INT(frame(a, &len), FRAME_NEED_MORE, "body not finished");
	IS_INT(frame("\r", &len), FRAME_NEED_MORE, "a lone CR");
	IS_INT(frame("\r\n\r", &len), FRAME_NEED_MORE, "three bytes of a ping");
}

static void test_keepalives(void)
{
	size_t len = 0;

	IS_INT(frame("\r\n\r\nOPTIONS", &len), FRAME_PING, "CRLFCRLF is a ping");
	IS_INT((int)len, 4, "of four bytes");
	IS_INT(frame("\r\nOPTIONS", &len), FRAME_PONG, "a lone CRLF is a pong");
	IS_INT((int)len, 2, "of two bytes");
}

static void test_defects(void)
{
	char big[5000];
	size_t len = 0;

	IS_INT(frame(REQ "\r\n", &len), FRAME_NO_LENGTH, "no Content-Length on a stream");
	IS_INT((int)len, (int)strlen(REQ "\r\n"), "the headers are still delimited");
	IS_INT(frame(REQ "Content-Length: x\r\n\r\n", &len), FRAME_BAD, "a length that is no number");
	IS_INT(frame(REQ "Content-Length: 9000\r\n\r\n", &len), FRAME_TOO_LARGE,
	       "a body past max_message");
	memset(big, 'a', sizeof(big));
	memcpy(big, REQ, strlen(REQ));
	IS_INT(stream_frame(big, sizeof(big), 4096, 8192, &len), FRAME_TOO_LARGE,
	       "a header block past max_header");
	IS_INT(stream_frame(big, 4000, 4096, 8192, &len), FRAME_NEED_MORE,
	       "just under max_header: more may come");
}

int main(void)
{
	test_whole_messages();
	test_partial();
	test_keepalives();
	test_defects();
	return tap_done();
}
