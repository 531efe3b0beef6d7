package webhookurl

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registryPath is the pinned copy of the IANA special-purpose registries.
const registryPath = "testdata/iana-special-purpose.tsv"

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// middleAddr returns the first address of the upper half of p, or its only
// address when p is a single address.
func middleAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	i := p.Bits()
	if i == p.Addr().BitLen() {
		return p.Addr()
	}
	if p.Addr().Is4() {
		b := p.Addr().As4()
		b[i/8] |= 0x80 >> (i % 8)
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	b[i/8] |= 0x80 >> (i % 8)
	return netip.AddrFrom16(b)
}

// verdictProblem returns what is inconsistent inside c, or "" when nothing
// is: a public verdict names no Range, a non-public one names a Range that
// contains Addr or Embedded, and Embedded is always an IPv4 address.
func verdictProblem(c Classification) string {
	if c.Embedded.IsValid() && !c.Embedded.Is4() {
		return fmt.Sprintf("Embedded %s is not an IPv4 address", c.Embedded)
	}
	if c.Public {
		if c.Range != (Range{}) {
			return fmt.Sprintf("public verdict names range %v", c.Range)
		}
		return ""
	}
	if !c.Addr.IsValid() {
		if c.Range.Prefix().IsValid() {
			return fmt.Sprintf("invalid address names prefix %s", c.Range.Prefix())
		}
		return ""
	}
	if !c.Range.Prefix().IsValid() {
		return "non-public verdict names no prefix"
	}
	if c.Range.Prefix().Contains(c.Addr.WithZone("")) {
		return ""
	}
	if c.Embedded.IsValid() && c.Range.Prefix().Contains(c.Embedded) {
		return ""
	}
	return fmt.Sprintf("range %s contains neither the address nor the embedded %v", c.Range.Prefix(), c.Embedded)
}

func TestClassifyRangeBoundaries(t *testing.T) {
	for _, r := range SpecialPurposeRanges() {
		t.Run(r.Prefix().String(), func(t *testing.T) {
			for _, addr := range []netip.Addr{r.Prefix().Addr(), lastAddr(r.Prefix())} {
				c := Classify(addr)
				assert.False(t, c.Public, "Classify(%s) = %v; want not public", addr, c)
				assert.Empty(t, verdictProblem(c), "Classify(%s) = %v", addr, c)
			}
		})
	}
}

func TestSpecialPurposeRangesCanonical(t *testing.T) {
	seen := map[netip.Prefix]bool{}
	for _, r := range SpecialPurposeRanges() {
		assert.True(t, r.Prefix().IsValid(), "range %q has an invalid prefix", r.Name)
		assert.Equal(t, r.Prefix().Masked(), r.Prefix(), "prefix %s has host bits set", r.Prefix())
		assert.False(t, seen[r.Prefix()], "prefix %s is listed twice", r.Prefix())
		assert.NotEmpty(t, r.Name, "prefix %s has no name", r.Prefix())
		assert.NotEmpty(t, r.RFC, "prefix %s has no RFC", r.Prefix())
		seen[r.Prefix()] = true
	}
}

func TestSpecialPurposeRangesReturnsCopy(t *testing.T) {
	before := SpecialPurposeRanges()
	private := netip.MustParseAddr("10.0.0.5")
	wantPrivate := Classify(private)

	mutated := SpecialPurposeRanges()
	for i := range mutated {
		mutated[i] = Range{&rangeInfo{prefix: netip.MustParsePrefix("8.0.0.0/8"), name: "mutated"}}
	}

	assert.Equal(t, before, SpecialPurposeRanges(), "SpecialPurposeRanges changed after its result was mutated")
	got := Classify(private)
	assert.Equal(t, wantPrivate, got, "Classify(%s) = %v; want %v", private, got, wantPrivate)
	public := netip.MustParseAddr("8.8.8.8")
	assert.True(t, Classify(public).Public, "Classify(%s) = %v; want public", public, Classify(public))
}

