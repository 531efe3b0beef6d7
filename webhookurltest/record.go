package webhookurltest

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL, in seconds, that the constructors A, AAAA and CNAME
// give a record. Use Record.WithTTL for another value, including 0.
const DefaultTTL uint32 = 300

// Zone maps owner names to their records. Names are case-insensitive and may
// be given with or without the trailing dot, so "Hook.Example" and
// "hook.example." are the same key. A name whose slice is empty exists but
// has no records, so every query for it gets NOERROR with an empty answer.
type Zone map[string][]Record

// Record is one resource record of a Zone, without its owner name.
//
// Value is the record data in zone-file presentation format (RFC 1035
// section 5.1): an IPv4 address for A, an IPv6 address for AAAA, a domain
// name for CNAME, "10 mx.example." for MX, a quoted string for TXT.
// TTL is in seconds, and its zero value is a real TTL of 0, not a default.
type Record struct {
	Type  uint16
	Value string
	TTL   uint32
}

// A returns an A record for the IPv4 address ip with DefaultTTL.
func A(ip string) Record {
	return Record{Type: dns.TypeA, Value: ip, TTL: DefaultTTL}
}

// AAAA returns an AAAA record for the IPv6 address ip with DefaultTTL.
// IPv4-mapped forms such as "::ffff:127.0.0.1" are accepted, because a
// client must handle them.
func AAAA(ip string) Record {
	return Record{Type: dns.TypeAAAA, Value: ip, TTL: DefaultTTL}
}

// CNAME returns a CNAME record pointing to target with DefaultTTL.
func CNAME(target string) Record {
	return Record{Type: dns.TypeCNAME, Value: target, TTL: DefaultTTL}
}

// WithTTL returns a copy of r with the TTL set to ttl seconds.
func (r Record) WithTTL(ttl uint32) Record {
	r.TTL = ttl
	return r
}

// String formats r as the data part of a zone-file line, such as
// "300 IN A 192.0.2.1".
func (r Record) String() string {
	return fmt.Sprintf("%d IN %s %s", r.TTL, dns.TypeToString[r.Type], r.Value)
}

// canonicalName returns the lower-case, fully qualified form of name, which
// is the key every map of the Server uses.
func canonicalName(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}

// toRR converts r to a resource record owned by name, which must already be
// canonical. A and AAAA values are parsed with net/netip so that an address
// of the wrong family is an error rather than a silent conversion.
func (r Record) toRR(name string) (dns.RR, error) {
	header := dns.RR_Header{Name: name, Rrtype: r.Type, Class: dns.ClassINET, Ttl: r.TTL}

	switch r.Type {
	case dns.TypeA:
		addr, err := netip.ParseAddr(r.Value)
		if err != nil || !addr.Is4() {
			return nil, fmt.Errorf("webhookurltest: invalid A record %q for %s: want an IPv4 address", r.Value, name)
		}
		return &dns.A{Hdr: header, A: net.IP(addr.AsSlice())}, nil

	case dns.TypeAAAA:
		addr, err := netip.ParseAddr(r.Value)
		if err != nil || !addr.Is6() {
			return nil, fmt.Errorf("webhookurltest: invalid AAAA record %q for %s: want an IPv6 address", r.Value, name)
		}
		return &dns.AAAA{Hdr: header, AAAA: net.IP(addr.AsSlice())}, nil

	case dns.TypeCNAME:
		if _, ok := dns.IsDomainName(r.Value); !ok || r.Value == "" {
			return nil, fmt.Errorf("webhookurltest: invalid CNAME target %q for %s", r.Value, name)
		}
		return &dns.CNAME{Hdr: header, Target: canonicalName(r.Value)}, nil
	}

	typeName, ok := dns.TypeToString[r.Type]
	if !ok {
		return nil, fmt.Errorf("webhookurltest: unsupported record type %d for %s", r.Type, name)
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, r.TTL, typeName, r.Value))
	if err != nil {
		return nil, fmt.Errorf("webhookurltest: invalid %s record %q for %s: %w", typeName, r.Value, name, err)
	}
	if rr == nil {
		return nil, fmt.Errorf("webhookurltest: empty %s record for %s", typeName, name)
	}
	return rr, nil
}

// toRRs converts records to resource records owned by name.
func toRRs(name string, records []Record) ([]dns.RR, error) {
	if err := checkOwner(name); err != nil {
		return nil, err
	}
	rrs := make([]dns.RR, 0, len(records))
	for _, r := range records {
		rr, err := r.toRR(name)
		if err != nil {
			return nil, err
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

// checkOwner rejects an owner name that no client would ever query, so a
// typo in a Zone fails the test instead of turning into NXDOMAIN. It
// rejects names that are not ASCII, because clients query the punycode
// form, names with a space or control character, and names that are not
// valid domain names, such as one with an empty label.
func checkOwner(name string) error {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 0x80:
			return fmt.Errorf("webhookurltest: owner name %q is not ASCII; write it in punycode (xn--...)", name)
		case c <= ' ' || c == 0x7f:
			return fmt.Errorf("webhookurltest: owner name %q contains a space or control character", name)
		}
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.Contains(name, "..") {
		return fmt.Errorf("webhookurltest: owner name %q is not a valid domain name", name)
	}
	return nil
}
