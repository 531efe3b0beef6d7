package webhookurl_test

import (
	"bufio"
	"context"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fintoro/webhookurl"
	"github.com/fintoro/webhookurl/webhookurltest"
)

// The benchmarks read the cases that benchmarks/ also feeds to the peer
// libraries, so both sets of numbers describe the same inputs. Each
// benchmark checks the verdicts before it starts the clock, because a fast
// wrong verdict is not a result.
const (
	benchAddrCases = "benchmarks/testdata/addresses.tsv"
	benchURLCases  = "benchmarks/testdata/urls.tsv"
)

type benchURL struct {
	raw    string
	accept bool
}

// readBenchRows returns the tab-separated fields of every line of path that
// is neither blank nor a # comment.
func readBenchRows(tb testing.TB, path string, columns int) [][]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()

	var rows [][]string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != columns {
			tb.Fatalf("%s: %q has %d fields; want %d", path, line, len(fields), columns)
		}
		rows = append(rows, fields)
	}
	if err := scanner.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

func benchAddrs(tb testing.TB) (addrs []netip.Addr, accept []bool) {
	tb.Helper()
	for _, fields := range readBenchRows(tb, benchAddrCases, 4) {
		addrs = append(addrs, netip.MustParseAddr(fields[0]))
		accept = append(accept, fields[1] == "accept")
	}
	return addrs, accept
}

func benchURLs(tb testing.TB) []benchURL {
	tb.Helper()
	var urls []benchURL
	for _, fields := range readBenchRows(tb, benchURLCases, 3) {
		raw, err := strconv.Unquote(fields[0])
		if err != nil {
			tb.Fatalf("%s: URL %s is not a Go-quoted string: %v", benchURLCases, fields[0], err)
		}
		urls = append(urls, benchURL{raw: raw, accept: fields[1] == "accept"})
	}
	return urls
}

// batchTimes keeps the durations of the most recent batches in a buffer
// allocated before the timed loop, so that recording them allocates
// nothing the benchmark would report.
type batchTimes struct {
	buf []time.Duration
	n   int // batches recorded, including those overwritten
}

func newBatchTimes() *batchTimes {
	return &batchTimes{buf: make([]time.Duration, 8192)}
}

func (t *batchTimes) add(d time.Duration) {
	t.buf[t.n%len(t.buf)] = d
	t.n++
}

// median returns the median of the recorded batches, at most the last 8192.
func (t *batchTimes) median() time.Duration {
	times := slices.Clone(t.buf[:min(t.n, len(t.buf))])
	if len(times) == 0 {
		return 0
	}
	slices.Sort(times)
	n := len(times)
	if n%2 == 1 {
		return times[n/2]
	}
	return (times[n/2-1] + times[n/2]) / 2
}

// runBatches runs batch once per iteration and reports the median batch
// time per item as ns/<unit>, and the mean allocations and bytes per item
// as allocs/<unit> and B/<unit>. A minority of batches that another process
// preempted does not move the median, but a mean counts them in full.
func runBatches(b *testing.B, items int, unit string, batch func()) {
	b.ReportAllocs()
	times := newBatchTimes()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		start := time.Now()
		batch()
		times.add(time.Since(start))
	}
	runtime.ReadMemStats(&after)

	total := float64(times.n * items)
	b.ReportMetric(float64(times.median().Nanoseconds())/float64(items), "ns/"+unit)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/"+unit)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/"+unit)
}

// interleave times batch a and batch b in turns within every iteration and
// reports, for each, the median batch time divided by the items in a
// batch, and the ratio of the two medians. The order alternates so that
// neither side always runs on a warmer cache. On a shared machine a load
// change then hits both sides alike, and a minority of preempted batches
// does not move the medians.
func interleave(bm *testing.B, items int, unit, nameA string, a func(), nameB string, b func()) {
	bm.ReportAllocs()
	timesA, timesB := newBatchTimes(), newBatchTimes()
	timed := func(f func(), times *batchTimes) {
		start := time.Now()
		f()
		times.add(time.Since(start))
	}
	for bm.Loop() {
		if timesA.n%2 == 0 {
			timed(a, timesA)
			timed(b, timesB)
		} else {
			timed(b, timesB)
			timed(a, timesA)
		}
	}
	medianA, medianB := timesA.median(), timesB.median()
	bm.ReportMetric(float64(medianA.Nanoseconds())/float64(items), nameA+"-ns/"+unit)
	bm.ReportMetric(float64(medianB.Nanoseconds())/float64(items), nameB+"-ns/"+unit)
	bm.ReportMetric(float64(medianB)/float64(medianA), nameB+"/"+nameA)
}

