# dagcore developer entry points. CI runs `make test`, `make lint`, `make sanitize`, then `make fuzz`
# (see .ci/run). `make test` runs the C++ tests, pytest, then the web UI's type-check, component
# tests (Vitest) and browser end-to-end tests (Debian's Chromium); `make ui` builds the UI.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

VENV ?= .venv
PY = $(VENV)/bin/python
JOBS ?= 2

# The CMake build directory shared by `pip install -e .` (setup.py) and `make test`.
BUILD_DIR ?= $(or $(DAGCORE_BUILD_DIR),build/release)
SANITIZE_DIR ?= build/sanitize
FUZZ_DIR ?= build/fuzz
FUZZ_SECONDS ?= 60
# Extra libFuzzer flags, e.g. FUZZ_FLAGS=-jobs=2 or -runs=0 (replay the corpus only).
FUZZ_FLAGS ?=

export DAGCORE_BUILD_DIR := $(BUILD_DIR)
export DAGCORE_BUILD_JOBS := $(JOBS)

# Builds driven by make insist on GoogleTest: a missing GTest fails `make test` at configure time
# instead of silently skipping the C++ suites. (Set for every target, not only `test`, so that
# `make demo` and `make test` do not flip build/release's configuration back and forth.)
export DAGCORE_CMAKE_ARGS := $(strip $(DAGCORE_CMAKE_ARGS) -DDAGCORE_REQUIRE_TESTS=ON)

CLANG_FORMAT ?= clang-format
FORMAT_DIRS := cpp tests/cpp

.DEFAULT_GOAL := test
.PHONY: bootstrap ui ui-test test lint demo bench sanitize fuzz format clean

bootstrap:
	bash scripts/bootstrap.sh

# The web UI (ui/ -> python/dagcore/server/static): `npm ci` and `npm run build` when stale
# (scripts/build_ui.sh, also run by bootstrap).
ui:
	bash scripts/build_ui.sh

# The UI's tests, after making sure the build they drive is fresh: tsc, Vitest component tests
# (jsdom), then the end-to-end suite (one `dagcore standalone` on loopback, Debian's Chromium
# through playwright-core; ui/e2e/global-setup.ts) run with this venv's Python.
define UI_TESTS
	bash scripts/build_ui.sh
	cd ui && npx --no-install tsc -b
	cd ui && npm test
	cd ui && DAGCORE_PYTHON=$(abspath $(PY)) npm run e2e
endef

ui-test: bootstrap
	$(UI_TESTS)

test: bootstrap
	cmake --build $(BUILD_DIR) --config Release -j$(JOBS)
	ctest --test-dir $(BUILD_DIR) -C Release --output-on-failure --no-tests=error -j$(JOBS)
	$(PY) -m pytest -q tests/python
	$(UI_TESTS)

