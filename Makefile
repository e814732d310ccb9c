# Rampart's build and test frame. Run `make help` for the targets.
#
# Variables:
#   RUNSC   sandbox command prefix for the tests (default: bin/runsc do --);
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
	gotest syscall-build syscall-tests syscall-tests-native smoke oci conformance goprog bench clean

all: build

help:
	@echo "make build                 bin/runsc (CGO_ENABLED=0)"
	@echo "make vdso                  rebuild the vDSO blob (needs gcc)"
	@echo "make deps                  install missing Debian packages for test and bench"
	@echo "make demo                  build and run a shell in the sandbox"
	@echo "make test                  gofmt, go vet, go test -race, syscall tests, smoke tests"
	@echo "make syscall-tests [T=mmap] C tests natively, then under \$$RUNSC"
	@echo "make syscall-tests-native  C tests natively only (checks the tests)"
	@echo "make smoke                 real programs natively and under \$$RUNSC"
	@echo "make oci                   bin/runsc as an OCI runtime on busybox bundles"
	@echo "make conformance [T=mounts] runtime-tools' OCI validation programs (RUNTIME=runc to compare)"
	@echo "make bench                 microbenchmarks: native, runc, gVisor, Rampart"

build:
	CGO_ENABLED=0 $(GO) build -o bin/runsc ./runsc

vdso:
	@if [ -x sentry/loader/vdso/build.sh ]; then sentry/loader/vdso/build.sh; \
	elif [ -f sentry/loader/vdso/csrc/build.sh ]; then sh sentry/loader/vdso/csrc/build.sh; \
	else echo "no vDSO build script yet"; fi

deps: deps-test deps-bench
deps-demo:
	@tools/install-deps.sh demo
deps-test:
	@tools/install-deps.sh test
deps-bench:
	@tools/install-deps.sh bench

demo: deps-demo build
	bin/runsc do -- /bin/sh -c 'echo hello from the sandbox; uname -a; id'

# test runs every stage even when an earlier harness fails, and ends with the
# total of the syscall and smoke tests.
test: deps-test fmt-check vet gotest build
	@rc=0; \
	$(MAKE) --no-print-directory syscall-tests 2>&1 | tee bin/syscall-tests.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory smoke 2>&1 | tee bin/smoke.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	$(MAKE) --no-print-directory oci 2>&1 | tee bin/oci.log; [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	tail -q -n 50 bin/syscall-tests.log bin/smoke.log bin/oci.log | \
		awk '/^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$$/ { p += $$1; f += $$3; s += $$5; n++ } \
		     END { if (n < 3) f++; printf "total: %d passed, %d failed, %d skipped\n", p, f, s }'; \
	exit $$rc

fmt-check:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files are not formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

gotest:
	$(GO) test -race -timeout 10m ./...

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

syscall-tests-native: syscall-build bin/syscall-runner
	bin/syscall-runner -native-only -run "$(SYSCALL_NAMES)"

# ptydrive drives an interactive shell through a pseudo-terminal (smoke.sh).
bin/ptydrive: test/e2e/ptydrive.c
	@mkdir -p bin
	$(CC) $(TEST_CFLAGS) -static -o $@ $<

smoke: $(RUNSC_DEP) goprog bin/ptydrive
	test/e2e/smoke.sh

# oci drives bin/runsc as an OCI runtime (create/start/kill/delete …) on
# busybox bundles.
oci: build
	test/e2e/oci.sh

# conformance runs opencontainers/runtime-tools' validation programs
# against bin/runsc (or $(RUNTIME)); not part of test.
conformance: build
	test/conformance/run.sh

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
