// Package benchmarks compares webhookurl with the libraries and
// hand-written checks people pick instead: code.dny.dev/ssrf,
// github.com/doyensec/safeurl and the net/netip predicates. Its benchmarks
// measure speed, and cmd/benchreport prints which verdicts each one gets
// right on a shared list of harmless and hostile addresses and URLs.
//
// Nothing here dials or resolves. The peers are called only on values in
// memory. safeurl checks addresses only inside its HTTP client's dialer, so
// it gets a transport that fails before any connection is made.
package benchmarks

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// AddrCase is one row of testdata/addresses.tsv.
type AddrCase struct {
	Addr   netip.Addr
	Accept bool   // expected verdict under webhookurl's policy
	Group  string // public, private, metadata, reserved or embedded
	Note   string
}

// URLCase is one row of testdata/urls.tsv.
type URLCase struct {
	URL    string
	Accept bool // expected verdict of a static check under webhookurl's policy
	Note   string
}

// LoadAddrCases reads an address case file.
func LoadAddrCases(path string) ([]AddrCase, error) {
	var cases []AddrCase
	err := readRows(path, 4, func(fields []string) error {
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			return err
		}
		accept, err := parseVerdict(fields[1])
		if err != nil {
			return err
		}
		cases = append(cases, AddrCase{Addr: addr, Accept: accept, Group: fields[2], Note: fields[3]})
		return nil
	})
	return cases, err
}

// LoadURLCases reads a URL case file.
func LoadURLCases(path string) ([]URLCase, error) {
	var cases []URLCase
	err := readRows(path, 3, func(fields []string) error {
		raw, err := strconv.Unquote(fields[0])
		if err != nil {
			return fmt.Errorf("URL %s is not a Go-quoted string: %w", fields[0], err)
		}
		accept, err := parseVerdict(fields[1])
		if err != nil {
			return err
		}
		cases = append(cases, URLCase{URL: raw, Accept: accept, Note: fields[2]})
		return nil
	})
	return cases, err
}

func parseVerdict(s string) (bool, error) {
	switch s {
	case "accept":
		return true, nil
	case "reject":
		return false, nil
	}
	return false, fmt.Errorf("verdict %q must be accept or reject", s)
}

// readRows calls parse with the tab-separated fields of every line that is
// neither blank nor a # comment.
func readRows(path string, columns int, parse func([]string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()

	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := scanner.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != columns {
			return fmt.Errorf("%s:%d: %d fields; want %d", path, line, len(fields), columns)
		}
		if err := parse(fields); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	return scanner.Err()
}
