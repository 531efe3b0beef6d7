// Command benchreport rewrites the generated sections of BENCHMARKS.md: the
// machine, the medians and ratios of a benchmark run, the benchstat
// summary and the correctness tables of every peer library.
//
// It reads go test -bench output as written by scripts/bench.sh and
// replaces the text between each pair of markers
//
//	<!-- begin NAME -->
//	<!-- end NAME -->
//
// leaving the rest of the page as written.
package main

import (
	"flag"
	"log"
	"maps"
	"os"
	"strings"

	"github.com/fintoro/webhookurl/benchmarks"
)

func main() {
	page := flag.String("page", "BENCHMARKS.md", "page whose generated sections are rewritten")
	rootBench := flag.String("root", "", "go test -bench output of the webhookurl package")
	peerBench := flag.String("peers", "", "go test -bench output of the benchmarks module")
	benchstat := flag.String("benchstat", "", "benchstat output to embed")
	machine := flag.String("machine", "", "machine description, one item per line")
	cases := flag.String("cases", "benchmarks/testdata", "directory of addresses.tsv and urls.tsv")
	flag.Parse()

	sections := map[string]string{}

	addrCases, err := benchmarks.LoadAddrCases(*cases + "/addresses.tsv")
	if err != nil {
		log.Fatal(err)
	}
	urlCases, err := benchmarks.LoadURLCases(*cases + "/urls.tsv")
	if err != nil {
		log.Fatal(err)
	}
	peers, err := benchmarks.Peers()
	if err != nil {
		log.Fatal(err)
	}
	sections["setup"] = setupTable(peers)
	sections["addresses"] = addressTable(peers, addrCases)
	sections["urls"] = urlTable(peers, urlCases)

	if *rootBench != "" {
		results := readBench(*rootBench)
		if *peerBench != "" {
			maps.Copy(results, readBench(*peerBench))
		}
		sections["numbers"] = numbersTable(results)
		sections["targets"] = targetsTable(results, peers, addrCases)
	}
	if *benchstat != "" {
		text, err := os.ReadFile(*benchstat)
		if err != nil {
			log.Fatal(err)
		}
		sections["benchstat"] = "```\n" + strings.TrimRight(string(text), "\n") + "\n```"
	}
	if *machine != "" {
		text, err := os.ReadFile(*machine)
		if err != nil {
			log.Fatal(err)
		}
		var lines []string
		for line := range strings.Lines(string(text)) {
			if line = strings.TrimSpace(line); line != "" {
				lines = append(lines, "- "+line)
			}
		}
		sections["machine"] = strings.Join(lines, "\n")
	}

	if err := rewrite(*page, sections); err != nil {
		log.Fatal(err)
	}
}
