package webhookurl

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// SpecialPurposeRegistryDate is the date of the copy of the IANA IPv4 and
// IPv6 Special-Purpose Address Registries that the address table follows.
// testdata/iana-special-purpose.tsv is that copy; a test checks every one of
// its rows against [Classify].
const SpecialPurposeRegistryDate = "2026-12-04"

// Range is one block of the address table, or a block a Validator was
// configured to deny. It is a small read-only handle, so a Classification
// stays cheap to copy and no caller can change the table through it. The
// zero Range names no block.
type Range struct {
	info *rangeInfo
}

type rangeInfo struct {
	prefix netip.Prefix
	name   string // registry name, such as "Private-Use"
	rfc    string // defining document, such as "RFC 1918"
}

// Prefix returns the block, or the zero Prefix for the zero Range and for
// the pseudo-ranges of invalid and zoned addresses.
func (r Range) Prefix() netip.Prefix {
	if r.info == nil {
		return netip.Prefix{}
	}
	return r.info.prefix
}

// Name returns the registry name of the block, such as "Private-Use".
func (r Range) Name() string {
	if r.info == nil {
		return ""
	}
	return r.info.name
}

// RFC returns the document that defines the block, such as "RFC 1918".
func (r Range) RFC() string {
	if r.info == nil {
		return ""
	}
	return r.info.rfc
}

// IsZero reports whether r names no block.
func (r Range) IsZero() bool { return r.info == nil }

// String returns the prefix, name and RFC in one line, for logs.
func (r Range) String() string {
	switch {
	case r.info == nil:
		return ""
	case !r.info.prefix.IsValid():
		return r.info.name
	}
	return r.info.prefix.String() + " " + r.info.name + " (" + r.info.rfc + ")"
}

// Pseudo-ranges for addresses that no prefix describes.
var (
	invalidAddress = &rangeInfo{name: "invalid address"}
	zonedAddress   = &rangeInfo{name: "address with an IPv6 zone, which names a local interface"}
)

// embedding names where a range carries an IPv4 address inside an IPv6 one.
type embedding uint8

const (
	embedNone   embedding = iota
	embedLow32            // the last 32 bits: mapped, compatible, translated, NAT64
	embed6to4             // bits 16-47 (RFC 3056 Section 2)
	embedTeredo           // the last 32 bits, inverted (RFC 4380 Section 4)
)

type tableRow struct {
	rangeInfo
	embed embedding
	// publicIfEmbeddedPublic marks NAT64's well-known prefix, which is
	// globally reachable: a DNS64 resolver synthesises such addresses for
	// IPv4-only hosts, and the translator delivers them to the embedded
	// IPv4 address, so that address decides.
	publicIfEmbeddedPublic bool
}

func row(prefix, name, rfc string) tableRow {
	return tableRow{rangeInfo: rangeInfo{prefix: netip.MustParsePrefix(prefix), name: name, rfc: rfc}}
}

func embeddingRow(prefix, name, rfc string, e embedding) tableRow {
	r := row(prefix, name, rfc)
	r.embed = e
	return r
}

