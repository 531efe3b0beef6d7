package webhookurl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fintoro/webhookurl/webhookurltest"
)

// testZone holds the names the resolver tests share. Public answers use
// addresses from public space that no test ever dials.
func testZone() webhookurltest.Zone {
	return webhookurltest.Zone{
		"hooks.example.info":      {webhookurltest.A("93.184.215.14"), webhookurltest.AAAA("2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
		"v4only.example.info":     {webhookurltest.A("93.184.215.14")},
		"private.example.info":    {webhookurltest.A("10.0.0.5")},
		"mixed.example.info":      {webhookurltest.A("93.184.215.14"), webhookurltest.AAAA("fd00::1")},
		"mapped.example.info":     {webhookurltest.A("93.184.215.14"), webhookurltest.AAAA("::ffff:169.254.169.254")},
		"alias.example.info":      {webhookurltest.CNAME("hooks.example.info")},
		"to-private.example.info": {webhookurltest.CNAME("internal.example.info")},
		"internal.example.info":   {webhookurltest.A("10.1.2.3")},
		"loop-a.example.info":     {webhookurltest.CNAME("loop-b.example.info")},
		"loop-b.example.info":     {webhookurltest.CNAME("loop-a.example.info")},
		"empty.example.info":      {},
	}
}

func newTestResolver(t *testing.T, servers ...string) *DNSResolver {
	t.Helper()
	r, err := NewDNSResolver(DNSConfig{Nameservers: servers, QueryTimeout: 300 * time.Millisecond, Attempts: 1})
	require.NoError(t, err)
	return r
}

func TestResolverAnswers(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	r := newTestResolver(t, srv.Addr())

	addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{
		netip.MustParseAddr("93.184.215.14"),
		netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
	}, addrs)
	assert.Equal(t, 1, srv.Queries("hooks.example.info", dns.TypeA))
	assert.Equal(t, 1, srv.Queries("hooks.example.info", dns.TypeAAAA))
	assert.Equal(t, 2, srv.Total(), "only the absolute name is queried, never with a search domain")

	addrs, err = r.LookupAddrs(context.Background(), "v4only.example.info")
	require.NoError(t, err, "NODATA for AAAA is not a failure when A has addresses")
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("93.184.215.14")}, addrs)

	addrs, err = r.LookupAddrs(context.Background(), "alias.example.info")
	require.NoError(t, err)
	assert.Len(t, addrs, 2, "a CNAME answer yields its target's addresses")
}

func TestResolverNegativeAnswers(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	r := newTestResolver(t, srv.Addr())

	_, err := r.LookupAddrs(context.Background(), "missing.example.info")
	assert.ErrorIs(t, err, ErrDNSNotFound)

	_, err = r.LookupAddrs(context.Background(), "empty.example.info")
	assert.ErrorIs(t, err, ErrNoAddresses)
}

func TestResolverCNAMEChainWithoutTargetRecords(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetFollowCNAME(false)
	r := newTestResolver(t, srv.Addr())

	addrs, err := r.LookupAddrs(context.Background(), "alias.example.info")
	require.NoError(t, err)
	assert.Len(t, addrs, 2)
	assert.Equal(t, 1, srv.Queries("hooks.example.info", dns.TypeA), "the resolver queries the CNAME target itself")
}

