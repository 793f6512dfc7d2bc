# Thin wrapper over CMake and the test scripts. See README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
# seconds per fuzz target for `make fuzz` (`make test` runs each for 30 s)
FUZZ_SECONDS ?= 300

.PHONY: all deps build backend frontend dist test test-c test-go test-frontend test-monitoring test-dist test-fuzz test-soak fuzz soak demo bench dist-zip clean

all: build

deps:
	@tools/deps.sh

backend:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

frontend:
	@if [ -f frontend/package.json ]; then cd frontend && npm run --silent build; fi

dist: backend frontend
	@tools/assemble-dist.sh

build: dist

test: deps build
	@tools/run-tests.sh

test-c test-go test-frontend test-monitoring test-dist test-soak: build
	@tools/run-tests.sh $(@:test-%=%)

# The fuzz stage alone (30 s per target), and longer runs: FUZZ_SECONDS=600 make fuzz
# (FUZZ_TARGETS, FUZZ_SEED, FUZZ_MERGE=1: see tests/fuzz/run.sh). Own clang build dir.
test-fuzz:
	@BUILD_FUZZ=$(BUILD_FUZZ) tools/run-tests.sh fuzz

fuzz:
	@BUILD_FUZZ=$(BUILD_FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

demo: deps build
	@tools/demo.sh

bench: deps build
	@bench/run.sh

# SOAK_MINUTES (30) and SOAK_TRADES (1000000); `make test` runs a 2-minute version
soak: deps build
	@tools/soak.sh

dist-zip: build
	@tools/dist-zip.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) dist frontend/dist frontend/harness/build frontend/harness/build-cache