// table lists every block that is not a valid webhook destination. These
// are the blocks the IANA special-purpose registries mark not globally
// reachable or N/A, multicast, reserved and broadcast space, all of IPv6
// outside global unicast 2000::/3, and cloud metadata addresses that sit in
// public space.
//
// Where the registry marks a smaller block inside a not globally reachable
// one as reachable (the anycast and ORCHIDv2 blocks inside 192.0.0.0/24 and
// 2001::/23), the enclosing block still applies: none of them is a webhook
// endpoint. Blocks the registry marks reachable on their own, such as AS112
// (192.31.196.0/24) and AMT (192.52.193.0/24), are public here too.
var table = []tableRow{
	// IPv4.
	row("0.0.0.0/8", "This network", "RFC 791, Section 3.2"),
	row("0.0.0.0/32", "This host on this network", "RFC 1122, Section 3.2.1.3"),
	row("10.0.0.0/8", "Private-Use", "RFC 1918"),
	row("100.64.0.0/10", "Shared Address Space", "RFC 6598"),
	row("127.0.0.0/8", "Loopback", "RFC 1122, Section 3.2.1.3"),
	row("169.254.0.0/16", "Link Local", "RFC 3927"),
	row("172.16.0.0/12", "Private-Use", "RFC 1918"),
	row("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890, Section 2.1"),
	row("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
	row("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
	row("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 Section 2.2"),
	row("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 Section 2.2"),
	row("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
	row("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
	row("192.168.0.0/16", "Private-Use", "RFC 1918"),
	row("198.18.0.0/15", "Benchmarking", "RFC 2544"),
	row("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
	row("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
	row("224.0.0.0/4", "Multicast", "RFC 5771"),
	row("240.0.0.0/4", "Reserved", "RFC 1112, Section 4"),
	row("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 Section 7"),
	row("168.63.129.16/32", "Cloud metadata (Azure WireServer)", "Microsoft Azure documentation"),

	// IPv6 with an embedded IPv4 address. Each is decoded and the IPv4
	// address judged, so that the error can name it.
	embeddingRow("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", embedLow32),
	embeddingRow("::/96", "IPv4-compatible (deprecated)", "RFC 4291 Section 2.5.5.1", embedLow32),
	embeddingRow("::ffff:0:0:0/96", "IPv4-translated", "RFC 2765 Section 2.1", embedLow32),
	{
		rangeInfo:              rangeInfo{prefix: netip.MustParsePrefix("64:ff9b::/96"), name: "IPv4-IPv6 Translation", rfc: "RFC 6052"},
		embed:                  embedLow32,
		publicIfEmbeddedPublic: true,
	},
	embeddingRow("2002::/16", "6to4", "RFC 3056", embed6to4),
	embeddingRow("2001::/32", "TEREDO", "RFC 4380, RFC 8190", embedTeredo),

	// Other IPv6.
	row("::1/128", "Loopback Address", "RFC 4291"),
	row("::/128", "Unspecified Address", "RFC 4291"),
	row("64:ff9b:1::/48", "IPv4-IPv6 Translation (local use)", "RFC 8215"),
	row("100::/64", "Discard-Only Address Block", "RFC 6666"),
	row("100:0:0:1::/64", "Dummy IPv6 Prefix", "IANA IPv6 Special-Purpose Address Registry"),
	row("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
	row("2001:2::/48", "Benchmarking", "RFC 5180"),
	row("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),
	row("2001:db8::/32", "Documentation", "RFC 3849"),
	row("3fff::/20", "Documentation", "RFC 9637"),
	row("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
	row("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190"),
	row("fe80::/10", "Link-Local Unicast", "RFC 4291"),
	row("fec0::/10", "Site-Local (deprecated)", "RFC 3879"),
	row("ff00::/8", "Multicast", "RFC 4291 Section 2.7"),

	// Everything outside global unicast 2000::/3, in three blocks.
	row("::/3", "Outside global unicast 2000::/3", "RFC 4291 Section 2.4"),
	row("4000::/2", "Outside global unicast 2000::/3", "RFC 4291 Section 2.4"),
	row("8000::/1", "Outside global unicast 2000::/3", "RFC 4291 Section 2.4"),
}

// indexEntry is one candidate row for a first octet, with the row's prefix
// pre-split into a base and a mask so a match is two ANDs and compares.
type indexEntry struct {
	hi, lo         uint64 // base; IPv4 rows use lo's low 32 bits only
	maskHi, maskLo uint64
	row            *tableRow
}

var (
	index4 [256][]indexEntry
	index6 [256][]indexEntry
)

func init() {
	if len(table) > 255 {
		panic("webhookurl: address table too large for the index")
	}
	order := make([]int, len(table))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return table[b].prefix.Bits() - table[a].prefix.Bits()
	})
	for _, i := range order {
		p := table[i].prefix
		first, last := firstOctets(p)
		var e indexEntry
		e.row = &table[i]
		idx := &index6
		if p.Addr().Is4() {
			idx = &index4
			b := p.Addr().As4()
			e.lo = uint64(binary.BigEndian.Uint32(b[:]))
			if p.Bits() > 0 {
				e.maskLo = uint64(^uint32(0) << (32 - p.Bits()))
			}
		} else {
			b := p.Addr().As16()
			e.hi = binary.BigEndian.Uint64(b[:8])
			e.lo = binary.BigEndian.Uint64(b[8:])
			bits := p.Bits()
			switch {
			case bits >= 64:
				e.maskHi = ^uint64(0)
				if bits > 64 {
					e.maskLo = ^uint64(0) << (128 - bits)
				}
			case bits > 0:
				e.maskHi = ^uint64(0) << (64 - bits)
			}
		}
		for o := first; o <= last; o++ {
			idx[o] = append(idx[o], e)
		}
	}
}

// firstOctets returns the range of first octets that addresses in p have.
func firstOctets(p netip.Prefix) (first, last int) {
	first = int(p.Addr().AsSlice()[0])
	if p.Bits() >= 8 {
		return first, first
	}
	return first, first | (1<<(8-p.Bits()) - 1)
}

// SpecialPurposeRanges returns a copy of the address table: every range
// that Classify reports as not public.
func SpecialPurposeRanges() []Range {
	out := make([]Range, len(table))
	for i := range table {
		out[i] = table[i].asRange()
	}
	return out
}

func (r *tableRow) asRange() Range { return Range{info: &r.rangeInfo} }

// Classification is the verdict of [Classify] on one address.
type Classification struct {
	// Addr is the address classified, as given.
	Addr netip.Addr

	// Embedded is the IPv4 address carried inside Addr when Addr is
	// IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4 or Teredo
	// (the client address, already un-inverted). It is the zero Addr
	// otherwise.
	Embedded netip.Addr

	// Public reports whether Addr may be dialed.
	Public bool

	// Range is the block that made Addr not public. When Embedded is
	// itself not public, Range is Embedded's block, so that a rejection of
	// ::ffff:169.254.169.254 names the link-local range. It is the zero
	// Range when Public is true.
	Range Range
}

// String describes the verdict for logs, naming the decoded IPv4 address.
func (c Classification) String() string {
	s := c.Addr.String()
	if c.Embedded.IsValid() {
		s += " (embeds " + c.Embedded.String() + ")"
	}
	if c.Public {
		return s + " is public"
	}
	return s + " is in " + c.Range.String()
}

// Classify reports whether addr is a public address that a webhook may be
// delivered to and, if not, which range of the table it fell in. An invalid
// (zero) Addr is not public, and neither is an address with an IPv6 zone,
// because a zone names a local interface. A zoned address is judged by its
// block when that is not public, and rejected as zoned otherwise. Classify
// does not allocate and is safe for concurrent use.
func Classify(addr netip.Addr) Classification {
	if !addr.IsValid() {
		return Classification{Addr: addr, Range: Range{invalidAddress}}
	}

	r, ok := lookup(addr)
	switch {
	case !ok && addr.Zone() != "":
		return Classification{Addr: addr, Range: Range{zonedAddress}}
	case !ok:
		return Classification{Addr: addr, Public: true}
	case r.embed == embedNone:
		return Classification{Addr: addr, Range: r.asRange()}
	}
	return classifyEmbedded(addr, r)
}

//go:noinline
func classifyEmbedded(addr netip.Addr, r *tableRow) Classification {
	embedded := embeddedIPv4(addr, r.embed)
	inner, innerBlocked := lookup(embedded)
	switch {
	case innerBlocked:
		return Classification{Addr: addr, Embedded: embedded, Range: inner.asRange()}
	case r.publicIfEmbeddedPublic && addr.Zone() == "":
		return Classification{Addr: addr, Embedded: embedded, Public: true}
	}
	return Classification{Addr: addr, Embedded: embedded, Range: r.asRange()}
}

// lookup returns the most specific table row containing addr.
func lookup(addr netip.Addr) (*tableRow, bool) {
	if addr.Is4() {
		b := addr.As4()
		v := uint64(binary.BigEndian.Uint32(b[:]))
		for i := range index4[b[0]] {
			e := &index4[b[0]][i]
			if v&e.maskLo == e.lo {
				return e.row, true
			}
		}
		return nil, false
	}
	b := addr.As16()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	entries := index6[b[0]]
	for i := range entries {
		e := &entries[i]
		if hi&e.maskHi == e.hi && lo&e.maskLo == e.lo {
			return e.row, true
		}
	}
	return nil, false
}

// embeddedIPv4 decodes the IPv4 address that an IPv6 address carries.
func embeddedIPv4(addr netip.Addr, e embedding) netip.Addr {
	b := addr.As16()
	var v4 [4]byte
	switch e {
	case embed6to4:
		copy(v4[:], b[2:6])
	case embedTeredo:
		for i := range v4 {
			v4[i] = ^b[12+i]
		}
	default:
		copy(v4[:], b[12:16])
	}
	return netip.AddrFrom4(v4)
}
