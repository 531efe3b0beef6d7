package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/fintoro/webhookurl/benchmarks"
)

func yesNo(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// targetsTable checks the speed and allocation targets against the medians
// of one run. Each speed ratio is the median of per-run ratios from a
// benchmark that times both sides in turns.
func targetsTable(s samples, peers []benchmarks.Peer, cases []benchmarks.AddrCase) string {
	var b strings.Builder
	b.WriteString("| Target | Measured | Result |\n|---|---|---|\n")
	add := func(target, measured string, met bool) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", target, measured, yesNo(met))
	}

	if allocs, ok := s.median("BenchmarkClassifyMix", "allocs/addr"); ok {
		add("Classify allocates nothing", fmt.Sprintf("%g allocs/addr", allocs), allocs == 0)
	}
	if ns, ok := s.median("BenchmarkAddrCheck/interleaved", "classify-ns/addr"); ok {
		floor, _ := s.median("BenchmarkAddrCheck/interleaved", "netip-ns/addr")
		ratio, _ := s.median("BenchmarkAddrCheck/interleaved", "classify/netip")
		add("Classify at most 10 ns per address",
			fmt.Sprintf("%s ns/addr, timed in turns with the netip predicates at %s ns/addr (%.1fx them)", formatNumber(ns), formatNumber(floor), ratio),
			ns <= 10)
	}
	if ratio, ok := s.median("BenchmarkAddrCheck/interleaved", "ssrf/classify"); ok {
		ours, _ := s.median("BenchmarkAddrCheck/interleaved", "classify-ns/addr")
		theirs, _ := s.median("BenchmarkAddrCheck/interleaved", "ssrf-ns/addr")
		add("Classify at least 10x faster than ssrf.SafeAddr", fmt.Sprintf("%.1fx (%s vs %s ns/addr, timed in turns)", ratio, formatNumber(ours), formatNumber(theirs)), ratio >= 10)
	}
	right := 0
	for _, c := range cases {
		if peers[0].CheckAddr(c.Addr) == verdictOf(c.Accept) {
			right++
		}
	}
	add("Classify right on every address of the list", fmt.Sprintf("%d of %d", right, len(cases)), right == len(cases))

	if ratio, ok := s.median("BenchmarkStaticCheck/interleaved", "static/parse"); ok {
		static, _ := s.median("BenchmarkStaticCheck/interleaved", "static-ns/url")
		parse, _ := s.median("BenchmarkStaticCheck/interleaved", "parse-ns/url")
		add("ValidateStatic at most 2x url.Parse", fmt.Sprintf("%.2fx (%s vs %s ns/url, timed in turns)", ratio, formatNumber(static), formatNumber(parse)), ratio <= 2)
	}
	staticAllocs, ok1 := s.median("BenchmarkStaticCheck/ValidateStatic", "allocs/url")
	parseAllocs, ok2 := s.median("BenchmarkStaticCheck/url.Parse", "allocs/url")
	if ok1 && ok2 {
		add("ValidateStatic allocations at most url.Parse's plus two", fmt.Sprintf("%.2f vs %.2f allocs/url", staticAllocs, parseAllocs), staticAllocs <= parseAllocs+2)
	}
	if ratio, ok := s.median("BenchmarkValidateWarm/interleaved", "validate/parse"); ok {
		warm, _ := s.median("BenchmarkValidateWarm/interleaved", "validate-ns/url")
		parse, _ := s.median("BenchmarkValidateWarm/interleaved", "parse-ns/url")
		add("Warm Validate at most 3x url.Parse", fmt.Sprintf("%.2fx (%s vs %s ns/url, timed in turns)", ratio, formatNumber(warm), formatNumber(parse)), ratio <= 3)
	}
	return strings.TrimRight(b.String(), "\n")
}

func verdictOf(accept bool) benchmarks.Verdict {
	if accept {
		return benchmarks.Accept
	}
	return benchmarks.Reject
}