// registryRow is one line of the pinned registry copy.
type registryRow struct {
	line      int
	block     netip.Prefix
	name      string
	reachable string // "True", "False" or "N/A"
	listed    bool   // false for rows under "# not in the registries"
}

// readRegistry parses registryPath and returns its rows and the date from
// its "Rows compiled YYYY-MM-DD" header.
func readRegistry(t *testing.T) (rows []registryRow, compiled string) {
	t.Helper()
	f, err := os.Open(registryPath)
	require.NoError(t, err)
	defer f.Close()

	listed := true
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#"):
			if strings.TrimSpace(strings.TrimPrefix(line, "#")) == "not in the registries" {
				listed = false
			}
			if _, after, ok := strings.Cut(line, "Rows compiled "); ok {
				compiled, _, _ = strings.Cut(after, " ")
			}
			continue
		case strings.HasPrefix(line, "block\t"):
			continue
		}

		fields := strings.Split(line, "\t")
		require.Len(t, fields, 4, "%s:%d: want 4 tab-separated columns in %q", registryPath, n, line)
		block, err := netip.ParsePrefix(fields[0])
		require.NoError(t, err, "%s:%d", registryPath, n)
		reachable := fields[3]
		require.Contains(t, []string{"True", "False", "N/A"}, reachable, "%s:%d: globally_reachable", registryPath, n)
		rows = append(rows, registryRow{line: n, block: block, name: fields[1], reachable: reachable, listed: listed})
	}
	require.NoError(t, s.Err())
	require.NotEmpty(t, rows, "%s has no rows", registryPath)
	return rows, compiled
}

func TestRegistryDate(t *testing.T) {
	_, compiled := readRegistry(t)
	assert.Equal(t, SpecialPurposeRegistryDate, compiled,
		"SpecialPurposeRegistryDate = %q; want the date in the header of %s", SpecialPurposeRegistryDate, registryPath)
}

// reachableInsideBlocked lists the registry blocks marked globally
// reachable that lie inside a block marked not reachable, with that
// enclosing block. Classify rejects them because the enclosing block wins:
// anycast service addresses and ORCHIDv2 tags are never webhook endpoints.
// A new registry row of this kind fails the test until it is listed here.
var reachableInsideBlocked = map[string]string{
	"192.0.0.9/32":    "192.0.0.0/24", // Port Control Protocol Anycast
	"192.0.0.10/32":   "192.0.0.0/24", // TURN Anycast
	"2001:1::1/128":   "2001::/23",    // Port Control Protocol Anycast
	"2001:1::2/128":   "2001::/23",    // TURN Anycast
	"2001:1::3/128":   "2001::/23",    // DNS-SD Service Registration Protocol Anycast
	"2001:3::/32":     "2001::/23",    // AMT
	"2001:4:112::/48": "2001::/23",    // AS112-v6
	"2001:20::/28":    "2001::/23",    // ORCHIDv2
	"2001:30::/28":    "2001::/23",    // Drone Remote ID Protocol Entity Tags
}

// reachableIfEmbeddedPublic lists the registry blocks marked globally
// reachable that Classify accepts only when the IPv4 address they carry is
// public. Their first and last addresses carry 0.0.0.0 and 255.255.255.255.
var reachableIfEmbeddedPublic = map[string]string{
	"64:ff9b::/96": "64:ff9b::8.8.8.8", // NAT64 well-known prefix, RFC 6052
}

