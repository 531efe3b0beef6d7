package webhookurl

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// host is a host that passed the host rules.
type host struct {
	name string     // ASCII: a lowercase punycode name, or the IP text
	addr netip.Addr // valid for an IP literal
}

// Limits of RFC 1035 Section 2.3.4, on the name without its trailing dot.
const (
	maxNameLength  = 253
	maxLabelLength = 63
)

// specialNames are suffixes that never name a public host, so they are
// rejected without a DNS query. Each entry matches the name itself and
// every name under it.
var specialNames = []struct {
	suffix string
	reason Reason
	source string
}{
	{"localhost", ReasonLocalhost, "RFC 6761 Section 6.3"},
	{"localhost.localdomain", ReasonLocalhost, "the usual /etc/hosts alias of localhost"},
	{"local", ReasonSpecialUseHost, "multicast DNS, RFC 6762"},
	{"internal", ReasonSpecialUseHost, "reserved by ICANN for private use, 2024"},
	{"home.arpa", ReasonSpecialUseHost, "home networks, RFC 8375"},
	{"arpa", ReasonSpecialUseHost, "infrastructure domain, RFC 3172"},
	{"test", ReasonSpecialUseHost, "RFC 6761 Section 6.2"},
	{"example", ReasonSpecialUseHost, "RFC 6761 Section 6.5"},
	{"invalid", ReasonSpecialUseHost, "RFC 6761 Section 6.4"},
	{"onion", ReasonSpecialUseHost, "Tor, RFC 7686"},
	{"alt", ReasonSpecialUseHost, "non-DNS resolution, RFC 9476"},
}

// specialTLDs holds the last label of every specialNames suffix, so most
// names skip the loop over the table with one map lookup.
var specialTLDs = func() map[string]bool {
	m := make(map[string]bool)
	for _, s := range specialNames {
		m[s.suffix[strings.LastIndexByte(s.suffix, '.')+1:]] = true
	}
	return m
}()

// checkHost applies the host rules. raw is the host as written, with
// brackets around an IPv6 literal. The returned host is canonical.
func checkHost(raw string) (host, *Error) {
	if raw == "" {
		return host{}, reject(ReasonInvalidHost, raw, "the host is empty")
	}
	if raw[0] == '[' {
		return checkIPv6Literal(raw)
	}

	// Map the name the way clients do before any check, so that full-width
	// dots, circled letters and upper case are judged as what they become:
	// "127。0。0。1" is 127.0.0.1 to Go's net/http too.
	name := raw
	switch {
	case !needsIDNA(name):
	case isPlainASCII(name):
		// For ASCII, UTS #46 maps A-Z to a-z and, with the STD3 rules of
		// the lookup profile, rejects everything but letters, digits,
		// hyphens and dots. Lowercasing is the whole mapping, and
		// checkLabels rejects the rest with a clearer message than IDNA's.
		name = strings.ToLower(name)
	default:
		mapped, err := toASCII(name)
		if err != nil {
			return host{}, &Error{Reason: ReasonInvalidHost, Value: raw, Err: err,
				detail: "not a valid internationalized domain name"}
		}
		name = mapped
	}

	// One trailing dot makes the name absolute; it is removed before the
	// checks so that "localhost." is judged as "localhost".
	trailingDot := strings.HasSuffix(name, ".")
	if trailingDot {
		name = name[:len(name)-1]
	}
	if err := checkLabels(raw, name); err != nil {
		return host{}, err
	}

	// A name whose last label is a number is an IPv4 address to WHATWG
	// URL parsers and to inet_aton, in forms such as 127.1, 0x7f.1,
	// 2130706433 or 0177.0.0.1. Only the canonical dotted-decimal form is
	// accepted; Go would otherwise pass the others to the system resolver.
	if endsInNumber(name) {
		addr, err := netip.ParseAddr(name)
		if err != nil || !addr.Is4() || trailingDot {
			return host{}, reject(ReasonIPLiteralNotCanonical, raw, "")
		}
		return host{name: name, addr: addr}, nil
	}

	if specialTLDs[name[strings.LastIndexByte(name, '.')+1:]] {
		for _, s := range specialNames {
			if hasLabelSuffix(name, s.suffix) {
				return host{}, reject(s.reason, raw, "special-use name ("+s.source+")")
			}
		}
	}

	// A single-label name is resolved through the search domains of
	// /etc/resolv.conf by most clients, which turns "redis" into an
	// internal host.
	lastDot := strings.LastIndexByte(name, '.')
	if lastDot < 0 {
		return host{}, reject(ReasonSingleLabelHost, raw, "")
	}

	if reason := suffixReason(name); reason != "" {
		return host{}, reject(reason, raw, "")
	}
	return host{name: name}, nil
}

// idnaMemo remembers the ASCII form of internationalized names, with the
// same bound as suffixMemo. The IDNA mapping is the costliest step for such
// a name, and the same stored URL is validated again before every
// delivery. Only successful mappings are kept.
var (
	idnaMemo      sync.Map // Unicode name -> ASCII name
	idnaMemoCount atomic.Int64
)