func TestResolverCNAMELoopAndLongChain(t *testing.T) {
	zone := testZone()
	for i := range maxCNAMEChain + 2 {
		zone[chainName(i)] = []webhookurltest.Record{webhookurltest.CNAME(chainName(i + 1))}
	}
	zone[chainName(maxCNAMEChain+2)] = []webhookurltest.Record{webhookurltest.A("93.184.215.14")}
	srv := webhookurltest.Start(t, zone)

	r := newTestResolver(t, srv.Addr())
	for _, follow := range []bool{true, false} {
		srv.SetFollowCNAME(follow)
		_, err := r.LookupAddrs(context.Background(), chainName(0))
		assert.ErrorContains(t, err, "CNAME chain", "follow=%v", follow)
	}

	// A server that follows CNAMEs answers a loop with SERVFAIL, as
	// recursive resolvers do; one that does not leaves the loop to us.
	srv.SetFollowCNAME(true)
	_, err := r.LookupAddrs(context.Background(), "loop-a.example.info")
	assert.Error(t, err)
	srv.SetFollowCNAME(false)
	_, err = r.LookupAddrs(context.Background(), "loop-a.example.info")
	assert.ErrorContains(t, err, "CNAME loop")

	// A hostile server can also put the whole loop in one answer.
	srv.SetHook(func(req, resp *dns.Msg) {
		name := req.Question[0].Name
		resp.Rcode = dns.RcodeSuccess
		resp.Answer = []dns.RR{
			&dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "x.example.info."},
			&dns.CNAME{Hdr: dns.RR_Header{Name: "x.example.info.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: name},
		}
	})
	_, err = r.LookupAddrs(context.Background(), "hooks.example.info")
	assert.ErrorContains(t, err, "CNAME loop")
}

func chainName(i int) string {
	return "c" + string(rune('a'+i)) + ".chain.example.info"
}

func TestResolverIgnoresRecordsOfOtherNames(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetHook(func(req, resp *dns.Msg) {
		hdr := func(name string) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}
		}
		resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr("other.example.info."), A: netip.MustParseAddr("127.0.0.1").AsSlice()})
		resp.Extra = append(resp.Extra, &dns.A{Hdr: hdr(req.Question[0].Name), A: netip.MustParseAddr("10.0.0.1").AsSlice()})
	})
	r := newTestResolver(t, srv.Addr())

	addrs, err := r.LookupAddrs(context.Background(), "v4only.example.info")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("93.184.215.14")}, addrs,
		"records owned by other names and glue in the additional section are ignored")
}

func TestResolverSkipsStrayDatagrams(t *testing.T) {
	for _, fault := range []webhookurltest.Fault{webhookurltest.FaultWrongIDFirst, webhookurltest.FaultGarbageFirst} {
		t.Run(fault.String(), func(t *testing.T) {
			srv := webhookurltest.Start(t, testZone())
			srv.SetFault("*", fault)
			r := newTestResolver(t, srv.Addr())

			addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
			require.NoError(t, err)
			assert.Len(t, addrs, 2)
			assert.Equal(t, 2, srv.Total(), "one query per type")
			assert.Equal(t, 0, srv.QueriesOver("tcp"))
		})
	}
}

func TestResolverTruncationFallsBackToTCP(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetFault("*", webhookurltest.FaultTruncateUDP)
	r := newTestResolver(t, srv.Addr())

	addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.NoError(t, err)
	assert.Len(t, addrs, 2, "every address arrives over TCP")
	assert.Equal(t, 2, srv.QueriesOver("udp"))
	assert.Equal(t, 2, srv.QueriesOver("tcp"), "exactly one TCP query per type")
}

func TestResolverTruncationOverTCPFails(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetFault("*", webhookurltest.FaultTruncateAlways)
	r := newTestResolver(t, srv.Addr())

	_, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.Error(t, err, "a partial answer must never be judged")
	assert.NotErrorIs(t, err, ErrNoAddresses)
	assert.NotErrorIs(t, err, ErrDNSNotFound)
}

func TestResolverFailover(t *testing.T) {
	for _, fault := range []webhookurltest.Fault{
		webhookurltest.FaultServFail, webhookurltest.FaultRefused, webhookurltest.FaultLame, webhookurltest.FaultDrop,
	} {
		t.Run(fault.String(), func(t *testing.T) {
			bad := webhookurltest.Start(t, testZone())
			bad.SetFault("*", fault)
			good := webhookurltest.Start(t, testZone())
			r := newTestResolver(t, bad.Addr(), good.Addr())

			addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
			require.NoError(t, err)
			assert.Len(t, addrs, 2)
			assert.Equal(t, 2, bad.Total(), "the bad server was asked once per type")
			assert.Equal(t, 2, good.Total(), "the good server was asked once per type")

			only := newTestResolver(t, bad.Addr())
			_, err = only.LookupAddrs(context.Background(), "hooks.example.info")
			assert.Error(t, err, "with no good server the lookup fails")
		})
	}
}

