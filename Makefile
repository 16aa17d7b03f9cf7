# goavail: build, test, lint, bench.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test test-deps lint fuzz bench clean

build:
	go build -ldflags "$(LDFLAGS)" -o bin/goavail ./cmd/goavail

# Build and run the shipped example in dry-run (Ctrl-C stops it). Probing
# needs root, CAP_NET_RAW or net.ipv4.ping_group_range; see README.md.
run: build
	./bin/goavail monitor --config-file goavail.toml

# The tests make network namespaces (iproute2) and open ICMP sockets: run
# them as root. test-deps installs what a fresh Debian machine lacks.
test: test-deps
	gofmt -l . | tee /dev/stderr | (! read -r _)
	go vet ./...
	go test -race -count=1 ./...

test-deps:
	@command -v ip >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q iproute2; }

lint:
	gofmt -l . | tee /dev/stderr | (! read -r _)
	go vet ./...

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./config

# Benchmarks: probe-engine CPU against pro-bing and fping on the same lab
# targets, detection overhead, and API calls for a mass outage. Needs root;
# installs fping if missing.
bench: test-deps
	@command -v fping >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q fping; }
	GOAVAIL_BENCH_SECONDS=60 go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./monitor ./dns ./cmd/goavail

clean:
	rm -rf bin
