package webhookurl

import (
	"net/netip"
	"testing"
)

// FuzzClassify compares Classify with referenceClassify on any 16 bytes,
// read as an IPv6 address or, when asIPv4 is set, as the IPv4 address in
// the first 4 bytes. Shorter input is padded with zero bytes and longer
// input is cut to 16.
func FuzzClassify(f *testing.F) {
	for _, tc := range hostileCases {
		addr := netip.MustParseAddr(tc.addr)
		if addr.Is4() {
			b := addr.As4()
			f.Add(append(b[:], make([]byte, 12)...), true)
			continue
		}
		b := addr.As16()
		f.Add(b[:], false)
	}

	f.Fuzz(func(t *testing.T, raw []byte, asIPv4 bool) {
		var b [16]byte
		copy(b[:], raw)
		addr := netip.AddrFrom16(b)
		if asIPv4 {
			addr = netip.AddrFrom4([4]byte(b[:4]))
		}

		got, want := Classify(addr), referenceClassify(addr)
		if got != want {
			t.Fatalf("Classify(%s) = %v, Range %v; reference returns %v, Range %v", addr, got, got.Range, want, want.Range)
		}
		if problem := verdictProblem(got); problem != "" {
			t.Fatalf("Classify(%s) = %v: %s", addr, got, problem)
		}
	})
}