func TestResolverNXDOMAINIsFinal(t *testing.T) {
	first := webhookurltest.Start(t, testZone())
	second := webhookurltest.Start(t, testZone())
	r := newTestResolver(t, first.Addr(), second.Addr())

	_, err := r.LookupAddrs(context.Background(), "missing.example.info")
	assert.ErrorIs(t, err, ErrDNSNotFound)
	assert.Equal(t, 0, second.Total(), "NXDOMAIN is final: no other server is asked")
}

func TestResolverStrictOnHalfFailure(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetHook(func(req, resp *dns.Msg) {
		if req.Question[0].Qtype == dns.TypeAAAA {
			resp.Rcode = dns.RcodeServerFailure
			resp.Answer = nil
		}
	})
	r := newTestResolver(t, srv.Addr())

	_, err := r.LookupAddrs(context.Background(), "mixed.example.info")
	require.Error(t, err, "an AAAA failure fails the lookup even though A answered")
	assert.ErrorContains(t, err, "SERVFAIL")
}

func TestResolverTimeoutBoundsLookup(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetFault("*", webhookurltest.FaultDrop)
	r, err := NewDNSResolver(DNSConfig{Nameservers: []string{srv.Addr()}, QueryTimeout: 100 * time.Millisecond, Attempts: 2})
	require.NoError(t, err)

	start := time.Now()
	_, err = r.LookupAddrs(context.Background(), "hooks.example.info")
	require.Error(t, err)
	assert.ErrorContains(t, err, "timed out")
	assert.Less(t, time.Since(start), 5*time.Second, "two attempts of 100 ms must not stall the lookup")
	// Two attempts per type, unless one type's failure cancels the
	// other's second attempt first.
	assert.LessOrEqual(t, srv.Total(), 4, "at most two attempts per type")
	assert.GreaterOrEqual(t, srv.Total(), 2, "the failing type was tried twice")
}

func TestResolverContextCancel(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetFault("*", webhookurltest.FaultDrop)
	r, err := NewDNSResolver(DNSConfig{Nameservers: []string{srv.Addr()}, QueryTimeout: time.Minute})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = r.LookupAddrs(ctx, "hooks.example.info")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second, "cancellation returns promptly")

	ctx, cancelDeadline := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelDeadline()
	_, err = r.LookupAddrs(ctx, "hooks.example.info")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestValidateWithDNSServer(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	srv.SetFault("never.example.info", webhookurltest.FaultDrop)
	v, err := New(Config{DNS: DNSConfig{Nameservers: []string{srv.Addr()}, QueryTimeout: 100 * time.Millisecond, Attempts: 1}})
	require.NoError(t, err)

	tests := []struct {
		in     string
		reason Reason
		addr   string
	}{
		{"https://hooks.example.info/ingest", "", ""},
		{"https://alias.example.info/", "", ""},
		{"https://private.example.info/", ReasonPrivateAddress, "10.0.0.5"},
		{"https://mixed.example.info/", ReasonPrivateAddress, "fd00::1"},
		{"https://mapped.example.info/", ReasonPrivateAddress, "::ffff:169.254.169.254"},
		{"https://to-private.example.info/", ReasonPrivateAddress, "10.1.2.3"},
		{"https://missing.example.info/", ReasonDNSNotFound, ""},
		{"https://empty.example.info/", ReasonNoAddresses, ""},
		{"https://never.example.info/", ReasonDNSFailure, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := v.Validate(context.Background(), tt.in)
			if tt.reason == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, res.Addrs)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e, "Validate(%q) = %+v; want %s", tt.in, res, tt.reason)
			assert.Equal(t, tt.reason, e.Reason, e.Detail())
			if tt.addr != "" {
				assert.Equal(t, netip.MustParseAddr(tt.addr), e.Addr)
			}
		})
	}
}

func TestNameserversFromResolvConf(t *testing.T) {
	servers, err := nameserversFromResolvConf("testdata/resolv.conf")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.53:53", "[::1]:53"}, servers, "search, domain and options lines are ignored")

	_, err = nameserversFromResolvConf("testdata/missing-resolv.conf")
	assert.Error(t, err)
}

