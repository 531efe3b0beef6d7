#!/bin/sh
# Regenerates the numbers and tables of BENCHMARKS.md in one run: the
# webhookurl benchmarks, the peer benchmarks of the benchmarks/ module,
# benchstat summaries and the correctness tables.
#
# Usage: scripts/bench.sh             (6 runs of each benchmark)
#        COUNT=10 scripts/bench.sh
#
# The benchmarks send traffic only to a DNS server the cold benchmark
# starts on 127.0.0.1. When unshare is available they run in a new network
# namespace that has only a loopback interface, so nothing can leave the
# machine even by mistake.
set -eu

cd "$(dirname "$0")/.."
count=${COUNT:-6}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# benchstat computes the medians and confidence intervals on the page.
GOBIN="$out/bin" go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# Build first, so that the timed runs below need no network at all.
go test -c -o "$out/root.test" .
(cd benchmarks && go test -c -o "$out/peers.test" . && go build -o "$out/benchreport" ./cmd/benchreport)

# The peer module's tests check that webhookurl is right on every case
# before any number is trusted.
(cd benchmarks && "$out/peers.test" -test.run . -test.bench '^$' >/dev/null)

isolate() {
	if unshare -n true 2>/dev/null; then
		unshare -n sh -c 'ip link set lo up && "$@"' sh "$@"
	else
		"$@"
	fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
isolate "$out/root.test" -test.run '^$' \
	-test.bench '^Benchmark(ClassifyMix|StaticCheck|ValidateWarm|ValidateCold|ResolveCold|DeliveryOverhead)$' \
	-test.count "$count" >"$out/webhookurl.txt"
(cd benchmarks && isolate "$out/peers.test" -test.run '^$' -test.bench . \
	-test.count "$count") >"$out/peers.txt"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# benchstat labels each column with the file name, so it runs in $out.
(
	cd "$out"
	echo "# webhookurl package"
	bin/benchstat webhookurl.txt
	echo
	echo "# benchmarks module (peers)"
	bin/benchstat peers.txt
) >"$out/benchstat.txt"

{
	echo "$(go version)"
	echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
	echo "Kernel: $(uname -sr)"
	echo "Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' with uncommitted changes')"
	echo "Date: $(date -u +%Y-%m-%d)"
	echo "Runs: -count $count, default -benchtime"
	echo "Load average (1, 5, 15 min): $load_before before, $load_after after"
} >"$out/machine.txt"

isolate "$out/benchreport" -page BENCHMARKS.md -cases benchmarks/testdata \
	-root "$out/webhookurl.txt" -peers "$out/peers.txt" \
	-benchstat "$out/benchstat.txt" -machine "$out/machine.txt"

if [ -n "${KEEP:-}" ]; then
	mkdir -p "$KEEP" && cp "$out"/*.txt "$KEEP"/
fi
