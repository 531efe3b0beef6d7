package webhookurl

import (
	"net/netip"
)

// This file holds a slow reference for Classify: a linear scan of
// SpecialPurposeRanges with netip.Prefix.Contains, and its own decoding of
// every IPv4-in-IPv6 form. It shares the prefix list with ipranges.go but
// none of its lookup, index or decoding code, so a fault in the fast path
// shows up as a disagreement.

// referenceEmbedding is how an IPv6 block carries an IPv4 address.
type referenceEmbedding int

const (
	referenceNoEmbedding referenceEmbedding = iota
	referenceLast32                         // mapped, compatible, translated: the last 32 bits
	referenceNAT64                          // RFC 6052 /96: the last 32 bits, public when they are
	reference6to4                           // RFC 3056 Section 2: 2002:AABB:CCDD::/48 carries A.B.C.D
	referenceTeredo                         // RFC 4380 Section 4: the last 32 bits, every bit inverted
)

// referenceEmbeddings lists the blocks that carry an IPv4 address, as the
// RFCs in the comments above define them.
var referenceEmbeddings = map[netip.Prefix]referenceEmbedding{
	netip.MustParsePrefix("::ffff:0:0/96"):   referenceLast32, // RFC 4291 Section 2.5.5.2
	netip.MustParsePrefix("::/96"):           referenceLast32, // RFC 4291 Section 2.5.5.1
	netip.MustParsePrefix("::ffff:0:0:0/96"): referenceLast32, // RFC 2765 Section 2.1
	netip.MustParsePrefix("64:ff9b::/96"):    referenceNAT64,
	netip.MustParsePrefix("2002::/16"):       reference6to4,
	netip.MustParsePrefix("2001::/32"):       referenceTeredo,
}

// referenceLookup returns the longest prefix in ranges that contains addr.
// netip.Prefix.Contains is false for any zoned address, so the zone is
// dropped first, as Classify documents.
func referenceLookup(ranges []Range, addr netip.Addr) (Range, bool) {
	addr = addr.WithZone("")
	var best Range
	found := false
	for _, r := range ranges {
		if !r.Prefix().Contains(addr) {
			continue
		}
		if !found || r.Prefix().Bits() > best.Prefix().Bits() {
			best = r
			found = true
		}
	}
	return best, found
}

// referenceDecode extracts the IPv4 address that addr carries under the
// embedding e, building it octet by octet from the 16 bytes of addr.
func referenceDecode(addr netip.Addr, e referenceEmbedding) netip.Addr {
	b := addr.As16()
	switch e {
	case reference6to4:
		// Bits 16 to 47 are bytes 2 to 5.
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	case referenceTeredo:
		return netip.AddrFrom4([4]byte{b[12] ^ 0xff, b[13] ^ 0xff, b[14] ^ 0xff, b[15] ^ 0xff})
	default:
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
}

// referenceClassify applies the policy of Classify the slow way. The longest
// matching prefix wins. An embedded IPv4 address is judged on its own, and
// when it is not public its own block is reported. NAT64's well-known
// prefix is public exactly when its embedded address is. addr must be valid.
func referenceClassify(addr netip.Addr) Classification {
	ranges := SpecialPurposeRanges()
	c := Classification{Addr: addr}

	outer, found := referenceLookup(ranges, addr)
	if !found {
		c.Public = true
		return c
	}
	e, embeds := referenceEmbeddings[outer.Prefix()]
	if !embeds {
		c.Range = outer
		return c
	}

	c.Embedded = referenceDecode(addr, e)
	inner, innerFound := referenceLookup(ranges, c.Embedded)
	switch {
	case innerFound:
		c.Range = inner
	case e == referenceNAT64:
		c.Public = true
	default:
		c.Range = outer
	}
	return c
}