func TestIsReplyTo(t *testing.T) {
	q := dns.Question{Name: "hooks.example.info.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	reply := func(edit func(m *dns.Msg)) *dns.Msg {
		m := new(dns.Msg)
		m.Id = 7
		m.Response = true
		m.Question = []dns.Question{q}
		edit(m)
		return m
	}
	assert.True(t, isReplyTo(reply(func(*dns.Msg) {}), 7, q))
	assert.True(t, isReplyTo(reply(func(m *dns.Msg) { m.Question[0].Name = "HOOKS.example.INFO." }), 7, q), "names compare case-insensitively")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Response = false }), 7, q), "QR clear")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Id = 8 }), 7, q), "other ID")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Question = nil }), 7, q), "no question")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Question = append(m.Question, q) }), 7, q), "two questions")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Question[0].Name = "evil.example.info." }), 7, q), "other name")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }), 7, q), "other type")
	assert.False(t, isReplyTo(reply(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), 7, q), "other class")
}

func TestPickError(t *testing.T) {
	failure := errors.New("SERVFAIL")
	canceled := context.Canceled
	live := context.Background()
	assert.NoError(t, pickError(live, nil, nil))
	assert.NoError(t, pickError(live, nil, ErrNoAddresses))
	assert.Equal(t, failure, pickError(live, canceled, failure), "a sibling's cancellation gives way to the real failure")

	done, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, pickError(done, canceled, failure), context.Canceled, "the caller's cancellation wins")
}

// BenchmarkResolveCold compares an uncached lookup of A and AAAA with the
// standard library's pure-Go resolver dialing the same loopback server.
// The two run in turns inside one benchmark, so machine load hits both
// alike, and the ratio is reported as resolver/stdlib.
func BenchmarkResolveCold(b *testing.B) {
	srv := webhookurltest.Start(b, testZone())
	r, err := NewDNSResolver(DNSConfig{Nameservers: []string{srv.Addr()}, DisableCache: true})
	require.NoError(b, err)
	std := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Addr())
		},
	}
	ctx := context.Background()

	var ours, theirs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := r.LookupAddrs(ctx, "hooks.example.info"); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		// The trailing dot keeps the standard resolver from trying the
		// search domains of /etc/resolv.conf first.
		if _, err := std.LookupNetIP(ctx, "ip", "hooks.example.info."); err != nil {
			b.Fatal(err)
		}
		ours += mid.Sub(start)
		theirs += time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "resolver-ns/op")
	b.ReportMetric(float64(theirs.Nanoseconds())/float64(b.N), "stdlib-ns/op")
	b.ReportMetric(float64(ours)/float64(theirs), "resolver/stdlib")
}

func TestResolverOversizedUDPReplyRetriesOverTCP(t *testing.T) {
	srv := webhookurltest.Start(t, testZone())
	// A reply with 300 A records is about 4,800 bytes: more than the UDP
	// read buffer, so the datagram arrives cut and only TCP can carry it.
	srv.SetRawResponder(func(req []byte) [][]byte {
		query := new(dns.Msg)
		if err := query.Unpack(req); err != nil {
			return nil
		}
		reply := new(dns.Msg)
		reply.SetReply(query)
		reply.RecursionAvailable = true
		q := query.Question[0]
		if q.Qtype == dns.TypeA {
			for i := range 300 {
				reply.Answer = append(reply.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   netip.AddrFrom4([4]byte{93, 184, byte(i >> 8), byte(i)}).AsSlice(),
				})
			}
		}
		packed, err := reply.Pack()
		if err != nil {
			return nil
		}
		return [][]byte{packed}
	})
	r := newTestResolver(t, srv.Addr())

	addrs, err := r.LookupAddrs(context.Background(), "big.example.info")
	require.NoError(t, err)
	assert.Len(t, addrs, 300, "every address of the oversized answer")
	assert.Equal(t, 2, srv.Queries("big.example.info", dns.TypeA), "the A query once over UDP and once over TCP")
	assert.Equal(t, 1, srv.QueriesOver("tcp"), "only the oversized answer went to TCP")
}