# flake8 and mypy on the package (settings in setup.cfg), clang-tidy on the C++ core and bindings
# (.clang-tidy) with $(BUILD_DIR)'s compile_commands.json (GCC's flags: clang is told not to
# mind the GCC-only warning options), and the UI's TypeScript (`tsc -b`, strict: ui/tsconfig.json).
# Every tool runs; any finding fails.
LINT_PY := python/dagcore setup.py
LINT_CXX = $(sort $(wildcard cpp/src/*.cpp cpp/bindings/*.cpp))
CLANG_TIDY ?= clang-tidy

lint: bootstrap
	@if [[ ! -f $(BUILD_DIR)/compile_commands.json ]]; then \
	  set -x; cmake -S . -B $(BUILD_DIR) -DPython_EXECUTABLE=$(abspath $(PY)) -DCMAKE_BUILD_TYPE=Release $(DAGCORE_CMAKE_ARGS); \
	fi
	@failed=(); \
	echo "==> flake8 $(LINT_PY)"; $(PY) -m flake8 $(LINT_PY) || failed+=(flake8); \
	echo "==> mypy (files: see setup.cfg)"; $(PY) -m mypy || failed+=(mypy); \
	echo "==> $(CLANG_TIDY) ($(words $(LINT_CXX)) files, -j$(JOBS))"; \
	printf '%s\n' $(LINT_CXX) | xargs -P$(JOBS) -n1 $(CLANG_TIDY) -p $(BUILD_DIR) --quiet \
	  --warnings-as-errors='*' --extra-arg=-Wno-unknown-warning-option || failed+=(clang-tidy); \
	echo "==> tsc -b (ui/)"; (cd ui && npx --no-install tsc -b) || failed+=(tsc); \
	if (( $${#failed[@]} )); then echo "lint: FAILED: $${failed[*]}" >&2; exit 1; fi; \
	echo "lint: flake8, mypy, clang-tidy and tsc clean"

demo: bootstrap
	PY=$(PY) bash scripts/demo.sh

bench: bootstrap
	@shopt -s nullglob; benches=(benchmarks/*_bench.py); \
	if (( $${#benches[@]} == 0 )); then echo "bench: no benchmarks/*_bench.py found" >&2; exit 1; fi; \
	failed=(); \
	for b in "$${benches[@]}"; do \
	  echo "==> $(PY) $$b"; \
	  $(PY) "$$b" || failed+=("$$b"); \
	done; \
	if (( $${#failed[@]} )); then echo "bench: FAILED: $${failed[*]}" >&2; exit 1; fi; \
	echo "bench: all $${#benches[@]} benchmarks passed"

sanitize:
	bash scripts/bootstrap.sh --no-install
	@generator=(); \
	if [[ ! -f $(SANITIZE_DIR)/CMakeCache.txt ]] && [[ -z "$${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null; then \
	  generator=(-G Ninja); \
	fi; \
	set -x; \
	cmake -S . -B $(SANITIZE_DIR) "$${generator[@]}" \
	  -DCMAKE_BUILD_TYPE=Debug \
	  -DDAGCORE_SANITIZE=ON \
	  -DDAGCORE_BUILD_PYTHON=OFF \
	  -DDAGCORE_REQUIRE_TESTS=ON
	cmake --build $(SANITIZE_DIR) --config Debug --target dagcore_tests -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SANITIZE_DIR) -C Debug --output-on-failure --no-tests=error -j$(JOBS)

# libFuzzer on the cron parser and schedule engine (tests/fuzz/cron_fuzz.cpp) for FUZZ_SECONDS, with
# ASan/UBSan and asserts live. New inputs go to a throwaway copy of the seed corpus; a crash, a
# sanitizer report, a leak or a unit slower than 30 s fails the target and leaves the input in
# $(FUZZ_DIR)/ (crash-*, timeout-*, ...): replay it with `$(FUZZ_DIR)/cron_fuzz <file>`.
fuzz:
	bash scripts/bootstrap.sh --no-install
	@generator=(); \
	if [[ ! -f $(FUZZ_DIR)/CMakeCache.txt ]] && [[ -z "$${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null; then \
	  generator=(-G Ninja); \
	fi; \
	set -x; \
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) "$${generator[@]}" \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	  -DDAGCORE_FUZZ=ON \
	  -DDAGCORE_BUILD_PYTHON=OFF \
	  -DDAGCORE_BUILD_TESTS=OFF
	cmake --build $(FUZZ_DIR) --config RelWithDebInfo --target cron_fuzz -j$(JOBS)
	@corpus=$$(mktemp -d); trap 'rm -rf "$$corpus"' EXIT; \
	cp tests/fuzz/corpus/* "$$corpus"/; \
	set -x; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(FUZZ_DIR)/cron_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=30 \
	    -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_FLAGS) "$$corpus" tests/fuzz/corpus

format:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format: $(CLANG_FORMAT) not found (apt-get install clang-format)" >&2; exit 1; }
	@files=$$(find $(FORMAT_DIRS) -type f \( -name '*.hpp' -o -name '*.h' -o -name '*.cpp' -o -name '*.cc' \) 2>/dev/null | sort); \
	if [[ -z "$$files" ]]; then echo "format: no C++ sources found"; exit 0; fi; \
	echo "$$files" | xargs $(CLANG_FORMAT) -i; \
	echo "format: formatted $$(echo "$$files" | wc -l) files"

clean:
	rm -rf build
	rm -f python/dagcore/_core*.so
