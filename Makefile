# SPDX-License-Identifier: GPL-2.0-only
#
# make              build criu-lite/criu-lite (and lib/, the tests' programs)
# make test         the whole test suite (unit, zdtm, zdtm under ASan+UBSan)
# make demo         dump a running program and restore it at the same PID
# make bench        benchmarks against their references
# make install      PREFIX=/usr/local

CC	?= gcc
PREFIX	?= /usr/local
BUILD	?= build
SAN	?=

WARN	:= -Wall -Wextra -Werror -Wno-missing-field-initializers
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 $(WARN) -D_GNU_SOURCE -Ilib -I$(BUILD)/proto -MMD -MP \
	   -I/usr/include/libnl3
LDLIBS	:= -lprotobuf-c -lz -lcap -lnl-idiag-3 -lnl-3 -pthread
ifneq ($(SAN),)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

PROTOS	:= $(wildcard proto/*.proto)
PB_C	:= $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
PB_H	:= $(PB_C:.c=.h)
PB_O	:= $(PB_C:.c=.o)

LIB_SRC	:= $(wildcard lib/*.c)
LIB_O	:= $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
LIB_A	:= $(BUILD)/libcrlite.a

TOOL_SRC := $(wildcard criu-lite/*.c)
TOOL_O	:= $(patsubst %.c,$(BUILD)/%.o,$(TOOL_SRC))
ifeq ($(BUILD),build)
TOOL	:= criu-lite/criu-lite
else
TOOL	:= $(BUILD)/sbin/criu-lite
endif

UNIT_SRC := $(wildcard test/unit/*.c)
UNIT_BIN := $(BUILD)/unit-tests

all: $(TOOL)

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.o: $(BUILD)/proto/%.c
	$(CC) $(CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(BUILD)/%.o: %.c | $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_O)
	$(AR) rcs $@ $^

$(TOOL): $(TOOL_O) $(PB_O) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_BIN): $(UNIT_SRC) $(PB_O) $(filter-out $(BUILD)/criu-lite/main.o,$(TOOL_O)) $(LIB_A)
	$(CC) $(CFLAGS) -Icriu-lite $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

unit: $(UNIT_BIN)

# restore --pidfd-store against a supervisor (run by test/run-all)
PIDFD_TEST := $(BUILD)/test/pidfd_store
$(PIDFD_TEST): test/pidfd_store.c lib/pidfd-store.h lib/kapi.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -Ilib $(filter-out -fsanitize=%,$(LDFLAGS)) -o $@ $<

pidfd-test: $(PIDFD_TEST)

-include test/zdtm/zdtm.mk
-include kernel/kernel.mk
-include bench/bench.mk

asan:
	$(MAKE) BUILD=build/asan SAN=1 build/asan/sbin/criu-lite build/asan/unit-tests

test: all unit asan zdtm pidfd-test
	bash test/run-all

demo: all
	bash scripts/demo

install: all
	install -D -m 0755 criu-lite/criu-lite $(DESTDIR)$(PREFIX)/sbin/criu-lite
	install -D -m 0755 scripts/criu-lite-migrate $(DESTDIR)$(PREFIX)/sbin/criu-lite-migrate
	install -D -m 0644 man/criu-lite.8 $(DESTDIR)$(PREFIX)/share/man/man8/criu-lite.8
	install -D -m 0644 man/criu-lite-migrate.8 $(DESTDIR)$(PREFIX)/share/man/man8/criu-lite-migrate.8
	install -D -m 0644 man/criu-lite-images.5 $(DESTDIR)$(PREFIX)/share/man/man5/criu-lite-images.5

clean:
	rm -rf build criu-lite/criu-lite

.PHONY: all unit asan pidfd-test test demo install clean
.SECONDARY: $(PB_C) $(PB_H)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
