# ringway's front door. The real build is CMake; this file installs what is missing, builds,
# runs the demo, runs the tests and the benchmarks.
#
#   make run     build, start two demo backends and ringway on 127.0.0.1:8080, show a request
#   make test    unit tests (Release and Sanitize), fuzz-corpus replay and integration tests

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
# Integration tests in parallel: one per core. Two per core halved their time on 2 cores (the
# Release suite 391 -> 205 s, the ASan one 485 -> 314 s) but two of four fresh-clone runs then
# failed a test under the load (test_robustness's descriptor exhaustion: connection refused;
# grpcio aborting test_health_tls): ITEST_JOBS=4 runs them so.
ITEST_JOBS ?= $(JOBS)
BUILD ?= build
CMAKE_FLAGS ?=

# Debian packages the build and the tests use.
DEPS := build-essential cmake pkg-config python3 python3-h2 python3-prometheus-client curl \
        liburing-dev libyaml-dev libtomlplusplus-dev libabsl-dev chromium chromium-driver python3-selenium \
        libgtest-dev libgmock-dev libbenchmark-dev wrk nghttp2-client \
        nghttp2-server python3-grpcio lintian \
        autoconf automake libtool dpkg-dev libwolfssl-dev openssl ca-certificates testssl.sh
# The peers perf/compare measures against, and perf. Kept apart: their packages start services.
PERF_DEPS := nginx-light haproxy linux-perf
DEPS_STAMP := $(BUILD)/.deps-ok
PERF_DEPS_STAMP := $(BUILD)/.perf-deps-ok

# Installs the missing packages among $(1) (apt-get, as root or through sudo).
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all deps perf-deps build release debug sanitize run test unit integration bench compare fuzz \
        format clean deb profile

all: build

# Installs missing packages once; later builds only check the stamp.
deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	$(call install_missing,$(DEPS))
	@mkdir -p $(BUILD) && touch $@
perf-deps: $(PERF_DEPS_STAMP)
$(PERF_DEPS_STAMP):
	$(call install_missing,$(PERF_DEPS))
	@mkdir -p $(BUILD) && touch $@

build: release
release: deps
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)/release -j$(JOBS)
debug: deps
	@cmake -S . -B $(BUILD)/debug -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)/debug -j$(JOBS)
sanitize: deps
	@cmake -S . -B $(BUILD)/sanitize -DCMAKE_BUILD_TYPE=Sanitize -DRINGWAY_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)/sanitize -j$(JOBS)

# The Debian package of the Release binary: $(BUILD)/deb/ringway_<version>_<arch>.deb.
deb: release
	@bash packaging/build-deb.sh --binary $(BUILD)/release/ringway --out $(BUILD)/deb

# The demo: two backends on 127.0.0.1:3001 and :3002, ringway on 127.0.0.1:8080.
run: deps
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)/release -j$(JOBS) --target ringway
	@bash config/demo.sh $(BUILD)/release/ringway config/ringway.yaml

# Everything: Release unit + fuzz replay + integration tests, then the unit tests and the
# integration tests again under ASan+UBSan.
test: release sanitize
	@cd $(BUILD)/release && ctest --output-on-failure -j$(JOBS) -L 'unit|fuzz'
	@cd $(BUILD)/release && ctest --output-on-failure -j$(ITEST_JOBS) -L integration
	@cd $(BUILD)/sanitize && ctest --output-on-failure -j$(ITEST_JOBS) -L 'unit|fuzz|integration'

unit: release
	@cd $(BUILD)/release && ctest --output-on-failure -j$(JOBS) -L 'unit|fuzz'
integration: release
	@cd $(BUILD)/release && ctest --output-on-failure -j$(ITEST_JOBS) -L integration

bench: release
	@$(BUILD)/release/ringway_bench
	@$(BUILD)/release/ringway_crypto_bench

compare: release perf-deps
	@RINGWAY_BIN=$(BUILD)/release/ringway bash perf/compare

# One perf/compare case with ringway under `perf record -g`: the recording and its reports (by
# function, by thread, by caller) in perf/out/. CASE: a perf/compare case. The Release build
# omits frame pointers (they cost about 5% CPU per request here: perf/RESULTS.md), so the call
# chains are unwound from DWARF CFI by default (PERF_CALL_GRAPH=fp for a frame-pointer build).
CASE ?= small
PERF_CALL_GRAPH ?= dwarf
profile: release perf-deps
	@PERF_RECORD=1 PERF_OUT=$(CURDIR)/perf/out PERF_CALL_GRAPH=$(PERF_CALL_GRAPH) \
	  RINGWAY_BIN=$(BUILD)/release/ringway bash perf/compare --cases $(CASE) --proxies ringway

# libFuzzer runs (clang): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
# Every tests/fuzz/<name>_fuzz.cc, with its corpus in tests/fuzz/corpus/<name>/.
FUZZ_TARGETS := $(patsubst tests/fuzz/%_fuzz.cc,%,$(wildcard tests/fuzz/*_fuzz.cc))
fuzz: deps
	@command -v clang++ >/dev/null || { sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; $$sudo apt-get install -y -qq clang libclang-rt-14-dev; }
	@cmake -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DRINGWAY_FUZZ=ON -DRINGWAY_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD)/fuzz -j$(JOBS) --target $(addsuffix _fuzz,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$t && \
	  $(BUILD)/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

format:
	@find core proto config balance proxy tests perf -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
