package webhookurltest_test

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fintoro/webhookurl/webhookurltest"
)

// clientTimeout bounds each exchange. Tests that expect no reply wait for
// the whole timeout, so it stays short.
const clientTimeout = 2 * time.Second

var networks = []string{"udp", "tcp"}

// exchange sends one query for name and qtype to s over network and returns
// the reply.
func exchange(t *testing.T, s *webhookurltest.Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()

	resp, err := tryExchange(s, network, name, qtype, clientTimeout)
	require.NoError(t, err, "exchange(%s, %s %s)", network, name, dns.TypeToString[qtype])
	return resp
}

func tryExchange(s *webhookurltest.Server, network, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), qtype)
	client := &dns.Client{Net: network, Timeout: timeout}
	resp, _, err := client.Exchange(req, s.Addr())
	return resp, err
}

// answerStrings returns the answer section of resp in presentation format,
// one record per string.
func answerStrings(resp *dns.Msg) []string {
	out := make([]string, 0, len(resp.Answer))
	for _, rr := range resp.Answer {
		out = append(out, rr.String())
	}
	return out
}

func TestAddrIsLoopback(t *testing.T) {
	s := webhookurltest.Start(t, nil)

	host, port, err := net.SplitHostPort(s.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host, "Addr() = %s; want host 127.0.0.1", s.Addr())
	assert.NotEqual(t, "0", port)
	assert.NotEqual(t, "53", port)
}

func TestAnswers(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{
		"Hook.Example.":    {webhookurltest.A("192.0.2.1"), webhookurltest.A("192.0.2.2").WithTTL(0)},
		"v6.example":       {webhookurltest.AAAA("2001:db8::1").WithTTL(60)},
		"mapped.example":   {webhookurltest.AAAA("::ffff:127.0.0.1")},
		"alias.example":    {webhookurltest.CNAME("middle.example")},
		"middle.example":   {webhookurltest.CNAME("hook.example.").WithTTL(30)},
		"loop1.example":    {webhookurltest.CNAME("loop2.example")},
		"loop2.example":    {webhookurltest.CNAME("loop1.example")},
		"dangling.example": {webhookurltest.CNAME("absent.example")},
		"empty.example":    {},
		"mx.example":       {{Type: dns.TypeMX, Value: "10 mail.example.", TTL: 5}},
	})

	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
	}{
		{"A records with TTLs", "hook.example", dns.TypeA, dns.RcodeSuccess, []string{
			"hook.example.\t300\tIN\tA\t192.0.2.1",
			"hook.example.\t0\tIN\tA\t192.0.2.2",
		}},
		{"name case ignored", "HOOK.example", dns.TypeA, dns.RcodeSuccess, []string{
			"hook.example.\t300\tIN\tA\t192.0.2.1",
			"hook.example.\t0\tIN\tA\t192.0.2.2",
		}},
		{"AAAA record", "v6.example", dns.TypeAAAA, dns.RcodeSuccess, []string{
			"v6.example.\t60\tIN\tAAAA\t2001:db8::1",
		}},
		{"IPv4-mapped AAAA", "mapped.example", dns.TypeAAAA, dns.RcodeSuccess, []string{
			"mapped.example.\t300\tIN\tAAAA\t::ffff:127.0.0.1",
		}},
		{"CNAME chain followed", "alias.example", dns.TypeA, dns.RcodeSuccess, []string{
			"alias.example.\t300\tIN\tCNAME\tmiddle.example.",
			"middle.example.\t30\tIN\tCNAME\thook.example.",
			"hook.example.\t300\tIN\tA\t192.0.2.1",
			"hook.example.\t0\tIN\tA\t192.0.2.2",
		}},
		{"CNAME query not followed", "alias.example", dns.TypeCNAME, dns.RcodeSuccess, []string{
			"alias.example.\t300\tIN\tCNAME\tmiddle.example.",
		}},
		{"CNAME chain to NODATA", "alias.example", dns.TypeAAAA, dns.RcodeSuccess, []string{
			"alias.example.\t300\tIN\tCNAME\tmiddle.example.",
			"middle.example.\t30\tIN\tCNAME\thook.example.",
		}},
		{"CNAME loop", "loop1.example", dns.TypeA, dns.RcodeServerFailure, []string{}},
		{"CNAME to absent name", "dangling.example", dns.TypeA, dns.RcodeNameError, []string{
			"dangling.example.\t300\tIN\tCNAME\tabsent.example.",
		}},
		{"absent name", "absent.example", dns.TypeA, dns.RcodeNameError, []string{}},
		{"NODATA", "v6.example", dns.TypeA, dns.RcodeSuccess, []string{}},
		{"name without records", "empty.example", dns.TypeA, dns.RcodeSuccess, []string{}},
		{"other record type", "mx.example", dns.TypeMX, dns.RcodeSuccess, []string{
			"mx.example.\t5\tIN\tMX\t10 mail.example.",
		}},
	}
	for _, tt := range tests {
		for _, network := range networks {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				resp := exchange(t, s, network, tt.qname, tt.qtype)

				assert.Equal(t, tt.rcode, resp.Rcode, "Rcode = %s; want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
				assert.Equal(t, tt.answer, answerStrings(resp))
				assert.True(t, resp.RecursionAvailable, "RA = false; want true")
				assert.True(t, resp.Response, "QR = false; want true")
				assert.False(t, resp.Truncated, "TC = true; want false")
				assert.Empty(t, resp.Ns, "authority section without SetSOA")
				require.Len(t, resp.Question, 1)
				assert.Equal(t, dns.Question{Name: dns.Fqdn(tt.qname), Qtype: tt.qtype, Qclass: dns.ClassINET}, resp.Question[0])
			})
		}
	}
}