func toASCII(name string) (string, error) {
	if mapped, ok := idnaMemo.Load(name); ok {
		return mapped.(string), nil
	}
	mapped, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return "", err
	}
	if idnaMemoCount.Add(1) > suffixMemoSize {
		idnaMemo.Clear()
		idnaMemoCount.Store(0)
	}
	idnaMemo.Store(strings.Clone(name), mapped)
	return mapped, nil
}

// suffixMemo remembers suffixReason's verdicts. Webhook hosts repeat, from
// one validation of a stored URL to the next, and publicsuffix.PublicSuffix
// costs more than the rest of the host rules together, with an allocation
// on every call. The memo is cleared whenever it passes suffixMemoSize
// entries, so hostile input cannot grow it.
var (
	suffixMemo      sync.Map // name -> Reason
	suffixMemoCount atomic.Int64
)

const suffixMemoSize = 4096

// suffixReason returns ReasonUnknownTLD for a name whose top-level domain
// is not on ICANN's list, ReasonPublicSuffix for a name that is itself an
// ICANN public suffix such as co.uk, and "" otherwise.
func suffixReason(name string) Reason {
	if r, ok := suffixMemo.Load(name); ok {
		return r.(Reason)
	}

	var reason Reason
	suffix, icann := publicsuffix.PublicSuffix(name)
	switch {
	case icann && suffix == name:
		reason = ReasonPublicSuffix
	case !icann && (strings.IndexByte(suffix, '.') < 0 || !isICANNTLD(name[strings.LastIndexByte(name, '.')+1:])):
		// Private suffixes such as github.io sit under ICANN TLDs and are
		// fine; a TLD that is not on the ICANN list (.corp, .lan) is not.
		reason = ReasonUnknownTLD
	}

	if suffixMemoCount.Add(1) > suffixMemoSize {
		suffixMemo.Clear()
		suffixMemoCount.Store(0)
	}
	suffixMemo.Store(strings.Clone(name), reason)
	return reason
}

// hasLabelSuffix reports whether name is suffix or a name under it.
func hasLabelSuffix(name, suffix string) bool {
	if !strings.HasSuffix(name, suffix) {
		return false
	}
	n := len(name) - len(suffix)
	return n == 0 || name[n-1] == '.'
}

func isICANNTLD(tld string) bool {
	_, icann := publicsuffix.PublicSuffix(tld)
	return icann
}

// needsIDNA reports whether name could change under UTS #46 mapping. A name
// of lowercase letters, digits, hyphens and dots with no punycode label maps
// to itself, and checkLabels applies the rest of what the Lookup profile
// checks (hyphen placement) to it.
func needsIDNA(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return true
		}
	}
	return strings.HasPrefix(name, "xn--") || strings.Contains(name, ".xn--")
}

// isPlainASCII reports whether name is ASCII with no punycode label in any
// case: a name IDNA would only lowercase or reject.
func isPlainASCII(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return false
		}
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) >= 4 && strings.EqualFold(label[:4], "xn--") {
			return false
		}
	}
	return true
}

// checkLabels checks the length and characters of an ASCII name without
// its trailing dot. Labels hold letters, digits and hyphens only, with no
// hyphen at either end. Outside punycode, a label must not have hyphens in
// both the third and fourth position (UTS #46 Section 4.1, CheckHyphens).
func checkLabels(raw, name string) *Error {
	if name == "" {
		return reject(ReasonInvalidHost, raw, "the host is empty")
	}
	if len(name) > maxNameLength {
		return reject(ReasonInvalidHost, raw, "the name is longer than 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return reject(ReasonInvalidHost, raw, "the name has an empty label")
		case len(label) > maxLabelLength:
			return reject(ReasonInvalidHost, raw, "a label is longer than 63 characters")
		case label[0] == '-' || label[len(label)-1] == '-':
			return reject(ReasonInvalidHost, raw, "a label starts or ends with a hyphen")
		case len(label) >= 4 && label[2] == '-' && label[3] == '-' && !strings.HasPrefix(label, "xn--"):
			return reject(ReasonInvalidHost, raw, "a label has hyphens in the third and fourth position")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return reject(ReasonInvalidHost, raw, "only letters, digits and hyphens are allowed")
			}
		}
	}
	return nil
}

// endsInNumber reports whether the last label of name is a number to a
// WHATWG URL parser: all decimal digits, or 0x followed by hex digits.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if isDigits(last) {
		return true
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return last == "0x" || last == "0X" || isHex(last[2:])
	}
	return false
}

// checkIPv6Literal parses a bracketed host. The brackets may hold only an
// IPv6 address; zones were rejected with the percent sign.
func checkIPv6Literal(raw string) (host, *Error) {
	inner := raw[1 : len(raw)-1]
	addr, err := netip.ParseAddr(inner)
	if err != nil || !addr.Is6() {
		return host{}, &Error{Reason: ReasonInvalidHost, Value: raw, Err: err,
			detail: "brackets must hold an IPv6 address"}
	}
	return host{name: addr.String(), addr: addr}, nil
}
