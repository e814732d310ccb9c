# Rampart's build and test frame. Run `make help` for the targets.
#
# Variables:
#   RUNSC   sandbox command prefix for the tests (default: bin/runsc do --, on
#           the default platform, systrap);
#           RUNSC=env runs every test natively twice, to check the harness.
#   T       syscall tests to run, e.g. `make syscall-tests T=mmap` or T="mmap,files".

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

GO      ?= go
CC      ?= gcc
RUNSC   ?= $(CURDIR)/bin/runsc do --
export RUNSC

comma := ,
SYSCALL_DIR   := test/syscalls
SYSCALL_OUT   := $(SYSCALL_DIR)/out
SYSCALL_ALL   := $(sort $(notdir $(basename $(wildcard $(SYSCALL_DIR)/*.c))))
SYSCALL_NAMES := $(if $(T),$(subst $(comma), ,$(T)),$(SYSCALL_ALL))
SYSCALL_HDRS  := $(wildcard $(SYSCALL_DIR)/*.h)
SYSCALL_BINS  := $(foreach v,static pie dynamic,$(addprefix $(SYSCALL_OUT)/$(v)/,$(SYSCALL_NAMES)))
TEST_CFLAGS   := -O2 -Wall -Werror
# The tests build bin/runsc first when they are to run under it.
RUNSC_DEP     := $(if $(findstring $(CURDIR)/bin/runsc,$(RUNSC)),build)

.PHONY: all help build vdso deps deps-demo deps-test deps-bench demo test fmt-check vet \
	gotest syscall-build syscall-tests syscall-tests-rootfs syscall-tests-gofer syscall-tests-native syscall-tests-gofer-root smoke oci network fuzz conformance debian goprog bench clean \
	deps-clients clients \
	systrap-stub syscall-tests-ptrace smoke-ptrace test-ptrace syscall-tests-systrap-nopatch

all: build

help:
	@echo "make build                 bin/runsc (CGO_ENABLED=0)"
	@echo "make vdso                  rebuild the vDSO blob (needs gcc)"
	@echo "make deps                  install missing Debian packages for test and bench"
	@echo "make demo                  build and run a shell in the sandbox"
	@echo "make test                  gofmt, go vet, go test -race, syscall and smoke tests (systrap, ptrace, systrap without patching), oci, clients"
	@echo "make syscall-tests [T=mmap] C tests natively, then under \$$RUNSC"
	@echo "make syscall-tests-rootfs  file C tests with /tmp and /dev/shm on the overlay root"
	@echo "make syscall-tests-gofer   file C tests with /tmp and /dev/shm on gofer-served host dirs"
	@echo "make syscall-tests-native  C tests natively only (checks the tests)"
	@echo "make smoke                 real programs natively and under \$$RUNSC"
	@echo "make network               network e2e: --network=none and --network=host"
	@echo "make oci                   bin/runsc as an OCI runtime on busybox bundles"
	@echo "make fuzz                  random syscalls and code in the sandbox on each platform; Go fuzz targets (FUZZ_SEED, FUZZ_SCALE, GOFUZZ_TIME)"
	@echo "make clients               podman, containerd (ctr) and dockerd driving bin/runsc"
	@echo "make conformance [T=mounts] runtime-tools' OCI validation programs (RUNTIME=runc to compare)"
	@echo "make debian                a Debian minbase userland natively (chroot) and in runsc run"
	@echo "make bench                 microbenchmarks: native, runc, gVisor, Rampart (ptrace, systrap)"
	@echo "make test-ptrace           syscall and smoke tests with --platform=ptrace"
	@echo "make syscall-tests-systrap-nopatch  the syscall tests on systrap without syscall patching"
	@echo "make systrap-stub          rebuild the systrap stub blob (needs gcc)"

build:
	CGO_ENABLED=0 $(GO) build -o bin/runsc ./runsc

vdso:
	@if [ -x sentry/loader/vdso/build.sh ]; then sentry/loader/vdso/build.sh; \
	elif [ -f sentry/loader/vdso/csrc/build.sh ]; then sh sentry/loader/vdso/csrc/build.sh; \
	else echo "no vDSO build script yet"; fi

systrap-stub:
	platform/systrap/stubsrc/build.sh

deps: deps-test deps-bench
deps-demo:
	@tools/install-deps.sh demo
deps-test:
	@tools/install-deps.sh test
deps-bench:
	@tools/install-deps.sh bench
# A client whose package cannot be installed is skipped by test/clients/run.sh
# (which tries it alone again), not a failure here.
deps-clients:
	@tools/install-deps.sh clients || echo "deps-clients: some client packages could not be installed"

demo: deps-demo build
	bin/runsc do -- /bin/sh -c 'echo hello from the sandbox; uname -a; id'

# test runs every stage even when an earlier harness fails, and ends with the
# total of the syscall and smoke tests.
test: deps-test fmt-check vet gotest build
	@rc=0; \
	$(MAKE) --no-print-directory syscall-tests 2>&1 | tee bin/syscall-tests.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory syscall-tests-rootfs 2>&1 | tee bin/syscall-tests-rootfs.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory syscall-tests-gofer 2>&1 | tee bin/syscall-tests-gofer.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory syscall-tests-gofer-root 2>&1 | tee bin/syscall-tests-gofer-root.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory smoke 2>&1 | tee bin/smoke.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory oci 2>&1 | tee bin/oci.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory network 2>&1 | tee bin/network.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory fuzz 2>&1 | tee bin/fuzz.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory debian 2>&1 | tee bin/debian.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory syscall-tests-ptrace 2>&1 | tee bin/syscall-tests-ptrace.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory smoke-ptrace 2>&1 | tee bin/smoke-ptrace.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory syscall-tests-systrap-nopatch 2>&1 | tee bin/syscall-tests-nopatch.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory clients 2>&1 | tee bin/clients.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	tail -q -n 50 bin/syscall-tests.log bin/syscall-tests-rootfs.log bin/syscall-tests-gofer.log bin/syscall-tests-gofer-root.log bin/smoke.log bin/oci.log bin/network.log bin/fuzz.log bin/debian.log bin/syscall-tests-ptrace.log bin/smoke-ptrace.log bin/syscall-tests-nopatch.log bin/clients.log | \
		awk '/^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$$/ { p += $$1; f += $$3; s += $$5; n++ } \
		     END { if (n < 13) f++; printf "total: %d passed, %d failed, %d skipped\n", p, f, s }'; \
	exit $$rc

fmt-check:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files are not formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

gotest:
	$(GO) test -race -timeout 10m ./...
	@# The systrap stub's other way to set the fs and gs bases (hosts
	@# without FSGSBASE take it in the run above).
	if grep -qw fsgsbase /proc/cpuinfo; then SYSTRAP_NOFSGS=1 $(GO) test -count=1 -timeout 5m ./platform/systrap/; fi

syscall-build: $(SYSCALL_BINS)

$(SYSCALL_OUT)/static/%: $(SYSCALL_DIR)/%.c $(SYSCALL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

$(SYSCALL_OUT)/pie/%: $(SYSCALL_DIR)/%.c $(SYSCALL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -static-pie -o $@ $<

$(SYSCALL_OUT)/dynamic/%: $(SYSCALL_DIR)/%.c $(SYSCALL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $<

bin/syscall-runner: $(wildcard $(SYSCALL_DIR)/runner/*.go)
	$(GO) build -o $@ ./$(SYSCALL_DIR)/runner

syscall-tests: syscall-build bin/syscall-runner $(RUNSC_DEP)
	bin/syscall-runner -run "$(SYSCALL_NAMES)"

# The file tests make their files in /tmp or /dev/shm; syscall-tests-rootfs
# runs them again with both on the root filesystem (runsc do --tmp-on-root:
# the overlay over the gofer-served host root) instead of tmpfs.
FILE_TESTS := append_concurrent bad_paths exec_thread fallocate_holes fifo_io fifo_open file_locks \
	files futex_shared getdents_concurrent inotify_basic inotify_errors magic_links mknod_fifo mmap \
	mount_inside openat2 perms read_into rename2_xattr socket_errors splice_family tmpfs_stress unix_stream \
	attr_cache rlimit_fsize path_errors mmap_truncate mmap_vmas lease

syscall-tests-rootfs: syscall-build bin/syscall-runner build
	bin/syscall-runner -runsc "$(CURDIR)/bin/runsc do --tmp-on-root --" -run "$(FILE_TESTS)"

# syscall-tests-gofer runs the same file tests with /tmp and /dev/shm on
# fresh host directories per sandbox bound read-write through the gofer
# (gofer/e2e/do-on-gofer-tmp.sh: runsc do --volume), so the files live on
# the gofer's write path (fs/gofer, gofer/server_write.go), in shared file
# access (a bind mount). Every file test passes there as on tmpfs: hard
# links are one inode, device nodes and whiteouts are placeholders on the
# host, O_TMPFILE goes through the gofer (fs/gofer's package comment).
# The bind mounts are in shared file-access mode (the host may change them),
# so every name is revalidated with a host round trip: tmpfs_stress's
# 100,000 files take ~85 s there on an idle host (2.5 s natively, ~8 s on
# tmpfs or the overlay root), too close to its 120 s limit, which is there
# to catch hangs: this suite's limits are doubled (-limit-scale 2).
syscall-tests-gofer: syscall-build bin/syscall-runner build
	bin/syscall-runner -limit-scale 2 -runsc "$(CURDIR)/gofer/e2e/do-on-gofer-tmp.sh" -run "$(FILE_TESTS)"

# syscall-tests-gofer-root runs them with /tmp on an OCI root written
# through the gofer in exclusive file access (gofer/e2e/on-gofer-root.sh),
# where fs/gofer caches names and attributes. files and mount_inside are
# left out: they check paths under /tmp, a symlink there (to a directory
# of the root, since a /tmp directory gets a tmpfs).
GOFER_ROOT_TESTS := $(filter-out files mount_inside,$(FILE_TESTS))
syscall-tests-gofer-root: syscall-build bin/syscall-runner build
	bin/syscall-runner -limit-scale 2 -runsc "$(CURDIR)/gofer/e2e/on-gofer-root.sh" -run "$(GOFER_ROOT_TESTS)"

syscall-tests-native: syscall-build bin/syscall-runner
	bin/syscall-runner -native-only -run "$(SYSCALL_NAMES)"

# The same suites on the ptrace platform (systrap is the default; part of
# `make test`, with no exclusions: the whole suite passes on both platforms).
PTRACE_RUNSC := $(CURDIR)/bin/runsc --platform=ptrace do --

syscall-tests-ptrace:
	$(MAKE) --no-print-directory syscall-tests RUNSC="$(PTRACE_RUNSC)"

smoke-ptrace:
	$(MAKE) --no-print-directory smoke RUNSC="$(PTRACE_RUNSC)"

# The suite on systrap without syscall patching (patching is on by default).
syscall-tests-systrap-nopatch:
	$(MAKE) --no-print-directory syscall-tests RUNSC="$(CURDIR)/bin/runsc --platform=systrap --systrap-patch=false do --"

test-ptrace: build
	@rc=0; \
	$(MAKE) --no-print-directory syscall-tests-ptrace 2>&1 | tee bin/syscall-tests-ptrace.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory smoke-ptrace 2>&1 | tee bin/smoke-ptrace.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	exit $$rc

# ptydrive drives an interactive shell through a pseudo-terminal (smoke.sh).
bin/ptydrive: test/e2e/ptydrive.c
	@mkdir -p bin
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

# consoledrive plays a console socket's client (oci.sh).
bin/consoledrive: test/e2e/consoledrive.c
	@mkdir -p bin
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

smoke: $(RUNSC_DEP) goprog bin/ptydrive
	test/e2e/smoke.sh

# network checks --network=none and --network=host end to end (ip, ifconfig,
# http.server in and out of the sandbox).
network: build
	test/e2e/network.sh

# fuzz throws random syscalls and random machine code at the sandbox on each
# platform (test/e2e/fuzz.sh); the fuzzers refuse to run outside a sandbox.
fuzz: build bin/sysfuzz bin/codefuzz bin/bpffuzz bin/fsfuzz bin/sockfuzz bin/inetfuzz
	test/e2e/fuzz.sh

bin/sysfuzz: test/e2e/fuzz/sysfuzz.c test/e2e/fuzz/fuzz.h
	@mkdir -p bin
	$(CC) $(TEST_CFLAGS) -static -pthread -o $@ $<

# The differential fuzzers, one static program each; mmfuzz is run by hand
# for now (see its comment for the known differences).
DIFF_FUZZERS := bin/bpffuzz bin/fsfuzz bin/sockfuzz bin/mmfuzz bin/inetfuzz
$(DIFF_FUZZERS): bin/%: test/e2e/fuzz/%.c test/e2e/fuzz/fuzz.h test/e2e/fuzz/slots.h
	@mkdir -p bin
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

# codefuzz's signal handler and recovery path run with whatever fs base the
# random code left: no stack protector (it reads %fs:0x28); static-pie keeps
# the program out of reach of 32-bit absolute addresses.
bin/codefuzz: test/e2e/fuzz/codefuzz.c test/e2e/fuzz/fuzz.h
	@mkdir -p bin
	$(CC) $(TEST_CFLAGS) -fno-stack-protector -static-pie -pthread -o $@ $<

# oci drives bin/runsc as an OCI runtime (create/start/kill/delete …) on
# busybox bundles.
oci: build bin/consoledrive
	test/e2e/oci.sh

# clients drives bin/runsc through podman, containerd's ctr and a dockerd of
# its own (test/clients/run.sh; installs the clients' Debian packages).
clients: deps-clients build
	test/clients/run.sh

# conformance runs opencontainers/runtime-tools' validation programs
# against bin/runsc (or $(RUNTIME)); not part of test.
conformance: build
	test/conformance/run.sh

# debian runs a debootstrap'd Debian userland (cached in
# /var/cache/rampart/debian-minbase) natively and in bin/runsc run.
debian: build
	test/e2e/debian.sh

# goprog is the smoke tests' static Go program.
goprog:
	CGO_ENABLED=0 $(GO) build -o bin/goprog ./test/e2e/goprog

# bench never fails for want of a runtime: one that is missing, or a
# bin/runsc that does not build, shows n/a.
bench: deps-bench
	@$(MAKE) --no-print-directory build || { echo "bench: bin/runsc did not build; Rampart shows n/a"; rm -f bin/runsc; }
	bench/run.sh

clean:
	rm -rf bin $(SYSCALL_OUT) bench/out
