# The two commands a newcomer needs: `make run` and `make test`.

.PHONY: run test test-go test-e2e bench fuzz load load-floor build scale aaguids

run:
	go run ./cmd/latch serve

build:
	go build -o bin/latch ./cmd/latch

# Every test: Go unit and HTTP tests (with the race detector) and the
# Playwright end-to-end tests in Chromium.
test: test-go test-e2e

test-go:
	go vet ./...
	go tool staticcheck ./...
	go test -race -count=1 ./...

# npm ci only when node_modules is missing, so a machine that has run it
# once tests without network.
test-e2e: node_modules
	npx playwright test

node_modules: package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

bench:
	go test -run '^$$' -bench . -benchmem ./...

# Loopback load: starts bin/latch on a fresh data dir at 127.0.0.1:8090 and
# drives it with 32 clients per scenario.
load: build
	go run ./cmd/latch-load -server bin/latch -url http://localhost:8090 -s signup,signin,userinfo,refresh,exchange

# The yardstick: sign-up and sign-in against Latch and, alternately, against
# latch-floor, the least any service on the same stack can do per ceremony.
load-floor: build
	go build -o bin/latch-floor ./cmd/latch-floor
	go run ./cmd/latch-load -server bin/latch -compare bin/latch-floor -url http://localhost:8090 -s signup,signin -dpop=false -rounds 3 -d 5s

# A million users: builds a store of 1,000,000 accounts (2,000,000 passkeys
# and open sessions) and one of 1,000 by direct store writes, then starts
# bin/latch on each and reports start time, memory, sign-in latency under
# load, backup time and file size (a few minutes; SCALE_FLAGS=-users 100000
# for a smaller run).
scale: build
	go build -o bin/latch-load ./cmd/latch-load
	go run ./cmd/latch-scale $(SCALE_FLAGS)

# Refreshes the embedded list of passkey provider names and icons
# (webauthn/aaguids) from the community list; review the diff, then commit.
aaguids:
	go run ./cmd/latch-aaguids