func TestFollowCNAMEOff(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{
		"alias.example": {webhookurltest.CNAME("hook.example")},
		"hook.example":  {webhookurltest.A("192.0.2.1")},
	})
	s.SetFollowCNAME(false)

	resp := exchange(t, s, "udp", "alias.example", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
	assert.Equal(t, []string{"alias.example.\t300\tIN\tCNAME\thook.example."}, answerStrings(resp))

	s.SetFollowCNAME(true)
	resp = exchange(t, s, "udp", "alias.example", dns.TypeA)
	assert.Len(t, resp.Answer, 2, "answer after SetFollowCNAME(true)")
}

func TestLongCNAMEChain(t *testing.T) {
	zone := webhookurltest.Zone{"c40.example": {webhookurltest.A("192.0.2.1")}}
	for i := range 40 {
		zone[fmt.Sprintf("c%d.example", i)] = []webhookurltest.Record{webhookurltest.CNAME(fmt.Sprintf("c%d.example", i+1))}
	}
	s := webhookurltest.Start(t, zone)

	resp := exchange(t, s, "tcp", "c0.example", dns.TypeA)
	assert.Equal(t, dns.RcodeServerFailure, resp.Rcode, "Rcode for a 40-CNAME chain = %s; want SERVFAIL", dns.RcodeToString[resp.Rcode])
	assert.Empty(t, resp.Answer)

	resp = exchange(t, s, "tcp", "c30.example", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "Rcode for a 10-CNAME chain = %s; want NOERROR", dns.RcodeToString[resp.Rcode])
	assert.Len(t, resp.Answer, 11)
}

func TestSetReplacesAndRemoves(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})

	s.Set("hook.example.", webhookurltest.A("198.51.100.7").WithTTL(9))
	resp := exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, []string{"hook.example.\t9\tIN\tA\t198.51.100.7"}, answerStrings(resp))

	s.Set("new.example", webhookurltest.AAAA("2001:db8::2"))
	resp = exchange(t, s, "udp", "new.example", dns.TypeAAAA)
	assert.Equal(t, []string{"new.example.\t300\tIN\tAAAA\t2001:db8::2"}, answerStrings(resp))

	s.Set("hook.example")
	resp = exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "Rcode after Set with no records")
	assert.Empty(t, resp.Answer)

	s.Remove("HOOK.example")
	resp = exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, dns.RcodeNameError, resp.Rcode, "Rcode after Remove")
}

func TestSOA(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	s.SetSOA(42)

	tests := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		soa   bool
	}{
		{"NXDOMAIN", "absent.example", dns.TypeA, dns.RcodeNameError, true},
		{"NODATA", "hook.example", dns.TypeAAAA, dns.RcodeSuccess, true},
		{"positive answer", "hook.example", dns.TypeA, dns.RcodeSuccess, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := exchange(t, s, "udp", tt.qname, tt.qtype)
			assert.Equal(t, tt.rcode, resp.Rcode)
			if !tt.soa {
				assert.Empty(t, resp.Ns)
				return
			}

			require.Len(t, resp.Ns, 1)
			soa, ok := resp.Ns[0].(*dns.SOA)
			require.True(t, ok, "authority record is %T; want *dns.SOA", resp.Ns[0])
			assert.Equal(t, "example.", soa.Hdr.Name)
			assert.Equal(t, uint32(42), soa.Hdr.Ttl, "SOA TTL")
			assert.Equal(t, uint32(42), soa.Minttl, "SOA MINIMUM")
		})
	}

	s.ClearSOA()
	resp := exchange(t, s, "udp", "absent.example", dns.TypeA)
	assert.Empty(t, resp.Ns, "authority section after ClearSOA")
}

