# make demo: set up, build, and run a real container end to end.
# make test: set up, build, lint, unit and integration tests (as root).
CARGO ?= cargo
HOST_TARGET := x86_64-unknown-linux-gnu
HUSK := $(CURDIR)/target/release/husk
RUNTIMETEST := $(CURDIR)/target/$(HOST_TARGET)/release/runtimetest

.PHONY: all deps build runtimetest demo test unit integration lint fmt clean

all: build

deps:
	hack/deps.sh

build: deps
	$(CARGO) build --release -p husk

# Runs inside containers whose rootfs is only busybox: linked statically.
runtimetest: deps
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release -p runtimetest --target $(HOST_TARGET)

demo: build
	HUSK=$(HUSK) hack/demo.sh

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	hack/module-cycles.py

unit: deps
	$(CARGO) test --workspace --exclude husk-integration

integration: build runtimetest
	HUSK_BIN=$(HUSK) RUNTIMETEST_BIN=$(RUNTIMETEST) $(CARGO) test -p husk-integration -- --test-threads=4

test: deps lint unit integration

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

# Tests in a throwaway pure cgroup v2 VM (qemu, cgroup_no_v1=all): see hack/vm/README.md.
# make test-v2: husk-cgroups and integration test binaries, all in one boot.
# make vm-prepare: only install qemu & co. and cache the VM kernel/initramfs.
.PHONY: test-v2 vm-prepare
test-v2: build runtimetest
	HUSK_BIN=$(HUSK) RUNTIMETEST_BIN=$(RUNTIMETEST) hack/vm/test-v2.sh

vm-prepare:
	hack/vm/run.sh --prepare

# make bench: husk vs runc vs crun (hack/bench/README.md); BENCH_QUICK=1 for a
# smoke run, RUNTIMES="husk runc" to choose. Results in hack/bench/results/.
.PHONY: bench
bench: build
	HUSK=$(HUSK) hack/bench/bench.sh

# make e2e: husk, with runc as a control, through real engines: podman, containerd
# (ctr) and containerd's CRI plugin with a `husk` RuntimeClass handler; local
# busybox image, no registry (hack/e2e/README.md). E2E_ARGS="podman" to choose.
.PHONY: e2e
e2e: build
	HUSK=$(HUSK) hack/e2e/run.sh $(E2E_ARGS)

# make e2e-criu: podman checkpoint/restore (with runc as the control) in the
# cgroup-v2 VM, whose kernel CRIU 3.17 accepts (hack/e2e/criu.sh).
.PHONY: e2e-criu
e2e-criu: build
	hack/e2e/deps.sh
	hack/vm/run.sh --timeout 900 -- env E2E_SKIP_DEPS=1 HUSK=$(HUSK) hack/e2e/run.sh criu

# make corpus: run the e2e scenarios with a wrapper that saves every config
# the engines hand husk into integration/corpus/ (the engine ones are
# replaced; the hand-written, spec and example ones are kept).
# make diff: every corpus config under husk and runc, compared; the report
# is printed (integration/tests/diff.rs; `make test` runs it too).
.PHONY: corpus diff
corpus: build
	rm -f integration/corpus/podman-*.json integration/corpus/ctr-*.json integration/corpus/cri-*.json
	HUSK=$(HUSK) E2E_CORPUS=$(CURDIR)/integration/corpus hack/e2e/run.sh $(E2E_ARGS)

diff: build runtimetest
	HUSK_BIN=$(HUSK) RUNTIMETEST_BIN=$(RUNTIMETEST) $(CARGO) test -p husk-integration --test diff -- --nocapture

# make bench-v2: the same benchmark inside the cgroup-v2 VM (quick mode: TCG
# is slow; the ratios are what count). Table: hack/bench/results/*-quick/.
.PHONY: bench-v2
bench-v2: build
	hack/vm/run.sh --timeout 900 -- env BENCH_QUICK=1 HUSK=$(HUSK) hack/bench/bench.sh

# make test-systemd: the systemd cgroup driver (--systemd-cgroup) against a real
# systemd: integration/tests/systemd.rs in one VM boot with systemd as PID 1
# (hack/vm/run.sh --systemd; see hack/vm/README.md). About 20 s of VM time.
.PHONY: test-systemd
test-systemd: build
	HUSK_BIN=$(HUSK) hack/vm/test-systemd.sh

# make fuzz: a bounded (FUZZ_TIME=60 s) cargo-fuzz run over config.json loading
# and validation (fuzz/, its own workspace; hack/fuzz.sh installs cargo-fuzz).
.PHONY: fuzz
fuzz:
	hack/fuzz.sh

# make layout: trace husk's commands and gather the code they run at the start of
# the text (crates/husk/hot-text.ld; hack/layout/README.md), then commit it.
# make layout-check: fail when a lifecycle command runs more than
# LAYOUT_MAX_COLD KiB (default 32) of code outside that section (in CI).
.PHONY: layout layout-check
layout: deps
	hack/layout/gen.sh gen

layout-check: deps
	hack/layout/gen.sh check

# make soak: 1000 create/start/delete cycles (SOAK_RUNS), then zero errors and
# zero leftovers (hack/soak.sh; not in CI).
.PHONY: soak
soak: build
	HUSK=$(HUSK) hack/soak.sh

# make soak-containerd: the same through a private containerd (ctr run --rm,
# husk as the runc shim's binary); p50/p99 of a cycle, zero errors/leftovers.
.PHONY: soak-containerd
soak-containerd: build
	SOAK_MODE=containerd HUSK=$(HUSK) hack/soak.sh
