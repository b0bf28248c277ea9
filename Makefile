# vpipe: the two commands of the README, and the rest.
#   make demo                  install what is missing, build, synthesize a corpus, scan it
#   make test                  install what is missing, build, run every test
#   make test SANITIZE=address ASan + UBSan build and tests (build-asan/)
#   make test SANITIZE=thread  TSan build and tests (build-tsan/)
#   make bench                 benchmarks (bench/run.sh; figures go to docs/PERFORMANCE.md)
#   make accuracy              the real-photo set (scripts/realphoto), default scan + dedup, its
#                              evaluation for both splits into docs/ACCURACY.md
#   make fuzz FUZZ_SECONDS=N   the libFuzzer targets (fuzz/, clang, ASan + UBSan, build-fuzz/), each
#                              run N seconds (default 600), two at a time (docs/SECURITY.md)
SHELL := /bin/bash
.DEFAULT_GOAL := build

SANITIZE ?=
JOBS ?= $(shell nproc)
ifeq ($(SANITIZE),)
  BUILD_DIR ?= build
  BUILD_TYPE ?= Release
else ifeq ($(SANITIZE),address)
  BUILD_DIR ?= build-asan
  BUILD_TYPE ?= Debug
else ifeq ($(SANITIZE),thread)
  BUILD_DIR ?= build-tsan
  BUILD_TYPE ?= Debug
else
  $(error SANITIZE must be empty, address or thread)
endif

FUZZ_SECONDS ?= 600

DEMO_DIR ?= demo
DEMO_COUNT ?= 2000

# scripts/install-deps.sh writes this once every package, model and photo is in place; `build`
# runs the installer again only when the stamp is missing or older than the scripts that fetch
# (`make deps` runs it in any case).
DEPS_STAMP := .deps-installed
DEPS_SCRIPTS := scripts/install-deps.sh scripts/fetch-models.sh scripts/realphoto/fetch.sh

.PHONY: deps configure build test demo bench accuracy fuzz clean

deps:
	@VPIPE_DEPS_STAMP=$(DEPS_STAMP) bash scripts/install-deps.sh

$(DEPS_STAMP): $(DEPS_SCRIPTS)
	@VPIPE_DEPS_STAMP=$(DEPS_STAMP) bash scripts/install-deps.sh

configure: $(DEPS_STAMP)
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DVPIPE_SANITIZE=$(SANITIZE) >/dev/null

build: configure
	@env -u MAKELEVEL MAKEFLAGS= cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

# The demo needs the binary (and the LibTorch plugin it loads, built with it), not the tests.
demo: configure
	@env -u MAKELEVEL MAKEFLAGS= cmake --build $(BUILD_DIR) -j$(JOBS) --target vpipe
	@bash scripts/demo.sh $(BUILD_DIR)/bin/vpipe $(DEMO_DIR) $(DEMO_COUNT)

bench:
	@bash scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory build
	@bash bench/run.sh $(BUILD_DIR)

accuracy: build
	@bash scripts/realphoto/accuracy.sh $(BUILD_DIR)

fuzz: $(DEPS_STAMP)
	@JOBS=$(JOBS) bash scripts/fuzz/build.sh build-fuzz
	@bash scripts/fuzz/run.sh -s $(FUZZ_SECONDS) -j 2 -b build-fuzz

clean:
	rm -rf build build-asan build-tsan build-fuzz $(DEMO_DIR) $(DEPS_STAMP)