func TestSetRcode(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{
		"hook.example":  {webhookurltest.A("192.0.2.1")},
		"alias.example": {webhookurltest.CNAME("hook.example")},
	})

	for _, rcode := range []int{dns.RcodeNameError, dns.RcodeServerFailure, dns.RcodeRefused} {
		t.Run(dns.RcodeToString[rcode], func(t *testing.T) {
			s.SetRcode("hook.example", rcode)

			resp := exchange(t, s, "udp", "hook.example", dns.TypeA)
			assert.Equal(t, rcode, resp.Rcode)
			assert.Empty(t, resp.Answer)

			resp = exchange(t, s, "tcp", "alias.example", dns.TypeA)
			assert.Equal(t, rcode, resp.Rcode, "Rcode through a CNAME")
			assert.Equal(t, []string{"alias.example.\t300\tIN\tCNAME\thook.example."}, answerStrings(resp))
		})
	}

	s.SetRcode("hook.example", dns.RcodeSuccess)
	resp := exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode, "Rcode after SetRcode(RcodeSuccess)")
	assert.Len(t, resp.Answer, 1)
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault     webhookurltest.Fault
		network   string
		rcode     int
		truncated bool
		answers   int
		ra        bool
	}{
		{webhookurltest.FaultServFail, "udp", dns.RcodeServerFailure, false, 0, true},
		{webhookurltest.FaultServFail, "tcp", dns.RcodeServerFailure, false, 0, true},
		{webhookurltest.FaultRefused, "udp", dns.RcodeRefused, false, 0, true},
		{webhookurltest.FaultRefused, "tcp", dns.RcodeRefused, false, 0, true},
		{webhookurltest.FaultTruncateUDP, "udp", dns.RcodeSuccess, true, 0, true},
		{webhookurltest.FaultTruncateUDP, "tcp", dns.RcodeSuccess, false, 1, true},
		{webhookurltest.FaultTruncateAlways, "udp", dns.RcodeSuccess, true, 0, true},
		{webhookurltest.FaultTruncateAlways, "tcp", dns.RcodeSuccess, true, 0, true},
		{webhookurltest.FaultLame, "udp", dns.RcodeSuccess, false, 0, false},
		{webhookurltest.FaultLame, "tcp", dns.RcodeSuccess, false, 0, false},
		// The miekg/dns client skips a UDP reply with the wrong ID.
		{webhookurltest.FaultWrongIDFirst, "udp", dns.RcodeSuccess, false, 1, true},
		{webhookurltest.FaultWrongIDFirst, "tcp", dns.RcodeSuccess, false, 1, true},
		{webhookurltest.FaultGarbageFirst, "tcp", dns.RcodeSuccess, false, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String()+"/"+tt.network, func(t *testing.T) {
			s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
			s.SetFault("hook.example", tt.fault)

			resp := exchange(t, s, tt.network, "hook.example", dns.TypeA)
			assert.Equal(t, tt.rcode, resp.Rcode, "Rcode = %s; want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			assert.Equal(t, tt.truncated, resp.Truncated, "TC")
			assert.Len(t, resp.Answer, tt.answers)
			assert.Equal(t, tt.ra, resp.RecursionAvailable, "RA")
			assert.Empty(t, resp.Ns, "authority section")
		})
	}
}

func TestFaultDrop(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	s.SetFault("hook.example", webhookurltest.FaultDrop)

	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			_, err := tryExchange(s, network, "hook.example", dns.TypeA, 200*time.Millisecond)
			var netErr net.Error
			require.ErrorAs(t, err, &netErr)
			assert.True(t, netErr.Timeout(), "exchange error %v; want a timeout", err)
		})
	}
	assert.Equal(t, 2, s.Queries("hook.example", dns.TypeA), "dropped queries are counted")
}

