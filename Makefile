# vpipe: the two commands of the README, and the rest.
#   make demo                  install what is missing, build, synthesize a corpus, scan it
#   make test                  install what is missing, build, run every test
#   make test SANITIZE=address ASan + UBSan build and tests (build-asan/)
#   make test SANITIZE=thread  TSan build and tests (build-tsan/)
#   make bench                 benchmarks (bench/run.sh; figures go to docs/PERFORMANCE.md)
#   make accuracy              the real-photo set (scripts/realphoto), default scan + dedup, its
#                              evaluation for both splits into docs/ACCURACY.md
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

DEMO_DIR ?= demo
DEMO_COUNT ?= 2000

.PHONY: deps build test demo bench accuracy clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DVPIPE_SANITIZE=$(SANITIZE) >/dev/null
	@env -u MAKELEVEL MAKEFLAGS= cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)/bin/vpipe $(DEMO_DIR) $(DEMO_COUNT)

bench:
	@bash scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory build
	@bash bench/run.sh $(BUILD_DIR)

accuracy: build
	@bash scripts/realphoto/accuracy.sh $(BUILD_DIR)

clean:
	rm -rf build build-asan build-tsan $(DEMO_DIR)
