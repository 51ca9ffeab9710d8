# SPDX-License-Identifier: GPL-2.0-only
BENCH_BIN := build/bench-mem

$(BENCH_BIN): bench/bench-mem.c
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

bench: all $(BENCH_BIN)
	$(BENCH_BIN) criu-lite/criu-lite /dev/shm/criu-lite-bench 1024

.PHONY: bench