func TestFaultForEveryName(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{
		"a.example": {webhookurltest.A("192.0.2.1")},
		"b.example": {webhookurltest.A("192.0.2.2")},
	})

	for _, all := range []string{"", "*"} {
		t.Run(fmt.Sprintf("name %q", all), func(t *testing.T) {
			s.SetFault(all, webhookurltest.FaultServFail)
			s.SetFault("b.example", webhookurltest.FaultRefused)

			assert.Equal(t, dns.RcodeServerFailure, exchange(t, s, "udp", "a.example", dns.TypeA).Rcode)
			assert.Equal(t, dns.RcodeServerFailure, exchange(t, s, "udp", "absent.example", dns.TypeA).Rcode)
			assert.Equal(t, dns.RcodeRefused, exchange(t, s, "udp", "b.example", dns.TypeA).Rcode, "fault for one name wins")

			s.SetFault(all, webhookurltest.FaultNone)
			s.SetFault("b.example", webhookurltest.FaultNone)
			assert.Equal(t, dns.RcodeSuccess, exchange(t, s, "udp", "a.example", dns.TypeA).Rcode, "after FaultNone")
			assert.Equal(t, dns.RcodeSuccess, exchange(t, s, "udp", "b.example", dns.TypeA).Rcode, "after FaultNone")
		})
	}
}

// readDatagrams sends a query for name over a plain UDP socket and returns
// the first count datagrams that come back, so a test can inspect replies
// that dns.Client would skip.
func readDatagrams(t *testing.T, s *webhookurltest.Server, name string, count int) (*dns.Msg, [][]byte) {
	t.Helper()

	conn, err := net.Dial("udp", s.Addr())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(clientTimeout)))

	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), dns.TypeA)
	packed, err := req.Pack()
	require.NoError(t, err)
	_, err = conn.Write(packed)
	require.NoError(t, err)

	var datagrams [][]byte
	buf := make([]byte, dns.MaxMsgSize)
	for range count {
		n, err := conn.Read(buf)
		require.NoError(t, err)
		datagrams = append(datagrams, append([]byte(nil), buf[:n]...))
	}
	return req, datagrams
}

func TestFaultWrongIDFirst(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	s.SetFault("hook.example", webhookurltest.FaultWrongIDFirst)

	req, datagrams := readDatagrams(t, s, "hook.example", 2)

	var first, second dns.Msg
	require.NoError(t, first.Unpack(datagrams[0]))
	require.NoError(t, second.Unpack(datagrams[1]))
	assert.NotEqual(t, req.Id, first.Id, "ID of the first reply")
	assert.Equal(t, req.Id, second.Id, "ID of the second reply")
	assert.Len(t, second.Answer, 1)
}

func TestFaultGarbageFirst(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	s.SetFault("hook.example", webhookurltest.FaultGarbageFirst)

	for range 20 {
		req, datagrams := readDatagrams(t, s, "hook.example", 2)

		var first, second dns.Msg
		assert.Error(t, first.Unpack(datagrams[0]), "first datagram %x parses; want garbage", datagrams[0])
		require.NoError(t, second.Unpack(datagrams[1]))
		assert.Equal(t, req.Id, second.Id, "ID of the second reply")
		assert.Len(t, second.Answer, 1)
	}

	// dns.Client stops at the first datagram it cannot parse.
	_, err := tryExchange(s, "udp", "hook.example", dns.TypeA, clientTimeout)
	assert.Error(t, err, "dns.Client exchange with FaultGarbageFirst")
}

func TestFaultString(t *testing.T) {
	assert.Equal(t, "FaultTruncateUDP", webhookurltest.FaultTruncateUDP.String())
	assert.Equal(t, "Fault(99)", webhookurltest.Fault(99).String())
}

func TestDelay(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	const delay = 150 * time.Millisecond
	s.SetDelay("hook.example", delay)

	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			start := time.Now()
			resp := exchange(t, s, network, "hook.example", dns.TypeA)
			elapsed := time.Since(start)

			assert.GreaterOrEqual(t, elapsed, delay, "reply came after %v; want at least %v", elapsed, delay)
			assert.Len(t, resp.Answer, 1)
		})
	}

	s.SetDelay("hook.example", 0)
	s.SetDelay("*", time.Hour)
	_, err := tryExchange(s, "udp", "other.example", dns.TypeA, 100*time.Millisecond)
	assert.Error(t, err, "exchange with a delay of an hour for every name")
}

