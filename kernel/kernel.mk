# SPDX-License-Identifier: GPL-2.0
# Kernel series targets; included from the top-level Makefile.
#   make kernel-check   fast CI checks: series applies, checkpatch, selftests compile
#   make kernel-test    build the patched kernel, boot it in qemu, run the selftests
#   make kernel-test-unpatched   same tests on the unpatched kernel (must fail)
KERNEL_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

.PHONY: kernel-test kernel-test-unpatched kernel-check

kernel-test:
	$(KERNEL_DIR)run-qemu

kernel-test-unpatched:
	$(KERNEL_DIR)run-qemu --unpatched

kernel-check:
	$(KERNEL_DIR)ci-fast