func TestClassifyRegistry(t *testing.T) {
	rows, _ := readRegistry(t)
	tableRows := map[netip.Prefix]bool{}
	for _, r := range SpecialPurposeRanges() {
		tableRows[r.Prefix()] = true
	}
	var blocked []netip.Prefix
	for _, r := range rows {
		if r.reachable != "True" {
			blocked = append(blocked, r.block)
		}
	}
	inRegistry := map[string]bool{}

	for _, r := range rows {
		inRegistry[r.block.String()] = true
		t.Run(r.block.String(), func(t *testing.T) {
			first, last := r.block.Addr(), lastAddr(r.block)

			if r.reachable != "True" {
				assert.True(t, tableRows[r.block], "%s:%d: block %s (%s) has no row of its own in the table", registryPath, r.line, r.block, r.name)
				for _, addr := range []netip.Addr{first, last} {
					c := Classify(addr)
					assert.False(t, c.Public, "Classify(%s) = %v; want not public (registry: %s)", addr, c, r.reachable)
					assert.Empty(t, verdictProblem(c), "Classify(%s) = %v", addr, c)
				}
				return
			}
			assert.True(t, r.listed, "%s:%d: rows outside the registries must not be reachable", registryPath, r.line)

			if sample, ok := reachableIfEmbeddedPublic[r.block.String()]; ok {
				for _, addr := range []netip.Addr{first, last} {
					c := Classify(addr)
					require.True(t, c.Embedded.IsValid(), "Classify(%s) = %v; want an embedded IPv4 address", addr, c)
					want := Classify(c.Embedded).Public
					assert.Equal(t, want, c.Public, "Classify(%s) = %v; want Public %v like its embedded address", addr, c, want)
				}
				addr := netip.MustParseAddr(sample)
				assert.True(t, Classify(addr).Public, "Classify(%s) = %v; want public", addr, Classify(addr))
				return
			}

			var enclosing netip.Prefix
			for _, b := range blocked {
				if b.Bits() < r.block.Bits() && b.Contains(first) && (!enclosing.IsValid() || b.Bits() > enclosing.Bits()) {
					enclosing = b
				}
			}
			listedEnclosing, isException := reachableInsideBlocked[r.block.String()]
			if !enclosing.IsValid() {
				assert.False(t, isException, "%s is listed in reachableInsideBlocked but lies in no blocked registry block", r.block)
				for _, addr := range []netip.Addr{first, last} {
					c := Classify(addr)
					assert.True(t, c.Public, "Classify(%s) = %v; want public (registry: True)", addr, c)
				}
				return
			}

			require.True(t, isException, "%s (%s) is reachable but lies inside blocked %s; list it in reachableInsideBlocked if the enclosing block should win", r.block, r.name, enclosing)
			assert.Equal(t, listedEnclosing, enclosing.String(), "enclosing block of %s", r.block)
			for _, addr := range []netip.Addr{first, last} {
				c := Classify(addr)
				assert.False(t, c.Public, "Classify(%s) = %v; want not public (inside %s)", addr, c, enclosing)
				assert.Equal(t, enclosing, c.Range.Prefix(), "Classify(%s) = %v; want range %s", addr, c, enclosing)
			}
		})
	}

	for block := range reachableInsideBlocked {
		assert.True(t, inRegistry[block], "reachableInsideBlocked lists %s, which is not in %s", block, registryPath)
	}
	for block := range reachableIfEmbeddedPublic {
		assert.True(t, inRegistry[block], "reachableIfEmbeddedPublic lists %s, which is not in %s", block, registryPath)
	}
}

// classifyCase is one address with its expected verdict. For a public
// address rangePrefix is empty, and embedded is empty when no IPv4 address
// is carried.
type classifyCase struct {
	addr        string
	public      bool
	embedded    string
	rangePrefix string
	reason      string
}

