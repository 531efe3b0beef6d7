package main

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// samples maps a benchmark name, without its -GOMAXPROCS suffix, to the
// values of each unit across the runs of -count.
type samples map[string]map[string][]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

// readBench parses go test -bench output: lines of a name, an iteration
// count, then value and unit pairs.
func readBench(path string) samples {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	out := samples{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(fields[0], "")
		if out[name] == nil {
			out[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				log.Fatalf("%s: value %q of %s is not a number", path, fields[i], name)
			}
			out[name][fields[i+1]] = append(out[name][fields[i+1]], v)
		}
	}
	if err := scanner.Err(); err != nil {
		log.Fatal(err)
	}
	return out
}

// median returns the median of one unit of one benchmark, the center that
// benchstat reports, and whether the benchmark ran.
func (s samples) median(name, unit string) (float64, bool) {
	values := slices.Clone(s[name][unit])
	if len(values) == 0 {
		return 0, false
	}
	slices.Sort(values)
	n := len(values)
	if n%2 == 1 {
		return values[n/2], true
	}
	return (values[n/2-1] + values[n/2]) / 2, true
}

func formatNumber(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// row is one measurement of the numbers table. The benchmark reports
// ns/<unit>, B/<unit> and allocs/<unit> per item of its mix.
type row struct {
	label, name, unit string
}

var numberRows = []row{
	{"Classify, address mix", "BenchmarkClassifyMix", "addr"},
	{"webhookurl.Classify, address mix (peer module)", "BenchmarkAddrCheck/webhookurl.Classify", "addr"},
	{"ssrf.Guardian.SafeAddr, address mix", "BenchmarkAddrCheck/ssrf.SafeAddr", "addr"},
	{"netip IsGlobalUnicast && !IsPrivate, address mix", "BenchmarkAddrCheck/netip", "addr"},
	{"url.Parse, URL mix", "BenchmarkStaticCheck/url.Parse", "url"},
	{"ValidateStatic, URL mix", "BenchmarkStaticCheck/ValidateStatic", "url"},
	{"url.Parse, accepted DNS-name URLs", "BenchmarkValidateWarm/url.Parse", "url"},
	{"ValidateStatic, accepted DNS-name URLs", "BenchmarkValidateWarm/ValidateStatic", "url"},
	{"Validate, warm (built-in DNS cache)", "BenchmarkValidateWarm/Validate", "url"},
	{"Validate, warm (in-memory map resolver)", "BenchmarkValidateWarm/ValidateMapResolver", "url"},
	{"Validate, cold (loopback DNS server, cache off)", "BenchmarkValidateCold", "url"},
}

// numbersTable prints, for every measurement that ran, the median over
// the runs of its median batch time per item and of its mean bytes and
// allocations per item.
func numbersTable(s samples) string {
	var b strings.Builder
	b.WriteString("| Measurement | Time | Bytes | Allocations |\n")
	b.WriteString("|---|---:|---:|---:|\n")
	for _, r := range numberRows {
		ns, ok := s.median(r.name, "ns/"+r.unit)
		if !ok {
			continue
		}
		bytes, _ := s.median(r.name, "B/"+r.unit)
		allocs, _ := s.median(r.name, "allocs/"+r.unit)
		fmt.Fprintf(&b, "| %s | %s ns/%s | %s B/%s | %s allocs/%s |\n",
			r.label, formatNumber(ns), r.unit, formatNumber(bytes), r.unit, formatNumber(allocs), r.unit)
	}
	return strings.TrimRight(b.String(), "\n")
}
