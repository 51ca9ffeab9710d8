# SPDX-License-Identifier: GPL-2.0-only
BENCH_BIN := build/bench-mem
BENCH_TREE_BIN := build/bench-tree
BENCH_DIR := /dev/shm/criu-lite-bench

$(BENCH_BIN): bench/bench-mem.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_TREE_BIN): bench/bench-tree.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o $@ $<

bench: bench-mem bench-tree

bench-mem: all $(BENCH_BIN)
	$(BENCH_BIN) criu-lite/criu-lite $(BENCH_DIR) 1024

bench-tree: all $(BENCH_TREE_BIN)
	$(BENCH_TREE_BIN) criu-lite/criu-lite $(BENCH_DIR)-tree 3

.PHONY: bench bench-mem bench-tree