// Teredo addresses below use server 192.0.2.1 (c000:201), flags and port 0,
// and carry the client address inverted in the last 32 bits.
var hostileCases = []classifyCase{
	// Around the IPv4 blocks.
	{addr: "0.0.0.0", rangePrefix: "0.0.0.0/32"},
	{addr: "0.0.0.1", rangePrefix: "0.0.0.0/8"},
	{addr: "0.255.255.255", rangePrefix: "0.0.0.0/8"},
	{addr: "1.0.0.0", public: true},
	{addr: "9.255.255.255", public: true},
	{addr: "10.0.0.0", rangePrefix: "10.0.0.0/8"},
	{addr: "10.255.255.255", rangePrefix: "10.0.0.0/8"},
	{addr: "11.0.0.0", public: true},
	{addr: "100.63.255.255", public: true},
	{addr: "100.64.0.0", rangePrefix: "100.64.0.0/10"},
	{addr: "100.127.255.255", rangePrefix: "100.64.0.0/10"},
	{addr: "100.128.0.0", public: true},
	{addr: "126.255.255.255", public: true},
	{addr: "127.0.0.0", rangePrefix: "127.0.0.0/8"},
	{addr: "127.255.255.255", rangePrefix: "127.0.0.0/8"},
	{addr: "128.0.0.0", public: true},
	{addr: "169.253.255.255", public: true},
	{addr: "169.254.169.254", rangePrefix: "169.254.0.0/16", reason: "cloud metadata service"},
	{addr: "169.255.0.0", public: true},
	{addr: "172.15.255.255", public: true},
	{addr: "172.16.0.0", rangePrefix: "172.16.0.0/12"},
	{addr: "172.31.255.255", rangePrefix: "172.16.0.0/12"},
	{addr: "172.32.0.0", public: true},
	{addr: "191.255.255.255", public: true},
	{addr: "192.0.0.0", rangePrefix: "192.0.0.0/29"},
	{addr: "192.0.0.8", rangePrefix: "192.0.0.8/32"},
	{addr: "192.0.0.9", rangePrefix: "192.0.0.0/24", reason: "registry reachable, but inside 192.0.0.0/24"},
	{addr: "192.0.0.170", rangePrefix: "192.0.0.170/32"},
	{addr: "192.0.0.255", rangePrefix: "192.0.0.0/24"},
	{addr: "192.0.1.0", public: true},
	{addr: "192.0.2.0", rangePrefix: "192.0.2.0/24"},
	{addr: "192.0.3.0", public: true},
	{addr: "192.31.196.1", public: true, reason: "AS112-v4 is registry reachable"},
	{addr: "192.52.193.1", public: true, reason: "AMT is registry reachable"},
	{addr: "192.88.98.255", public: true},
	{addr: "192.88.99.1", rangePrefix: "192.88.99.0/24"},
	{addr: "192.88.100.0", public: true},
	{addr: "192.167.255.255", public: true},
	{addr: "192.168.0.0", rangePrefix: "192.168.0.0/16"},
	{addr: "192.168.255.255", rangePrefix: "192.168.0.0/16"},
	{addr: "192.169.0.0", public: true},
	{addr: "192.175.48.1", public: true, reason: "Direct Delegation AS112 is registry reachable"},
	{addr: "198.17.255.255", public: true},
	{addr: "198.18.0.0", rangePrefix: "198.18.0.0/15"},
	{addr: "198.19.255.255", rangePrefix: "198.18.0.0/15"},
	{addr: "198.20.0.0", public: true},
	{addr: "198.51.99.255", public: true},
	{addr: "198.51.100.7", rangePrefix: "198.51.100.0/24"},
	{addr: "198.51.101.0", public: true},
	{addr: "203.0.112.255", public: true},
	{addr: "203.0.113.7", rangePrefix: "203.0.113.0/24"},
	{addr: "203.0.114.0", public: true},
	{addr: "223.255.255.255", public: true},
	{addr: "224.0.0.0", rangePrefix: "224.0.0.0/4"},
	{addr: "239.255.255.255", rangePrefix: "224.0.0.0/4"},
	{addr: "240.0.0.0", rangePrefix: "240.0.0.0/4"},
	{addr: "255.255.255.254", rangePrefix: "240.0.0.0/4"},
	{addr: "255.255.255.255", rangePrefix: "255.255.255.255/32"},
	{addr: "168.63.129.15", public: true},
	{addr: "168.63.129.16", rangePrefix: "168.63.129.16/32", reason: "Azure WireServer in public space"},
	{addr: "168.63.129.17", public: true},

	// IPv4-mapped, RFC 4291 Section 2.5.5.2: rejected even when public.
	{addr: "::ffff:127.0.0.1", embedded: "127.0.0.1", rangePrefix: "127.0.0.0/8"},
	{addr: "::ffff:10.0.0.5", embedded: "10.0.0.5", rangePrefix: "10.0.0.0/8"},
	{addr: "::ffff:169.254.169.254", embedded: "169.254.169.254", rangePrefix: "169.254.0.0/16"},
	{addr: "::ffff:8.8.8.8", embedded: "8.8.8.8", rangePrefix: "::ffff:0:0/96"},

	// IPv4-compatible, RFC 4291 Section 2.5.5.1.
	{addr: "::127.0.0.1", embedded: "127.0.0.1", rangePrefix: "127.0.0.0/8"},
	{addr: "::10.0.0.5", embedded: "10.0.0.5", rangePrefix: "10.0.0.0/8"},
	{addr: "::169.254.169.254", embedded: "169.254.169.254", rangePrefix: "169.254.0.0/16"},
	{addr: "::8.8.8.8", embedded: "8.8.8.8", rangePrefix: "::/96"},
	{addr: "::2", embedded: "0.0.0.2", rangePrefix: "0.0.0.0/8", reason: "IPv4-compatible 0.0.0.2"},

	// IPv4-translated, RFC 2765 Section 2.1.
	{addr: "::ffff:0:127.0.0.1", embedded: "127.0.0.1", rangePrefix: "127.0.0.0/8"},
	{addr: "::ffff:0:10.0.0.5", embedded: "10.0.0.5", rangePrefix: "10.0.0.0/8"},
	{addr: "::ffff:0:169.254.169.254", embedded: "169.254.169.254", rangePrefix: "169.254.0.0/16"},
	{addr: "::ffff:0:8.8.8.8", embedded: "8.8.8.8", rangePrefix: "::ffff:0:0:0/96"},

	// NAT64 well-known prefix, RFC 6052: the embedded address decides.
	{addr: "64:ff9b::127.0.0.1", embedded: "127.0.0.1", rangePrefix: "127.0.0.0/8"},
	{addr: "64:ff9b::10.0.0.5", embedded: "10.0.0.5", rangePrefix: "10.0.0.0/8"},
	{addr: "64:ff9b::169.254.169.254", embedded: "169.254.169.254", rangePrefix: "169.254.0.0/16"},
	{addr: "64:ff9b::8.8.8.8", public: true, embedded: "8.8.8.8", reason: "NAT64 of a public address"},
	{addr: "64:ff9b::1:808:808", rangePrefix: "::/3", reason: "outside the /96, so nothing is embedded"},

	// NAT64 local-use prefix, RFC 8215: rejected whatever it carries.
	{addr: "64:ff9b:1::127.0.0.1", rangePrefix: "64:ff9b:1::/48"},
	{addr: "64:ff9b:1::10.0.0.5", rangePrefix: "64:ff9b:1::/48"},
	{addr: "64:ff9b:1::169.254.169.254", rangePrefix: "64:ff9b:1::/48"},
	{addr: "64:ff9b:1::8.8.8.8", rangePrefix: "64:ff9b:1::/48"},

	// 6to4, RFC 3056: the IPv4 address is bits 16 to 47.
	{addr: "2002:7f00:1::1", embedded: "127.0.0.1", rangePrefix: "127.0.0.0/8"},
	{addr: "2002:a00:5::1", embedded: "10.0.0.5", rangePrefix: "10.0.0.0/8"},
	{addr: "2002:a9fe:a9fe::1", embedded: "169.254.169.254", rangePrefix: "169.254.0.0/16"},
	{addr: "2002:808:808::1", embedded: "8.8.8.8", rangePrefix: "2002::/16"},

	// Teredo, RFC 4380: the client address is the last 32 bits, inverted.
	{addr: "2001:0:c000:201::80ff:fffe", embedded: "127.0.0.1", rangePrefix: "127.0.0.0/8"},
	{addr: "2001:0:c000:201::f5ff:fffa", embedded: "10.0.0.5", rangePrefix: "10.0.0.0/8"},
	{addr: "2001:0:c000:201::5601:5601", embedded: "169.254.169.254", rangePrefix: "169.254.0.0/16"},
	{addr: "2001:0:c000:201::f7f7:f7f7", embedded: "8.8.8.8", rangePrefix: "2001::/32"},

	// Other IPv6.
	{addr: "::", rangePrefix: "::/128"},
	{addr: "::1", rangePrefix: "::1/128"},
	{addr: "fe80::1", rangePrefix: "fe80::/10"},
	{addr: "fe80::1%eth0", rangePrefix: "fe80::/10", reason: "zones are ignored"},
	{addr: "ff02::1", rangePrefix: "ff00::/8"},
	{addr: "fc00::1", rangePrefix: "fc00::/7"},
	{addr: "fd00:ec2::254", rangePrefix: "fc00::/7", reason: "AWS metadata service over IPv6"},
	{addr: "fec0::1", rangePrefix: "fec0::/10"},
	{addr: "2001:db8::1", rangePrefix: "2001:db8::/32"},
	{addr: "3fff::1", rangePrefix: "3fff::/20"},
	{addr: "3fff:fff::1", rangePrefix: "3fff::/20", reason: "3fff::/20 ends at 3fff:fff:ffff:..."},
	{addr: "3fff:1000::1", public: true, reason: "just past 3fff::/20"},
	{addr: "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", public: true, reason: "last address of 2000::/3"},
	{addr: "5f00::1", rangePrefix: "5f00::/16"},
	{addr: "100::1", rangePrefix: "100::/64"},
	{addr: "100:0:0:1::1", rangePrefix: "100:0:0:1::/64"},
	{addr: "100:0:0:2::1", rangePrefix: "::/3"},
	{addr: "1fff:ffff::1", rangePrefix: "::/3", reason: "just before 2000::/3"},
	{addr: "2000::", public: true, reason: "first address of 2000::/3"},
	{addr: "4000::1", rangePrefix: "4000::/2"},
	{addr: "8000::1", rangePrefix: "8000::/1"},
	{addr: "2001:1::1", rangePrefix: "2001::/23", reason: "registry reachable, but inside 2001::/23"},
	{addr: "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", rangePrefix: "2001::/23"},
	{addr: "2001:200::", public: true, reason: "just past 2001::/23"},
	{addr: "2001:4860:4860::8888", public: true, reason: "outside 2001::/23"},
	{addr: "2606:4700:4700::1111", public: true},
	{addr: "2a00:1450::1", public: true},
	{addr: "2620:4f:8000::1", public: true, reason: "Direct Delegation AS112 is registry reachable"},
}