func TestCloseEndsDelay(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	s.SetDelay("", time.Hour)

	// The UDP client gets no reply and waits for its whole timeout.
	var wg sync.WaitGroup
	for _, network := range networks {
		wg.Go(func() {
			_, _ = tryExchange(s, network, "hook.example", dns.TypeA, time.Second)
		})
	}
	require.Eventually(t, func() bool { return s.Total() == 2 }, clientTimeout, 5*time.Millisecond)

	// Close returns an error if the delayed handlers are still running
	// when its five-second wait ends.
	require.NoError(t, s.Close())
	wg.Wait()
	assert.NoError(t, s.Close(), "second Close")

	_, err := tryExchange(s, "udp", "hook.example", dns.TypeA, 100*time.Millisecond)
	assert.Error(t, err, "exchange after Close")
}

func TestSequence(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{
		"alias.example": {webhookurltest.CNAME("rebind.example")},
	})
	s.SetSequence("rebind.example",
		[]webhookurltest.Record{webhookurltest.A("192.0.2.1"), webhookurltest.AAAA("2001:db8::1")},
		[]webhookurltest.Record{webhookurltest.A("127.0.0.1").WithTTL(0)},
		[]webhookurltest.Record{webhookurltest.A("10.0.0.1").WithTTL(0)},
	)

	var got []string
	for range 4 {
		resp := exchange(t, s, "udp", "rebind.example", dns.TypeA)
		require.Len(t, resp.Answer, 1)
		got = append(got, resp.Answer[0].String())
	}
	assert.Equal(t, []string{
		"rebind.example.\t300\tIN\tA\t192.0.2.1",
		"rebind.example.\t0\tIN\tA\t127.0.0.1",
		"rebind.example.\t0\tIN\tA\t10.0.0.1",
		"rebind.example.\t0\tIN\tA\t10.0.0.1",
	}, got, "A answers in turn, the last repeating")

	// AAAA keeps its own position: the first AAAA query gets answers[0],
	// the second gets answers[1], which has no AAAA record.
	resp := exchange(t, s, "tcp", "rebind.example", dns.TypeAAAA)
	assert.Equal(t, []string{"rebind.example.\t300\tIN\tAAAA\t2001:db8::1"}, answerStrings(resp))
	resp = exchange(t, s, "tcp", "rebind.example", dns.TypeAAAA)
	assert.Equal(t, dns.RcodeSuccess, resp.Rcode)
	assert.Empty(t, resp.Answer, "second AAAA answer")

	// A new sequence starts from the beginning, also through a CNAME.
	s.SetSequence("rebind.example",
		[]webhookurltest.Record{webhookurltest.A("192.0.2.9")},
		[]webhookurltest.Record{webhookurltest.A("127.0.0.9")},
	)
	resp = exchange(t, s, "udp", "alias.example", dns.TypeA)
	assert.Equal(t, []string{
		"alias.example.\t300\tIN\tCNAME\trebind.example.",
		"rebind.example.\t300\tIN\tA\t192.0.2.9",
	}, answerStrings(resp))
	resp = exchange(t, s, "udp", "alias.example", dns.TypeA)
	assert.Equal(t, "rebind.example.\t300\tIN\tA\t127.0.0.9", resp.Answer[1].String())

	// Set ends the sequence.
	s.Set("rebind.example", webhookurltest.A("192.0.2.5"))
	resp = exchange(t, s, "udp", "rebind.example", dns.TypeA)
	assert.Equal(t, []string{"rebind.example.\t300\tIN\tA\t192.0.2.5"}, answerStrings(resp))
}

func TestCounters(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})

	exchange(t, s, "udp", "hook.example", dns.TypeA)
	exchange(t, s, "udp", "HOOK.example.", dns.TypeA)
	exchange(t, s, "tcp", "hook.example", dns.TypeAAAA)
	exchange(t, s, "tcp", "absent.example", dns.TypeA)

	assert.Equal(t, 2, s.Queries("Hook.Example", dns.TypeA))
	assert.Equal(t, 1, s.Queries("hook.example.", dns.TypeAAAA))
	assert.Equal(t, 1, s.Queries("absent.example", dns.TypeA))
	assert.Equal(t, 0, s.Queries("hook.example", dns.TypeMX))
	assert.Equal(t, 2, s.QueriesOver("udp"))
	assert.Equal(t, 2, s.QueriesOver("tcp"))
	assert.Equal(t, 4, s.Total())

	s.Reset()
	assert.Equal(t, 0, s.Queries("hook.example", dns.TypeA), "Queries after Reset")
	assert.Equal(t, 0, s.QueriesOver("udp"), "QueriesOver after Reset")
	assert.Equal(t, 0, s.Total(), "Total after Reset")

	exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, 1, s.Total(), "Total after Reset and one query")
}

