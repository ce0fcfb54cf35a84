# pinhole — build, test, install.
#
#   make              build build/pinhole and build/pinholectl
#   make test         install test dependencies (contrib/deps.sh), run every test
#   make check-asan   the same tests built with ASan + UBSan (in build-asan/)
#   make run          start pinhole in the foreground with conf/pinhole.conf
#   make fuzz         build the libFuzzer harnesses and run each for 60 s
#   make install      PREFIX=/usr/local SYSCONFDIR=$(PREFIX)/etc DESTDIR=
#
# Every .c file of the part folders goes into one static library; the two
# programs and every unit test link against it.

BUILD   ?= build
PREFIX  ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
DESTDIR ?=
CC      ?= cc
PARTS   := base master workers sip relay shm timer db conf ctl

PKGS    := libconfig jansson libxml-2.0 openssl liburing
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wno-unused-parameter -fno-strict-aliasing $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -ldb

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

MAINS    := master/main.c ctl/pinholectl.c
LIB_SRC  := $(filter-out $(MAINS),$(foreach d,$(PARTS),$(wildcard $(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libpinhole.a

UNIT_SRC := $(wildcard t/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%)
TAP_OBJ  := $(BUILD)/t/tap.o

BENCH_SRC := $(wildcard contrib/bench/*.c)
BENCH_BIN := $(BENCH_SRC:contrib/bench/%.c=$(BUILD)/bench/%)

CONFORMANCE_DIR ?= $(abspath ../shared/conformance)
export CONFORMANCE_DIR

.SECONDARY:

.PHONY: all test test-only check-asan run fuzz install clean deps unit integ bench

all: $(BUILD)/pinhole $(BUILD)/pinholectl

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pinhole: $(BUILD)/master/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/pinholectl: $(BUILD)/ctl/pinholectl.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/t/tap.o: t/unit/tap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/t/%: $(BUILD)/t/%.o $(TAP_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/t/%.o: t/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/bench/%: contrib/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@contrib/deps.sh

# prove runs every test program (C unit tests and integration scripts, all
# speaking TAP) and prints the summary; integration tests need root for
# network namespaces only where they say so.
test: deps
	@$(MAKE) --no-print-directory test-only

test-only: all $(UNIT_BIN) $(BENCH_BIN)
	PINHOLE_BUILD=$(abspath $(BUILD)) prove -f --exec '' $(UNIT_BIN) $(sort $(wildcard t/integ/*.t))

unit: all $(UNIT_BIN)
	prove -f --exec '' $(UNIT_BIN)

integ: all
	PINHOLE_BUILD=$(abspath $(BUILD)) prove -f --exec '' $(sort $(wildcard t/integ/*.t))

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 test-only

run: deps all
	$(BUILD)/pinhole -F -f conf/pinhole.conf

bench: all $(BENCH_BIN)

# The message core only: the parser does not need shm, DB or OpenSSL.
FUZZ_SRC := base/slice.c base/log.c base/log_syslog.c sip/chars.c sip/param.c sip/uri.c \
	sip/nameaddr.c sip/credentials.c sip/sdp.c sip/msg.c sip/msg_access.c \
	sip/msg_check.c sip/hdr.c sip/method.c sip/via.c sip/cseq.c
# The rtpproxy control parser and the SDP parser and rewriter: pure functions.
FUZZ_MEDIA_SRC := base/slice.c base/netaddr.c sip/chars.c sip/sdp.c sip/sdp_rewrite.c \
	relay/control_parse.c
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
FUZZ_TIME ?= 60
fuzz: deps
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/media-corpus
	clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/fuzz_parse t/fuzz/fuzz_parse.c $(FUZZ_SRC)
	clang $(FUZZ_CFLAGS) -o $(BUILD)/fuzz/fuzz_media t/fuzz/fuzz_media.c $(FUZZ_MEDIA_SRC)
	cp $(CONFORMANCE_DIR)/rfc4475/*.dat $(CONFORMANCE_DIR)/rfc5118/wire/* $(BUILD)/fuzz/corpus/ 2>/dev/null || true
	cp t/fuzz/media/* $(BUILD)/fuzz/media-corpus/
	for f in $$(grep -l '^v=0' $(CONFORMANCE_DIR)/rfc5118/wire/*.dat); do \
		{ printf s; sed '1,/^\r*$$/d' $$f; } > $(BUILD)/fuzz/media-corpus/sdp-$${f##*/}; \
	done 2>/dev/null || true
	$(BUILD)/fuzz/fuzz_parse -max_total_time=$(FUZZ_TIME) -max_len=8192 \
		-dict=t/fuzz/sip.dict $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_media -max_total_time=$(FUZZ_TIME) -max_len=4096 \
		-dict=t/fuzz/media.dict $(BUILD)/fuzz/media-corpus

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(SYSCONFDIR)/pinhole $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BUILD)/pinhole $(DESTDIR)$(PREFIX)/sbin/pinhole
	install -m 0755 $(BUILD)/pinholectl $(DESTDIR)$(PREFIX)/bin/pinholectl
	install -m 0644 conf/pinhole.conf $(DESTDIR)$(SYSCONFDIR)/pinhole/pinhole.conf
	install -m 0644 conf/pinhole.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/pinhole.conf.5
	install -m 0644 master/pinhole.8 $(DESTDIR)$(PREFIX)/share/man/man8/pinhole.8
	install -m 0644 ctl/pinholectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/pinholectl.8

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