var (
	sinkPublic bool
	sinkResult webhookurl.Result
	sinkURL    *url.URL
	sinkErr    error
)

// BenchmarkClassifyMix times Classify over a fixed mix of public, private,
// reserved, metadata and embedded-IPv4 addresses.
func BenchmarkClassifyMix(b *testing.B) {
	addrs, accept := benchAddrs(b)
	for i, a := range addrs {
		if got := webhookurl.Classify(a).Public; got != accept[i] {
			b.Fatalf("Classify(%s).Public = %v; want %v", a, got, accept[i])
		}
	}

	runBatches(b, len(addrs), "addr", func() {
		for _, a := range addrs {
			sinkPublic = webhookurl.Classify(a).Public
		}
	})
}

// newBenchValidator returns a Validator whose resolver is r, so that no
// benchmark reads /etc/resolv.conf or reaches a nameserver it did not start.
func newBenchValidator(b *testing.B, r webhookurl.Resolver) *webhookurl.Validator {
	b.Helper()
	v, err := webhookurl.New(webhookurl.Config{Resolver: r})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkStaticCheck times ValidateStatic over every URL case, accepted
// and rejected, next to url.Parse on the same strings as the floor, because
// any validator has to parse at least that much.
func BenchmarkStaticCheck(b *testing.B) {
	urls := benchURLs(b)
	v := newBenchValidator(b, mapResolver{})
	for _, u := range urls {
		if _, err := v.ValidateStatic(u.raw); (err == nil) != u.accept {
			b.Fatalf("ValidateStatic(%q) error = %v; want accepted = %v", u.raw, err, u.accept)
		}
	}

	b.Run("url.Parse", func(b *testing.B) {
		runBatches(b, len(urls), "url", func() {
			for _, u := range urls {
				sinkURL, sinkErr = url.Parse(u.raw)
			}
		})
	})
	b.Run("ValidateStatic", func(b *testing.B) {
		runBatches(b, len(urls), "url", func() {
			for _, u := range urls {
				sinkResult, sinkErr = v.ValidateStatic(u.raw)
			}
		})
	})
	b.Run("interleaved", func(b *testing.B) {
		interleave(b, len(urls), "url",
			"parse", func() {
				for _, u := range urls {
					sinkURL, sinkErr = url.Parse(u.raw)
				}
			},
			"static", func() {
				for _, u := range urls {
					sinkResult, sinkErr = v.ValidateStatic(u.raw)
				}
			})
	})
}

// mapResolver is an in-memory Resolver that models a warm cache. Every
// lookup is a map hit that returns a shared slice, with no copy and no
// expiry check.
type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupAddrs(_ context.Context, host string) ([]netip.Addr, error) {
	addrs, ok := m[host]
	if !ok {
		return nil, webhookurl.ErrDNSNotFound
	}
	return addrs, nil
}

// warmHosts returns the accepted URL cases whose host is a DNS name, with
// that host in the ASCII form the resolver receives.
func warmHosts(b *testing.B) (raws, hosts []string) {
	b.Helper()
	v := newBenchValidator(b, mapResolver{})
	for _, u := range benchURLs(b) {
		if !u.accept {
			continue
		}
		res, err := v.ValidateStatic(u.raw)
		if err != nil {
			b.Fatalf("ValidateStatic(%q) = %v; want accepted", u.raw, err)
		}
		if !res.IsIPLiteral() {
			raws = append(raws, u.raw)
			hosts = append(hosts, res.Host)
		}
	}
	return raws, hosts
}

// Every host resolves to one public IPv4 and one public IPv6 address, as a
// dual-stack webhook endpoint does.
var benchAnswer = []netip.Addr{
	netip.MustParseAddr("93.184.215.14"),
	netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
}

// startBenchDNS starts a webhookurltest server on 127.0.0.1 that resolves
// every host to benchAnswer, and returns a Config that queries only it.
func startBenchDNS(b *testing.B, hosts []string, dns webhookurl.DNSConfig) webhookurl.Config {
	b.Helper()
	zone := webhookurltest.Zone{}
	for _, h := range hosts {
		zone[h] = []webhookurltest.Record{
			webhookurltest.A(benchAnswer[0].String()).WithTTL(3600),
			webhookurltest.AAAA(benchAnswer[1].String()).WithTTL(3600),
		}
	}
	server := webhookurltest.Start(b, zone)
	dns.Nameservers = []string{server.Addr()}
	return webhookurl.Config{DNS: dns}
}

// BenchmarkValidateWarm times full validation of the accepted URLs whose
// host is a DNS name when every lookup is a cache hit, next to url.Parse
// and ValidateStatic on the same strings.
//
// The built-in DNSResolver is warmed with one validation of each URL
// against a loopback DNS server, after which its cache answers every
// lookup. The records' TTL of an hour is clamped to DefaultMaxTTL, which is
// longer than one run of this benchmark. A second Validator with an in-memory map as its Resolver
// shows the cost of the validation around the lookup alone.
func BenchmarkValidateWarm(b *testing.B) {
	raws, hosts := warmHosts(b)
	ctx := context.Background()

	cached, err := webhookurl.New(startBenchDNS(b, hosts, webhookurl.DNSConfig{}))
	if err != nil {
		b.Fatal(err)
	}
	resolver := mapResolver{}
	for _, h := range hosts {
		resolver[h] = benchAnswer
	}
	mapped := newBenchValidator(b, resolver)
	for _, raw := range raws {
		if _, err := cached.Validate(ctx, raw); err != nil {
			b.Fatalf("Validate(%q) with the DNS cache = %v; want accepted", raw, err)
		}
		if _, err := mapped.Validate(ctx, raw); err != nil {
			b.Fatalf("Validate(%q) with a map resolver = %v; want accepted", raw, err)
		}
	}

	b.Run("url.Parse", func(b *testing.B) {
		runBatches(b, len(raws), "url", func() {
			for _, raw := range raws {
				sinkURL, sinkErr = url.Parse(raw)
			}
		})
	})
	b.Run("ValidateStatic", func(b *testing.B) {
		runBatches(b, len(raws), "url", func() {
			for _, raw := range raws {
				sinkResult, sinkErr = cached.ValidateStatic(raw)
			}
		})
	})
	b.Run("Validate", func(b *testing.B) {
		runBatches(b, len(raws), "url", func() {
			for _, raw := range raws {
				sinkResult, sinkErr = cached.Validate(ctx, raw)
			}
		})
	})
	b.Run("ValidateMapResolver", func(b *testing.B) {
		runBatches(b, len(raws), "url", func() {
			for _, raw := range raws {
				sinkResult, sinkErr = mapped.Validate(ctx, raw)
			}
		})
	})
	b.Run("interleaved", func(b *testing.B) {
		interleave(b, len(raws), "url",
			"parse", func() {
				for _, raw := range raws {
					sinkURL, sinkErr = url.Parse(raw)
				}
			},
			"validate", func() {
				for _, raw := range raws {
					sinkResult, sinkErr = cached.Validate(ctx, raw)
				}
			})
	})
}

// BenchmarkValidateCold times full validation when every lookup goes to a
// nameserver: an A and an AAAA query over UDP to a webhookurltest server on
// 127.0.0.1, with the cache turned off.
func BenchmarkValidateCold(b *testing.B) {
	raws, hosts := warmHosts(b)
	v, err := webhookurl.New(startBenchDNS(b, hosts, webhookurl.DNSConfig{DisableCache: true}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	i := 0
	runBatches(b, 1, "url", func() {
		raw := raws[i%len(raws)]
		i++
		if _, err := v.Validate(ctx, raw); err != nil {
			b.Fatalf("Validate(%q) = %v; want accepted", raw, err)
		}
	})
}