func TestClassifyHostile(t *testing.T) {
	for _, tc := range hostileCases {
		name := tc.addr
		if tc.reason != "" {
			name += " " + tc.reason
		}
		t.Run(name, func(t *testing.T) {
			addr := netip.MustParseAddr(tc.addr)
			c := Classify(addr)

			assert.Equal(t, addr, c.Addr, "Classify(%s).Addr", addr)
			assert.Equal(t, tc.public, c.Public, "Classify(%s) = %v; want Public %v", addr, c, tc.public)
			var wantEmbedded netip.Addr
			if tc.embedded != "" {
				wantEmbedded = netip.MustParseAddr(tc.embedded)
			}
			assert.Equal(t, wantEmbedded, c.Embedded, "Classify(%s) = %v; want Embedded %v", addr, c, wantEmbedded)
			var wantPrefix netip.Prefix
			if tc.rangePrefix != "" {
				wantPrefix = netip.MustParsePrefix(tc.rangePrefix)
			}
			assert.Equal(t, wantPrefix, c.Range.Prefix(), "Classify(%s) = %v; want range %v", addr, c, wantPrefix)
			assert.Empty(t, verdictProblem(c), "Classify(%s) = %v", addr, c)
		})
	}
}

func TestClassifyIPv4Neighbours(t *testing.T) {
	var v4 []netip.Prefix
	for _, r := range SpecialPurposeRanges() {
		if r.Prefix().Addr().Is4() {
			v4 = append(v4, r.Prefix())
		}
	}
	inAnyBlock := func(a netip.Addr) bool {
		for _, p := range v4 {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}

	for _, p := range v4 {
		t.Run(p.String(), func(t *testing.T) {
			for _, addr := range []netip.Addr{p.Addr().Prev(), lastAddr(p).Next()} {
				if !addr.IsValid() || inAnyBlock(addr) {
					continue
				}
				c := Classify(addr)
				assert.True(t, c.Public, "Classify(%s) = %v; want public", addr, c)
			}
		})
	}
}

func TestClassifyInvalidAddr(t *testing.T) {
	c := Classify(netip.Addr{})
	assert.False(t, c.Public, "Classify(zero Addr) = %v; want not public", c)
	assert.False(t, c.Embedded.IsValid(), "Classify(zero Addr) = %v; want no Embedded", c)
	assert.False(t, c.Range.Prefix().IsValid(), "Classify(zero Addr) = %v; want no prefix", c)
	assert.NotEmpty(t, c.Range.Name(), "Classify(zero Addr) = %v; want a Range name saying why", c)
}

// benchmarkAddrs is a fixed mix of public, private, reserved and embedded
// addresses.
var benchmarkAddrs = []string{
	"8.8.8.8",
	"93.184.216.34",
	"10.0.0.5",
	"192.168.1.1",
	"169.254.169.254",
	"240.0.0.1",
	"168.63.129.16",
	"2606:4700:4700::1111",
	"2a00:1450::1",
	"fe80::1%eth0",
	"fd00:ec2::254",
	"::1",
	"::ffff:169.254.169.254",
	"64:ff9b::8.8.8.8",
	"64:ff9b::10.0.0.5",
	"2002:a9fe:a9fe::1",
	"2001:0:c000:201::80ff:fffe",
	"3fff:fff::1",
}

func parseAddrs(tb testing.TB, list []string) []netip.Addr {
	tb.Helper()
	addrs := make([]netip.Addr, len(list))
	for i, s := range list {
		addrs[i] = netip.MustParseAddr(s)
	}
	return addrs
}

// classifySink keeps the compiler from dropping Classify calls whose result
// is unused.
var classifySink Classification

func TestClassifyAllocs(t *testing.T) {
	addrs := parseAddrs(t, benchmarkAddrs)
	allocs := testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			classifySink = Classify(a)
		}
	})
	assert.Zero(t, allocs, "Classify allocated %v times per run of %d addresses; want 0", allocs, len(addrs))
}

