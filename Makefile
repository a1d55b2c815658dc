# `make run` and `make test` each set up what they need (scripts/setup.sh) first.
SHELL := /bin/bash
NODE  ?= node
LUMA  := $(NODE) dist/cli/main.js

.PHONY: setup build run lint format test test-unit test-integration test-e2e test-long test-crash test-crash-postgres test-engine-restart test-cluster test-fuzz test-fuzz-proxy typecheck example-context proxy-image bench-coldstart bench-proxy bench-lease bench-scale bench-soak clean

setup:
	@bash scripts/setup.sh

build: setup
	@npm run --silent build

typecheck: setup
	@npm run --silent typecheck

# The example's build context needs the host's static busybox; Luma builds the image.
example-context: setup
	@bash scripts/prepare-example.sh

# The proxy daemon as a container (docs/compat.md, seed 001), FROM scratch, nothing pulled.
# LUMA_PROXY_IMAGE=name:tag picks the tag (default luma-proxy:latest).
proxy-image: build
	@bash scripts/proxy-image.sh

run: build example-context
	$(LUMA) up --manifests manifests --state-dir .luma

# typescript-eslint and Prettier (eslint.config.js, .prettierrc.json); `make format` fixes.
lint: setup
	@npm run --silent lint

format: setup
	@npm run --silent format

test: build typecheck lint
	npx vitest run --project unit
	npx vitest run --project fuzz
	npx vitest run --project integration
	npx vitest run --project e2e
	npx vitest run --project engine-restart

test-unit: setup
	npx vitest run --project unit

test-integration: build
	npx vitest run --project integration

test-e2e: build
	npx vitest run --project e2e

# What make test keeps short to stay within 20 minutes: the 90 s answer of request-limits
# (docs/testing.md).
LONG_E2E_FILES := test/e2e/scale-to-zero.test.ts test/e2e/leases.test.ts test/e2e/request-limits.test.ts
test-long: build
	LUMA_E2E_LONG=1 npx vitest run --project e2e $(LONG_E2E_FILES)

# The long crash run: 300 SIGKILLs (make test runs 30, about 90 s; docs/testing.md).
# LUMA_CRASH_SEED=N replays a run.
test-crash: build
	LUMA_CRASH_KILLS=$${LUMA_CRASH_KILLS:-300} npx vitest run test/e2e/crash-anywhere.test.ts

# The crash harness on the PostgreSQL store (a private instance): 50 SIGKILLs (make test runs 10).
test-crash-postgres: build
	LUMA_CRASH_KILLS=$${LUMA_CRASH_KILLS:-50} npx vitest run test/e2e/crash-anywhere-postgres.test.ts

# A private dockerd (with a containerd of its own) killed and restarted under traffic;
# root needed. Also the last step of make test; this target runs it alone (docs/testing.md).
test-engine-restart: build
	npx vitest run --project engine-restart

# Three swarm nodes (engines in network namespaces), a registry, PostgreSQL and three
# controllers: spread, a node lost, the leader SIGKILLed; root needed (docs/cluster.md).
test-cluster: build
	npx vitest run --project cluster

# Five to twenty times the fuzzing cases of make test.
test-fuzz: setup
	LUMA_FUZZ_RUNS=$${LUMA_FUZZ_RUNS:-10000} npx vitest run test/unit/model/parse.fuzz.test.ts test/unit/api/api.fuzz.test.ts

# The proxy's differential framing fuzzer at length: 100,000 streams (make test runs 3,000).
# LUMA_FUZZ_SEED=N replays a run.
test-fuzz-proxy: setup
	LUMA_FUZZ_RUNS=$${LUMA_FUZZ_RUNS:-100000} npx vitest run test/unit/proxy/http1/framing.fuzz.test.ts

bench-scale: build
	npx tsx bench/scale.ts

bench-soak: build
	npx tsx bench/soak.ts

bench-coldstart: build
	npx tsx bench/coldstart.ts

bench-lease: build
	npx tsx bench/lease.ts

# Needs Debian's wrk and nginx-light (scripts/setup.sh does not install them: benchmarks only).
bench-proxy: build
	npx tsx bench/proxy.ts

clean:
	rm -rf dist .luma
