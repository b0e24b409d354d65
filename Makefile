# Shortcuts over CMake. `make` builds build/escudo; `make test` runs every test.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test check heavy asan fuzz bench format format-check clean demo install

all: build

deps:
	@sh tools/setup.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The binary, its man page and its bash and zsh completions under PREFIX (bin/, share/).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Everything CI runs: the layering and formatting checks, a -Werror build with the test suite,
# then the suite under ASan+UBSan.
check: deps
	@python3 tools/layers.py
	@$(MAKE) --no-print-directory format-check
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESC_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE heavy
	@$(MAKE) --no-print-directory asan ASAN_CTEST_ARGS="-LE 'slow|heavy'"
	@VALGRIND_SKIP="$(VALGRIND_SKIP)" FUZZ_RUNS=5000 FUZZ_SECONDS=10 bash tools/hardening.sh

# Unit tests too slow for valgrind in CI's budget (they run under ASan+UBSan instead):
# test_sched_window is arithmetic over a year of schedules (190 s under valgrind, 1.5 s plain).
VALGRIND_SKIP = test_evtx_damage test_run_property test_json_reader test_json_diff \
	test_spl_escu test_spl_alloc test_content_alloc test_sched_checkpoint test_sched_window

# The tests CI leaves out (minutes long, or gigabytes of memory): 10^7 events through run, every
# allocation failing (hunt, then the sinks), the 1 GiB content and execution memory caps.
heavy: build
	@cd $(BUILD) && ctest --output-on-failure -L heavy

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DESC_SANITIZE=ON -DESC_WERROR=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS) $(ASAN_CTEST_ARGS)

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESC_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

demo: build
	@$(BUILD)/escudo hunt --format table tests/data/sample/worked_example.xml \
		tests/data/sample/mixed.xml.gz tests/data/sample/crowdstrike.json

bench: build
	@bash bench/run.sh

# The C sources clang-format keeps in shape (.clang-format): `make format` rewrites them,
# `make format-check` (part of `make check`) fails on any file that is not formatted.
FORMAT_FILES = git ls-files 'src/*.c' 'src/*.h' 'tests/*.c'

format:
	@clang-format -i $$($(FORMAT_FILES))

format-check:
	@command -v clang-format >/dev/null 2>&1 || \
		{ echo "format-check: clang-format not found; run 'make deps' (tools/setup.sh) to install it" >&2; exit 1; }
	@clang-format --dry-run --Werror $$($(FORMAT_FILES)) || \
		{ echo "format-check: files above are not clang-formatted; run 'make format'" >&2; exit 1; }

clean:
	@rm -rf build build-asan build-fuzz