func BenchmarkClassify(b *testing.B) {
	addrs := parseAddrs(b, benchmarkAddrs)
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range addrs {
			classifySink = Classify(a)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(addrs)), "ns/addr")
}

// embedIPv4 builds an address inside the embedding block p that carries v4
// in the place the block's RFC defines. For 2001::/32 (Teredo) it stores v4
// inverted.
func embedIPv4(p netip.Prefix, v4 netip.Addr, rng *rand.Rand) netip.Addr {
	b := p.Addr().As16()
	// Random bits after the prefix, which the embedded bits then overwrite.
	for i := p.Bits(); i < 128; i++ {
		if rng.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	v := v4.As4()
	switch p {
	case netip.MustParsePrefix("2002::/16"):
		copy(b[2:6], v[:])
	case netip.MustParsePrefix("2001::/32"):
		for i := range v {
			b[12+i] = ^v[i]
		}
	default:
		copy(b[12:16], v[:])
	}
	return netip.AddrFrom16(b)
}

// randomIn returns a random address inside p.
func randomIn(p netip.Prefix, rng *rand.Rand) netip.Addr {
	p = p.Masked()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		for i := p.Bits(); i < 32; i++ {
			if rng.IntN(2) == 1 {
				b[i/8] |= 0x80 >> (i % 8)
			}
		}
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		if rng.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return netip.AddrFrom16(b)
}

// referenceInputs returns the addresses that TestClassifyMatchesReference
// compares. They are every range's first, middle and last address and their
// neighbours, random addresses inside each range, the first and last
// address of each IPv4 /16, and random IPv4 and IPv6 addresses. A sample of
// the IPv4 ones is also placed in every embedding block.
func referenceInputs(t *testing.T) []netip.Addr {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ranges := SpecialPurposeRanges()
	var addrs []netip.Addr

	for _, r := range ranges {
		first, last := r.Prefix().Addr(), lastAddr(r.Prefix())
		addrs = append(addrs, first, middleAddr(r.Prefix()), last)
		if prev := first.Prev(); prev.IsValid() {
			addrs = append(addrs, prev)
		}
		if next := last.Next(); next.IsValid() {
			addrs = append(addrs, next)
		}
		for range 50 {
			addrs = append(addrs, randomIn(r.Prefix(), rng))
		}
	}
	for _, tc := range hostileCases {
		addrs = append(addrs, netip.MustParseAddr(tc.addr))
	}

	for hi := range 256 {
		for lo := range 256 {
			addrs = append(addrs,
				netip.AddrFrom4([4]byte{byte(hi), byte(lo), 0, 0}),
				netip.AddrFrom4([4]byte{byte(hi), byte(lo), 255, 255}))
		}
	}
	for range 20000 {
		var b4 [4]byte
		var b16 [16]byte
		for i := range b4 {
			b4[i] = byte(rng.UintN(256))
		}
		for i := range b16 {
			b16[i] = byte(rng.UintN(256))
		}
		addrs = append(addrs, netip.AddrFrom4(b4), netip.AddrFrom16(b16))
	}

	var v4 []netip.Addr
	for _, a := range addrs {
		if a.Is4() && rng.IntN(8) == 0 {
			v4 = append(v4, a)
		}
	}
	for _, r := range ranges {
		if r.Prefix().Addr().Is4() {
			v4 = append(v4, r.Prefix().Addr(), lastAddr(r.Prefix()), r.Prefix().Addr().Prev(), lastAddr(r.Prefix()).Next())
		}
	}
	for _, r := range ranges {
		// Walk ranges rather than the map, so rng draws in a fixed order.
		prefix := r.Prefix()
		if _, ok := referenceEmbeddings[prefix]; !ok {
			continue
		}
		for _, a := range v4 {
			if a.IsValid() {
				addrs = append(addrs, embedIPv4(prefix, a, rng))
			}
		}
	}
	return addrs
}

func TestClassifyMatchesReference(t *testing.T) {
	addrs := referenceInputs(t)
	t.Logf("comparing %d addresses", len(addrs))
	failures := 0
	for _, addr := range addrs {
		got, want := Classify(addr), referenceClassify(addr)
		if got == want {
			continue
		}
		t.Errorf("Classify(%s) = %v, Embedded %v, Range %v; reference returns %v, Embedded %v, Range %v",
			addr, got, got.Embedded, got.Range, want, want.Embedded, want.Range)
		failures++
		if failures == 20 {
			t.Fatalf("stopping after %d mismatches", failures)
		}
	}
}

func TestClassifyZonedPublicAddress(t *testing.T) {
	for _, s := range []string{"2606:4700:4700::1111%eth0", "64:ff9b::808:808%1"} {
		addr := netip.MustParseAddr(s)
		c := Classify(addr)
		assert.False(t, c.Public, "Classify(%s) = %v; want not public: a zone names a local interface", addr, c)
		assert.NotEmpty(t, c.Range.Name(), "Classify(%s) names why", addr)
	}
}