func TestHook(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})
	s.SetHook(func(req, resp *dns.Msg) {
		glue, err := dns.NewRR("ns.other.example. 60 IN A 10.1.2.3")
		if err != nil {
			panic(err)
		}
		resp.Extra = append(resp.Extra, glue)
		resp.Answer = append(resp.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: "other.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(127, 0, 0, 1),
		})
	})

	resp := exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, []string{
		"hook.example.\t300\tIN\tA\t192.0.2.1",
		"other.example.\t60\tIN\tA\t127.0.0.1",
	}, answerStrings(resp))
	require.Len(t, resp.Extra, 1)
	assert.Equal(t, "ns.other.example.\t60\tIN\tA\t10.1.2.3", resp.Extra[0].String())

	// The hook changes copies, so the zone keeps its records.
	s.SetHook(nil)
	resp = exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, []string{"hook.example.\t300\tIN\tA\t192.0.2.1"}, answerStrings(resp))
	assert.Empty(t, resp.Extra)
}

func TestRawResponder(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{"hook.example": {webhookurltest.A("192.0.2.1")}})

	var mu sync.Mutex
	var requests []*dns.Msg
	s.SetRawResponder(func(req []byte) [][]byte {
		parsed := new(dns.Msg)
		if err := parsed.Unpack(req); err != nil {
			panic(err)
		}
		mu.Lock()
		requests = append(requests, parsed)
		mu.Unlock()

		reply := new(dns.Msg)
		reply.SetReply(parsed)
		reply.Answer = append(reply.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: parsed.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
			A:   net.IPv4(127, 0, 0, 2),
		})
		packed, err := reply.Pack()
		if err != nil {
			panic(err)
		}
		return [][]byte{{0xde, 0xad}, packed}
	})

	t.Run("udp", func(t *testing.T) {
		req, datagrams := readDatagrams(t, s, "absent.example", 2)
		assert.Equal(t, []byte{0xde, 0xad}, datagrams[0])
		var reply dns.Msg
		require.NoError(t, reply.Unpack(datagrams[1]))
		assert.Equal(t, req.Id, reply.Id)
		assert.Equal(t, []string{"absent.example.\t1\tIN\tA\t127.0.0.2"}, answerStrings(&reply))
	})

	t.Run("tcp", func(t *testing.T) {
		// dns.Client reads one length-prefixed message, so the first,
		// two-byte message fails to parse.
		_, err := tryExchange(s, "tcp", "hook.example", dns.TypeA, clientTimeout)
		assert.Error(t, err)
	})

	mu.Lock()
	require.Len(t, requests, 2)
	assert.Equal(t, "absent.example.", requests[0].Question[0].Name)
	assert.Equal(t, "hook.example.", requests[1].Question[0].Name)
	mu.Unlock()
	assert.Equal(t, 2, s.Total(), "raw responses are counted")

	s.SetRawResponder(nil)
	resp := exchange(t, s, "udp", "hook.example", dns.TypeA)
	assert.Equal(t, []string{"hook.example.\t300\tIN\tA\t192.0.2.1"}, answerStrings(resp))
}

func TestLargeAnswerTruncatedOverUDP(t *testing.T) {
	var records []webhookurltest.Record
	for i := range 60 {
		records = append(records, webhookurltest.A(fmt.Sprintf("192.0.2.%d", i+1)))
	}
	s := webhookurltest.Start(t, webhookurltest.Zone{"many.example": records})

	resp := exchange(t, s, "udp", "many.example", dns.TypeA)
	assert.True(t, resp.Truncated, "TC over UDP without EDNS for 60 records")
	assert.Less(t, len(resp.Answer), 60)
	resp.Compress = true
	assert.LessOrEqual(t, resp.Len(), dns.MinMsgSize, "size of the truncated reply")

	resp = exchange(t, s, "tcp", "many.example", dns.TypeA)
	assert.False(t, resp.Truncated, "TC over TCP")
	assert.Len(t, resp.Answer, 60)

	req := new(dns.Msg)
	req.SetQuestion("many.example.", dns.TypeA)
	req.SetEdns0(4096, false)
	client := &dns.Client{Net: "udp", Timeout: clientTimeout}
	resp, _, err := client.Exchange(req, s.Addr())
	require.NoError(t, err)
	assert.False(t, resp.Truncated, "TC over UDP with EDNS payload size 4096")
	assert.Len(t, resp.Answer, 60)
	assert.NotNil(t, resp.IsEdns0(), "OPT record in reply to an EDNS query")
}