// cell describes a peer's verdict against the expected one.
func cell(got benchmarks.Verdict, accept bool) string {
	switch {
	case got == benchmarks.Deferred:
		return "deferred"
	case got == benchmarks.NotCallable:
		return "n/a"
	case got == verdictOf(accept):
		return "ok"
	case got == benchmarks.Accept:
		return "**accepts**"
	}
	return "rejects"
}

// tally counts the cells of one peer's column.
type tally struct{ ok, missed, stricter, deferred, total int }

func (t *tally) add(got benchmarks.Verdict, accept bool) {
	t.total++
	switch {
	case got == benchmarks.Deferred || got == benchmarks.NotCallable:
		t.deferred++
	case got == verdictOf(accept):
		t.ok++
	case got == benchmarks.Accept:
		t.missed++
	default:
		t.stricter++
	}
}

func (t tally) String() string {
	return fmt.Sprintf("%d ok, %d hostile accepted, %d harmless rejected, %d deferred or n/a", t.ok, t.missed, t.stricter, t.deferred)
}

func setupTable(peers []benchmarks.Peer) string {
	var b strings.Builder
	b.WriteString("| Column | How it is called |\n|---|---|\n")
	for _, p := range peers {
		fmt.Fprintf(&b, "| %s | %s |\n", p.Name, p.Setup)
	}
	return strings.TrimRight(b.String(), "\n")
}

func header(b *strings.Builder, first string, peers []benchmarks.Peer) {
	b.WriteString("| " + first + " | Expected |")
	for _, p := range peers {
		b.WriteString(" " + p.Name + " |")
	}
	b.WriteString(" Note |\n|---|---|")
	for range peers {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
}

func expectedWord(accept bool) string {
	if accept {
		return "accept"
	}
	return "reject"
}

func addressTable(peers []benchmarks.Peer, cases []benchmarks.AddrCase) string {
	var b strings.Builder
	header(&b, "Address", peers)
	tallies := make([]tally, len(peers))
	for _, c := range cases {
		fmt.Fprintf(&b, "| `%s` | %s |", c.Addr, expectedWord(c.Accept))
		for i, p := range peers {
			got := benchmarks.NotCallable
			if p.CheckAddr != nil {
				got = p.CheckAddr(c.Addr)
			}
			tallies[i].add(got, c.Accept)
			b.WriteString(" " + cell(got, c.Accept) + " |")
		}
		fmt.Fprintf(&b, " %s: %s |\n", c.Group, c.Note)
	}
	return strings.TrimRight(b.String(), "\n") + "\n\n" + summary(peers, tallies)
}

func urlTable(peers []benchmarks.Peer, cases []benchmarks.URLCase) string {
	var b strings.Builder
	header(&b, "URL", peers)
	tallies := make([]tally, len(peers))
	for _, c := range cases {
		fmt.Fprintf(&b, "| `%s` | %s |", markdownCode(c.URL), expectedWord(c.Accept))
		for i, p := range peers {
			got := p.CheckURL(c.URL)
			tallies[i].add(got, c.Accept)
			b.WriteString(" " + cell(got, c.Accept) + " |")
		}
		fmt.Fprintf(&b, " %s |\n", c.Note)
	}
	return strings.TrimRight(b.String(), "\n") + "\n\n" + summary(peers, tallies)
}

func summary(peers []benchmarks.Peer, tallies []tally) string {
	var lines []string
	for i, p := range peers {
		lines = append(lines, fmt.Sprintf("- %s: %s of %d.", p.Name, tallies[i], tallies[i].total))
	}
	return strings.Join(lines, "\n")
}

// markdownCode prepares a URL for a table cell. Control, space-like and
// invisible format characters other than a plain space are shown as Go
// escapes, and a pipe is escaped because it would end the cell.
func markdownCode(raw string) string {
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r == '|':
			b.WriteString(`\|`)
		case r == ' ' || unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r):
			b.WriteRune(r)
		default:
			quoted := strconv.QuoteRune(r)
			b.WriteString(quoted[1 : len(quoted)-1])
		}
	}
	return b.String()
}
