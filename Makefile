# Fasco: build, run, test, benchmark.
#   make run          build and run Fasco on its embedded defaults (needs root)
#   make test         everything CI runs
#   make bench        benchmarks, with baselines measured in the same run
#                     (BENCH=transport|pull|pod|pod-ops|pod-memory|runtime|attestation|keys|share|fuzz runs one;
#                     CRITEST=/path/to/critest; FUZZ_MINUTES for fuzz, default 10)
#   make conformance  critest against Fasco (CRITEST=/path/to/critest); conformance-systemd
#                     the same with the systemd cgroup driver, conformance-cgroupv2 on the
#                     host's cgroup v2 hierarchy alone (Tests/cgroupv2/lab.sh)

SHELL := /bin/bash
CC ?= gcc
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
PYTHON_VENV := .build-py
APT_PACKAGES := libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf \
                libcurl4-openssl-dev libarchive-dev libzstd-dev libssl-dev zlib1g-dev \
                crun runc containernetworking-plugins iptables iproute2 gcc \
                systemd dbus libsystemd-dev
BIN_DEBUG := .build/debug
BIN_RELEASE := .build/release

.PHONY: all deps py-deps images build release run test check-generated bench conformance conformance-systemd conformance-cgroupv2 clean

all: build

# Debian packages the build and tests need; installs only what is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi

# Python: grpcio (the independent CRI client of the tests), cbor2 and cryptography (the
# independent CCA token verifier and RMM model in Tests/attestation).
py-deps:
	@[ -x $(PYTHON_VENV)/bin/python ] && $(PYTHON_VENV)/bin/python -c 'import grpc, grpc_tools, cbor2, cryptography' 2>/dev/null || { \
	  python3 -m venv $(PYTHON_VENV) && $(PYTHON_VENV)/bin/pip install -q grpcio grpcio-tools cbor2 cryptography; }

# The test-image kit: OCI images built from Debian packages, served by local registries
# on 127.0.0.1:5000 (plain), :5001 (basic auth) and :5443 (TLS). Idempotent and cached.
images:
	Tests/images/kit.sh all

build: deps
	$(SWIFT) build

# Release binaries link the Swift runtime statically: they run without /opt/swift.
# The per-pod supervisor is plain C: SwiftPM links it through swiftc, which drags in
# libswiftCore (~4 MiB RSS per pod); the release build replaces it with a gcc build of
# the same sources (~1.4 MiB RSS, 0.15 MiB PSS). swift build relinks its own on the
# next run, so this line runs every time.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib
	$(CC) -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -o $(BIN_RELEASE)/fasco-realm Sources/fasco-realm/*.c

check-generated: deps
	proto/generate.sh --check

# Runs Fasco on its embedded defaults (socket unix:///run/fasco/fasco.sock,
# root /var/lib/fasco, state /run/fasco, software backend), imports a busybox image
# built from Debian's busybox-static (no network), runs a pod with a container that
# prints a line, shows its log and status, removes it, and keeps serving until Ctrl-C.
run: release
	@Tests/images/kit.sh deps >/dev/null && Tests/images/kit.sh build >/dev/null
	@set -m; $(BIN_RELEASE)/fasco serve & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null; wait $$pid' INT TERM; \
	for i in $$(seq 1 100); do [ -S /run/fasco/fasco.sock ] && break; sleep 0.05; done; \
	$(BIN_RELEASE)/fasco info && \
	$(BIN_RELEASE)/fasco image import /var/tmp/fasco-images/busybox --name fasco.local/busybox && \
	$(BIN_RELEASE)/fasco demo --image fasco.local/busybox:latest || { kill -TERM $$pid; wait $$pid; exit 1; }; \
	echo "fasco is serving on unix:///run/fasco/fasco.sock (pid $$pid); Ctrl-C stops it"; \
	wait $$pid

test: deps py-deps check-generated images
	$(SWIFT) build --build-tests
	@set -o pipefail; $(SWIFT) test --skip-build 2>&1 | tee .build/test.log; status=$$?; \
	skips=$$(grep -aE '^[^ ]+ Test .*" skipped(:|$$)' .build/test.log || true); \
	echo "skipped: $$(printf '%s' "$$skips" | grep -c . || true) test(s)"; \
	[ -z "$$skips" ] || printf '%s\n' "$$skips" | sed 's/^[^ ]* Test /  /'; \
	exit $$status

bench: release images py-deps
	@command -v containerd >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd >/dev/null; }
	CRITEST="$(CRITEST)" $(BIN_RELEASE)/fasco-bench $(BENCH)

conformance: release images
	Tests/conformance/run-critest.sh "$(BIN_RELEASE)/fasco" "$(CRITEST)"

# The same with the systemd cgroup driver (inside a private systemd where init is not systemd).
conformance-systemd: release images
	FASCO_CGROUP_DRIVER=systemd Tests/conformance/run-critest.sh "$(BIN_RELEASE)/fasco" "$(CRITEST)"

conformance-cgroupv2: release images
	FASCO_CGROUP_V2=1 Tests/conformance/run-critest.sh "$(BIN_RELEASE)/fasco" "$(CRITEST)"

clean:
	rm -rf .build $(PYTHON_VENV)
