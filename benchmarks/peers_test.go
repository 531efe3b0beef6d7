package benchmarks

import (
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"code.dny.dev/ssrf"
	"github.com/fintoro/webhookurl"
)

func loadAddrCases(tb testing.TB) []AddrCase {
	tb.Helper()
	cases, err := LoadAddrCases("testdata/addresses.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	return cases
}

func loadURLCases(tb testing.TB) []URLCase {
	tb.Helper()
	cases, err := LoadURLCases("testdata/urls.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	return cases
}

// The speed comparison means something only while webhookurl is right on
// every case it is timed on.
func TestWebhookurlMatchesCases(t *testing.T) {
	peers, err := Peers()
	if err != nil {
		t.Fatal(err)
	}
	wh := peers[0]
	for _, c := range loadAddrCases(t) {
		if got, want := wh.CheckAddr(c.Addr), verdictOf(c.Accept); got != want {
			t.Errorf("Classify(%s) = %v; want %v (%s)", c.Addr, got, want, c.Note)
		}
	}
	for _, c := range loadURLCases(t) {
		if got, want := wh.CheckURL(c.URL), verdictOf(c.Accept); got != want {
			t.Errorf("ValidateStatic(%q) = %v; want %v (%s)", c.URL, got, want, c.Note)
		}
	}
}

func TestSafeurlPreDialChecks(t *testing.T) {
	peers, err := Peers()
	if err != nil {
		t.Fatal(err)
	}
	safe := peers[2]
	if got := safe.CheckURL("https://127.0.0.1/"); got != Deferred {
		t.Errorf("safeurl on a loopback literal = %v; want %v, because its address check runs only when dialing", got, Deferred)
	}
	if got := safe.CheckURL("http://127.0.0.1/"); got != Reject {
		t.Errorf("safeurl on http = %v; want %v with https as the only scheme", got, Reject)
	}
}

// sinkBool and sinkErr keep the compiler from discarding the checks.
var (
	sinkBool bool
	sinkErr  error
)

// BenchmarkAddrCheck times each address check over the whole mix in
// testdata/addresses.tsv. ns/addr is the median batch time per address.
func BenchmarkAddrCheck(b *testing.B) {
	cases := loadAddrCases(b)
	addrs := make([]netip.Addr, len(cases))
	for i, c := range cases {
		addrs[i] = c.Addr
	}

	b.Run("webhookurl.Classify", func(b *testing.B) {
		runBatches(b, len(addrs), func() {
			for _, a := range addrs {
				sinkBool = webhookurl.Classify(a).Public
			}
		})
	})
	b.Run("ssrf.SafeAddr", func(b *testing.B) {
		guardian := ssrf.New()
		runBatches(b, len(addrs), func() {
			for _, a := range addrs {
				sinkErr = guardian.SafeAddr(a)
			}
		})
	})
	b.Run("netip", func(b *testing.B) {
		runBatches(b, len(addrs), func() {
			for _, a := range addrs {
				sinkBool = IsPublicNetip(a)
			}
		})
	})

	// The ratios come from timing the checks in turns within each
	// iteration, so a load change on the machine hits all of them alike,
	// and from median batch times, which a minority of preempted batches
	// does not move. The netip predicates, timed in the same iteration,
	// give a floor whose ratio to Classify depends little on the machine.
	b.Run("interleaved", func(b *testing.B) {
		b.ReportAllocs()
		guardian := ssrf.New()
		classify, safeAddr, predicates := newBatchTimes(), newBatchTimes(), newBatchTimes()
		for b.Loop() {
			start := time.Now()
			for _, a := range addrs {
				sinkBool = webhookurl.Classify(a).Public
			}
			afterClassify := time.Now()
			for _, a := range addrs {
				sinkErr = guardian.SafeAddr(a)
			}
			afterSSRF := time.Now()
			for _, a := range addrs {
				sinkBool = IsPublicNetip(a)
			}
			classify.add(afterClassify.Sub(start))
			safeAddr.add(afterSSRF.Sub(afterClassify))
			predicates.add(time.Since(afterSSRF))
		}
		ours, theirs, floor := classify.median(), safeAddr.median(), predicates.median()
		perAddr := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(len(addrs)) }
		b.ReportMetric(perAddr(ours), "classify-ns/addr")
		b.ReportMetric(perAddr(theirs), "ssrf-ns/addr")
		b.ReportMetric(perAddr(floor), "netip-ns/addr")
		b.ReportMetric(float64(theirs)/float64(ours), "ssrf/classify")
		b.ReportMetric(float64(ours)/float64(floor), "classify/netip")
	})
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

// runBatches runs batch, one pass over the n addresses, once per iteration
// and reports the median batch time per address as ns/addr, and the mean
// allocations and bytes per address. A minority of batches that another
// process preempted does not move the median, but a mean counts them in
// full.
func runBatches(b *testing.B, n int, batch func()) {
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

	total := float64(times.n * n)
	b.ReportMetric(float64(times.median().Nanoseconds())/float64(n), "ns/addr")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/addr")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/addr")
}