func TestConcurrentQueries(t *testing.T) {
	s := webhookurltest.Start(t, webhookurltest.Zone{
		"hook.example":  {webhookurltest.A("192.0.2.1")},
		"alias.example": {webhookurltest.CNAME("hook.example")},
	})
	s.SetSequence("rebind.example",
		[]webhookurltest.Record{webhookurltest.A("192.0.2.2")},
		[]webhookurltest.Record{webhookurltest.A("127.0.0.1")},
	)
	s.SetHook(func(req, resp *dns.Msg) { _ = s.Total() })

	const goroutines = 200
	names := []string{"hook.example", "alias.example", "rebind.example", "absent.example"}
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			network := networks[i%2]
			name := names[i%len(names)]
			resp, err := tryExchange(s, network, name, dns.TypeA, 5*time.Second)
			if err != nil {
				errs <- fmt.Errorf("exchange %d (%s %s): %w", i, network, name, err)
				return
			}
			if i%2 == 0 {
				s.Set("other.example", webhookurltest.A("192.0.2.3"))
			}
			_ = resp
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	assert.Equal(t, goroutines, s.Total())
	assert.Equal(t, goroutines/2, s.QueriesOver("udp"))
	assert.Equal(t, goroutines/2, s.QueriesOver("tcp"))
	for _, name := range names {
		assert.Equal(t, goroutines/len(names), s.Queries(name, dns.TypeA), "Queries(%s, A)", name)
	}
}

// fatalRecorder is a testing.TB whose Fatal records the message and ends
// the goroutine, so a test can check that Start fails its test.
type fatalRecorder struct {
	testing.TB
	message string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatal(args ...any) {
	f.message = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestStartInvalidRecord(t *testing.T) {
	tests := []struct {
		name   string
		record webhookurltest.Record
		want   string
	}{
		{"IPv6 in A", webhookurltest.A("2001:db8::1"), `invalid A record "2001:db8::1"`},
		{"IPv4 in AAAA", webhookurltest.AAAA("192.0.2.1"), `invalid AAAA record "192.0.2.1"`},
		{"not an address", webhookurltest.A("hook.example"), `invalid A record "hook.example"`},
		{"empty CNAME", webhookurltest.CNAME(""), `invalid CNAME target ""`},
		{"bad MX", webhookurltest.Record{Type: dns.TypeMX, Value: "mail.example."}, "invalid MX record"},
		{"unknown type", webhookurltest.Record{Type: 65000, Value: "x"}, "unsupported record type 65000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recorder := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				webhookurltest.Start(recorder, webhookurltest.Zone{"hook.example": {tt.record}})
			}()
			<-done

			assert.Contains(t, recorder.message, tt.want, "Start with %v failed with %q; want it to contain %q", tt.record, recorder.message, tt.want)
		})
	}
}

func TestNewSetPanicsOnInvalidRecord(t *testing.T) {
	s, err := webhookurltest.New(nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()

	assert.Panics(t, func() { s.Set("hook.example", webhookurltest.A("not-an-ip")) })
	assert.Panics(t, func() {
		s.SetSequence("hook.example", []webhookurltest.Record{webhookurltest.AAAA("192.0.2.1")})
	})
}

func TestZoneRejectsUnqueryableOwnerNames(t *testing.T) {
	for _, name := range []string{"münchen.de", "bad..example.com", "a b.example.com"} {
		_, err := webhookurltest.New(webhookurltest.Zone{name: {webhookurltest.A("93.184.215.14")}})
		assert.Error(t, err, "New(Zone{%q: ...})", name)
	}
	s, err := webhookurltest.New(webhookurltest.Zone{"xn--mnchen-3ya.de": {webhookurltest.A("93.184.215.14")}, "_dmarc.example.com": {}})
	require.NoError(t, err, "punycode and underscore labels are valid owner names")
	require.NoError(t, s.Close())
}
