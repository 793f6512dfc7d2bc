# Thin wrapper over CMake and the test scripts. See README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all deps build backend frontend dist test test-c test-go test-frontend test-monitoring test-dist test-soak demo bench soak dist-zip clean

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
	rm -rf $(BUILD) $(BUILD_ASAN) dist frontend/dist frontend/harness/build frontend/harness/build-cache
