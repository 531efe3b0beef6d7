package benchmarks

import (
	"net/netip"
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
// testdata/addresses.tsv. ns/addr is the mean time per address.
func BenchmarkAddrCheck(b *testing.B) {
	cases := loadAddrCases(b)
	addrs := make([]netip.Addr, len(cases))
	for i, c := range cases {
		addrs[i] = c.Addr
	}

	b.Run("webhookurl.Classify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, a := range addrs {
				sinkBool = webhookurl.Classify(a).Public
			}
		}
		reportPerAddr(b, len(addrs))
	})
	b.Run("ssrf.SafeAddr", func(b *testing.B) {
		guardian := ssrf.New()
		b.ReportAllocs()
		for b.Loop() {
			for _, a := range addrs {
				sinkErr = guardian.SafeAddr(a)
			}
		}
		reportPerAddr(b, len(addrs))
	})
	b.Run("netip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, a := range addrs {
				sinkBool = IsPublicNetip(a)
			}
		}
		reportPerAddr(b, len(addrs))
	})

	// The ratios come from timing the checks in turns within each
	// iteration, so a load change on the machine hits all of them alike,
	// and from median batch times, which drop the batches another process
	// preempted. The netip predicates give a floor that does not depend
	// on the machine's speed.
	b.Run("interleaved", func(b *testing.B) {
		guardian := ssrf.New()
		var classify, safeAddr, predicates []time.Duration
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
			classify = append(classify, afterClassify.Sub(start))
			safeAddr = append(safeAddr, afterSSRF.Sub(afterClassify))
			predicates = append(predicates, time.Since(afterSSRF))
		}
		ours, theirs, floor := medianDuration(classify), medianDuration(safeAddr), medianDuration(predicates)
		perAddr := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(len(addrs)) }
		b.ReportMetric(perAddr(ours), "classify-ns/addr")
		b.ReportMetric(perAddr(theirs), "ssrf-ns/addr")
		b.ReportMetric(perAddr(floor), "netip-ns/addr")
		b.ReportMetric(float64(theirs)/float64(ours), "ssrf/classify")
		b.ReportMetric(float64(ours)/float64(floor), "classify/netip")
	})
}

func medianDuration(times []time.Duration) time.Duration {
	slices.Sort(times)
	n := len(times)
	if n%2 == 1 {
		return times[n/2]
	}
	return (times[n/2-1] + times[n/2]) / 2
}

func reportPerAddr(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/addr")
}
