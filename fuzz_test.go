package webhookurl

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seed corpora of the URL targets live in testdata/fuzz/<Target>/, one
// file per hostile form, named after the form: IPv4 written as a number,
// special-use ranges, embedded IPv4, zones, metadata endpoints, IDN dots,
// percent-encoding, userinfo and backslash decoys, schemes, control
// characters and lengths around the default MaxLength.

// errResolverUnused fails lookups in the static targets, which must never
// resolve anything.
var errResolverUnused = errors.New("fuzz: the static check must not resolve")

type unusedResolver struct{}

func (unusedResolver) LookupAddrs(context.Context, string) ([]netip.Addr, error) {
	return nil, errResolverUnused
}

// Special-use suffixes that no accepted host may end in. The list is kept
// apart from the one in hostname.go on purpose, and adds names that are
// not ICANN TLDs, which the validator rejects through the public suffix
// list.
var fuzzSpecialSuffixes = []string{
	"localhost", "localdomain", "local", "internal", "arpa", "test",
	"example", "invalid", "onion", "alt", "lan", "home", "corp", "intranet",
	"private",
}

// newStaticValidators returns the two policies the static targets judge
// every input with: the zero Config and a strict one with a short
// MaxLength and a port list.
func newStaticValidators(t testing.TB) []*Validator {
	configs := []Config{
		{Resolver: unusedResolver{}},
		{Resolver: unusedResolver{}, MaxLength: 100, Ports: []uint16{443, 8443}},
	}
	out := make([]*Validator, 0, len(configs))
	for _, cfg := range configs {
		v, err := New(cfg)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// FuzzValidateStatic checks the promises of an accepted URL on arbitrary
// input: https, within MaxLength, ASCII, no userinfo or fragment, a host
// that is neither special-use nor a non-public address, and a canonical
// form that validates to itself.
func FuzzValidateStatic(f *testing.F) {
	f.Add("https://hooks.example.com/deliver?id=1")
	validators := newStaticValidators(f)

	f.Fuzz(func(t *testing.T, raw string) {
		for i, v := range validators {
			res, err := v.ValidateStatic(raw)
			if err != nil {
				requireValidatorError(t, err)
				continue
			}
			maxLength := DefaultMaxLength
			if i == 1 {
				maxLength = 100
				require.Contains(t, []uint16{443, 8443}, res.Port, "ValidateStatic(%q) port", raw)
			}
			requireAcceptedStatic(t, v, raw, res, maxLength)
		}
	})
}

// requireValidatorError fails unless err is an *Error with a known reason.
func requireValidatorError(t *testing.T, err error) *Error {
	t.Helper()
	var verr *Error
	require.ErrorAs(t, err, &verr, "error %v (%T) is not an *Error", err, err)
	require.Contains(t, Reasons(), verr.Reason)
	require.True(t, errors.Is(err, sentinels[verr.Reason]), "errors.Is(%v, sentinel of %s)", err, verr.Reason)
	return verr
}

// requireAcceptedStatic checks every property of a URL the static rules
// accepted, judged without the validator's own helpers where possible.
func requireAcceptedStatic(t *testing.T, v *Validator, raw string, res Result, maxLength int) {
	t.Helper()

	// The input itself, not only its canonical form, must be https and
	// free of userinfo and fragment: a validator that dropped them would
	// store a URL other than the one the customer gave.
	scheme, _, _ := strings.Cut(raw, ":")
	require.True(t, strings.EqualFold(scheme, "https"), "ValidateStatic(%q) accepted scheme %q", raw, scheme)
	require.NotContains(t, raw, "#", "ValidateStatic(%q) accepted a fragment", raw)
	if u, err := url.Parse(raw); err == nil {
		require.Nil(t, u.User, "ValidateStatic(%q) accepted userinfo %q", raw, u.User)
	}

	require.True(t, strings.HasPrefix(res.URL, "https://"), "ValidateStatic(%q).URL = %q; want https", raw, res.URL)
	require.LessOrEqual(t, len(res.URL), maxLength, "ValidateStatic(%q).URL = %q", raw, res.URL)
	for i := 0; i < len(res.URL); i++ {
		c := res.URL[i]
		require.True(t, c > ' ' && c < 0x7f, "ValidateStatic(%q).URL = %q has byte %#x at %d", raw, res.URL, c, i)
	}
	require.NotContains(t, res.URL, "#", "ValidateStatic(%q).URL = %q", raw, res.URL)
	require.NotZero(t, res.Port, "ValidateStatic(%q).Port", raw)

	u, err := url.Parse(res.URL)
	require.NoError(t, err, "url.Parse(%q)", res.URL)
	require.Equal(t, "https", u.Scheme)
	require.Nil(t, u.User, "url.Parse(%q).User", res.URL)
	require.Empty(t, u.Fragment)
	require.Equal(t, res.Host, u.Hostname(), "url.Parse(%q).Hostname()", res.URL)
	require.Equal(t, res.URL, u.String(), "url.Parse(%q).String()", res.URL)
	wantPort := ""
	if res.Port != 443 {
		wantPort = strconv.Itoa(int(res.Port))
	}
	require.Equal(t, wantPort, u.Port(), "url.Parse(%q).Port()", res.URL)

	if addr, err := netip.ParseAddr(res.Host); err == nil {
		require.Empty(t, addr.Zone(), "ValidateStatic(%q).Host = %q has a zone", raw, res.Host)
		require.Equal(t, []netip.Addr{addr}, res.Addrs, "ValidateStatic(%q).Addrs", raw)
		require.True(t, v.CheckAddr(addr).Public, "ValidateStatic(%q) accepted %s: %v", raw, addr, v.CheckAddr(addr))
		require.True(t, Classify(addr).Public, "ValidateStatic(%q) accepted %s: %v", raw, addr, Classify(addr))
		ip := net.ParseIP(res.Host)
		require.NotNil(t, ip, "net.ParseIP(%q)", res.Host)
		require.True(t, ip.Equal(net.IP(addr.AsSlice())), "net.ParseIP(%q) = %v; netip reads %v", res.Host, ip, addr)
	} else {
		requirePublicName(t, raw, res.Host)
		require.Empty(t, res.Addrs, "ValidateStatic(%q).Addrs of a DNS name", raw)
	}

	// Idempotence: the canonical URL is accepted as it is.
	again, err := v.ValidateStatic(res.URL)
	require.NoError(t, err, "ValidateStatic(%q) rejects the canonical form of %q", res.URL, raw)
	assert.Equal(t, res.URL, again.URL, "canonical URL of %q", raw)
	assert.Equal(t, res.Host, again.Host, "host of %q", raw)
	assert.Equal(t, res.Port, again.Port, "port of %q", raw)
	assert.Equal(t, res.Addrs, again.Addrs, "addresses of %q", raw)
}

// requirePublicName checks an accepted DNS name: lowercase LDH labels, at
// least two of them, no special-use suffix, and a last label that no URL
// parser or inet_aton reads as a number.
func requirePublicName(t *testing.T, raw, name string) {
	t.Helper()

	require.LessOrEqual(t, len(name), 253, "ValidateStatic(%q).Host = %q", raw, name)
	labels := strings.Split(name, ".")
	require.GreaterOrEqual(t, len(labels), 2, "ValidateStatic(%q).Host = %q is a single label", raw, name)
	for _, label := range labels {
		require.NotEmpty(t, label, "ValidateStatic(%q).Host = %q has an empty label", raw, name)
		require.LessOrEqual(t, len(label), 63, "ValidateStatic(%q).Host = %q", raw, name)
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
			require.True(t, ok, "ValidateStatic(%q).Host = %q has %q", raw, name, c)
		}
	}
	require.False(t, isNumericLabel(labels[len(labels)-1]), "ValidateStatic(%q).Host = %q ends in a number", raw, name)
	for _, suffix := range fuzzSpecialSuffixes {
		special := name == suffix || strings.HasSuffix(name, "."+suffix)
		require.False(t, special, "ValidateStatic(%q).Host = %q is under .%s", raw, name, suffix)
	}
}

// isNumericLabel reports whether label is a number to the WHATWG IPv4
// parser or to inet_aton: decimal, octal with a leading 0, or hex with 0x.
func isNumericLabel(label string) bool {
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		hex := label[2:]
		return strings.Trim(hex, "0123456789abcdefABCDEF") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// answerResolver returns a fixed answer for every name and records the
// names it was asked for.
type answerResolver struct {
	addrs []netip.Addr
	err   error

	mu    sync.Mutex
	hosts []string
}

func (r *answerResolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, host)
	r.mu.Unlock()
	return r.addrs, r.err
}

func (r *answerResolver) lookedUp() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hosts...)
}

// Resolver failures chosen by the low bits of FuzzValidate's mode byte.
const (
	answerAddrs = iota
	answerNotFound
	answerNoAddresses
	answerFailure
	answerCanceled
	answerEmpty
	answerModes
)

// decodeAnswerAddrs reads addresses from b: a tag byte, then 4 bytes of
// IPv4 for an even tag or 16 bytes of IPv6 for an odd one. Tags with bit 1
// set add a zone to an IPv6 address or, for IPv4, give the zero Addr.
func decodeAnswerAddrs(b []byte) []netip.Addr {
	var out []netip.Addr
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		switch {
		case tag&1 == 0 && tag&2 != 0:
			out = append(out, netip.Addr{})
		case tag&1 == 0 && len(b) >= 4:
			out = append(out, netip.AddrFrom4([4]byte(b[:4])))
			b = b[4:]
		case tag&1 == 1 && len(b) >= 16:
			a := netip.AddrFrom16([16]byte(b[:16]))
			if tag&2 != 0 {
				a = a.WithZone("eth0")
			}
			out = append(out, a)
			b = b[16:]
		default:
			return out
		}
	}
	return out
}

// fuzzAllow and fuzzDeny give FuzzValidate a policy with both lists, so
// that the Deny-over-Allow order is exercised.
var (
	fuzzAllow = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/32")}
	fuzzDeny  = []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("8.8.4.0/24")}
)

// FuzzValidate runs the full validation with an in-memory resolver whose
// answer comes from the input, and checks that no accepted result carries
// an address the policy rejects.
func FuzzValidate(f *testing.F) {
	f.Add("https://hooks.example.com/", []byte{0, 93, 184, 215, 14}, byte(answerAddrs))
	f.Add("https://hooks.example.com/", []byte{0, 93, 184, 215, 14, 0, 127, 0, 0, 1}, byte(answerAddrs))

	f.Fuzz(func(t *testing.T, raw string, answer []byte, mode byte) {
		resolver := &answerResolver{addrs: decodeAnswerAddrs(answer)}
		switch mode % answerModes {
		case answerNotFound:
			resolver.err = ErrDNSNotFound
		case answerNoAddresses:
			resolver.err = ErrNoAddresses
		case answerFailure:
			resolver.err = errors.New("fuzz: resolver failure")
		case answerCanceled:
			resolver.err = context.Canceled
		case answerEmpty:
			resolver.addrs = nil
		}
		v, err := New(Config{Resolver: resolver, Allow: fuzzAllow, Deny: fuzzDeny})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := v.Validate(ctx, raw)
		static, staticErr := v.ValidateStatic(raw)
		hosts := resolver.lookedUp()

		if staticErr != nil {
			require.Error(t, err, "Validate(%q) accepts what ValidateStatic rejects", raw)
			verr := requireValidatorError(t, err)
			staticReason := requireValidatorError(t, staticErr).Reason
			require.Equal(t, staticReason, verr.Reason, "Validate(%q) reason", raw)
			require.Empty(t, hosts, "Validate(%q) resolved a statically rejected host", raw)
			return
		}
		if static.IsIPLiteral() {
			require.Empty(t, hosts, "Validate(%q) resolved an IP literal", raw)
		} else {
			require.Equal(t, []string{static.Host}, hosts, "Validate(%q) lookups", raw)
		}
		if err != nil {
			verr := requireValidatorError(t, err)
			if resolver.err != nil {
				require.Contains(t, []Reason{ReasonDNSNotFound, ReasonNoAddresses, ReasonDNSFailure}, verr.Reason)
			}
			return
		}

		require.Equal(t, static.URL, res.URL, "Validate(%q).URL", raw)
		require.Equal(t, static.Host, res.Host, "Validate(%q).Host", raw)
		require.Equal(t, static.Port, res.Port, "Validate(%q).Port", raw)
		require.NotEmpty(t, res.Addrs, "Validate(%q) accepted without addresses", raw)
		if !static.IsIPLiteral() {
			require.Nil(t, resolver.err, "Validate(%q) accepted a failed lookup", raw)
			require.Equal(t, resolver.addrs, res.Addrs, "Validate(%q).Addrs", raw)
		}
		for _, a := range res.Addrs {
			requirePolicyAllows(t, v, raw, a)
		}
	})
}

// requirePolicyAllows checks an accepted address against the policy of
// FuzzValidate: public in the table or in fuzzAllow, and in no fuzzDeny
// prefix, either itself or through the IPv4 address it embeds.
func requirePolicyAllows(t *testing.T, v *Validator, raw string, a netip.Addr) {
	t.Helper()

	require.True(t, a.IsValid(), "Validate(%q) accepted the zero Addr", raw)
	require.True(t, v.CheckAddr(a).Public, "Validate(%q) accepted %s: %v", raw, a, v.CheckAddr(a))
	c := Classify(a)
	allowed := false
	for _, p := range fuzzAllow {
		allowed = allowed || p.Contains(a.WithZone(""))
	}
	require.True(t, c.Public || allowed, "Validate(%q) accepted %s: %v", raw, a, c)
	for _, p := range fuzzDeny {
		require.False(t, p.Contains(a.WithZone("")), "Validate(%q) accepted %s inside Deny %s", raw, a, p)
		if c.Embedded.IsValid() {
			require.False(t, p.Contains(c.Embedded), "Validate(%q) accepted %s embedding %s inside Deny %s", raw, a, c.Embedded, p)
		}
	}
}

// errDialBlocked ends every dial of the differential target, so no
// connection is ever made.
var errDialBlocked = errors.New("fuzz: dial blocked")

// recordDials sends a GET for rawURL through an http.Transport whose dial
// functions record each request to dial and then fail. It returns the
// records as "tls tcp host:port" for DialTLSContext or "plain tcp
// host:port" for DialContext, and whether http.NewRequest accepted rawURL.
func recordDials(t *testing.T, rawURL string) (dials []string, parsed bool) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, false
	}

	var mu sync.Mutex
	record := func(kind string) func(context.Context, string, string) (net.Conn, error) {
		return func(_ context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			defer mu.Unlock()
			dials = append(dials, kind+" "+network+" "+addr)
			return nil, errDialBlocked
		}
	}
	tr := &http.Transport{
		Proxy:             nil,
		DialContext:       record("plain"),
		DialTLSContext:    record("tls"),
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()

	resp, err := tr.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err, "RoundTrip(%q) succeeded without a connection", rawURL)

	mu.Lock()
	defer mu.Unlock()
	return dials, true
}

// sameDialTarget reports whether dialing hostPort reaches what the
// validator judged in res: the same IP address, or the same DNS name up to
// ASCII case and one trailing dot, on the same port.
func sameDialTarget(hostPort string, res Result) bool {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || port != strconv.Itoa(int(res.Port)) {
		return false
	}
	if res.IsIPLiteral() {
		addr, err := netip.ParseAddr(host)
		return err == nil && addr == res.Addrs[0]
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return false
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), res.Host)
}

// FuzzDialDifferential checks that net/http dials exactly the host and
// port the validator judged: byte for byte for the canonical URL, and the
// same name or address for the raw input whenever both accept it. A
// validator that judges one host while the client connects to another is
// the usual shape of an SSRF bypass.
func FuzzDialDifferential(f *testing.F) {
	f.Add("https://hooks.example.com:8443/deliver")
	v, err := New(Config{Resolver: unusedResolver{}})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, raw string) {
		res, verr := v.ValidateStatic(raw)
		rawDials, rawParsed := recordDials(t, raw)
		if verr != nil {
			return
		}

		want := net.JoinHostPort(res.Host, strconv.Itoa(int(res.Port)))
		assert.Equal(t, want, res.HostPort(), "ValidateStatic(%q).HostPort()", raw)
		dials, parsed := recordDials(t, res.URL)
		require.True(t, parsed, "http.NewRequest rejects the canonical URL %q of %q", res.URL, raw)
		require.Equal(t, []string{"tls tcp " + want}, dials, "net/http dials for canonical URL %q of %q", res.URL, raw)

		if !rawParsed {
			return
		}
		require.Len(t, rawDials, 1, "net/http dials for %q", raw)
		fields := strings.SplitN(rawDials[0], " ", 3)
		require.Len(t, fields, 3, "net/http dial for %q: %s", raw, rawDials[0])
		require.Equal(t, "tls", fields[0], "net/http dial for %q: %s", raw, rawDials[0])
		require.Equal(t, "tcp", fields[1], "net/http dial for %q: %s", raw, rawDials[0])
		hostPort := fields[2]
		require.True(t, sameDialTarget(hostPort, res),
			"net/http dials %s for %q; the validator judged %s", hostPort, raw, want)
	})
}

// replyServer is a DNS server on a loopback port that answers every UDP
// and TCP query with bytes from the fuzzer, patched to fit the query as
// the current mode sets. It records every reply it sends.
type replyServer struct {
	udp  net.PacketConn
	tcp  net.Listener
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	template []byte
	mode     byte
	sent     [][]byte
}

// Patches of replyServer's mode byte.
const (
	patchID          = 1 << iota // copy the query's ID into the reply
	patchResponse                // set the QR bit
	patchQuestion                // insert the query's question after the header
	patchDecoy                   // send a reply with the wrong ID first
	patchSilentUDP               // send nothing over UDP
	patchTCPComplete             // clear the TC bit of replies sent over TCP
)

// startReplyServer listens on one port of 127.0.0.1 for both UDP and TCP,
// retrying when the TCP port is taken.
func startReplyServer(tb testing.TB) *replyServer {
	tb.Helper()

	s := &replyServer{done: make(chan struct{})}
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(tb, err)
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err != nil {
			udp.Close()
			require.Less(tb, attempt, 10, "no port free for both UDP and TCP: %v", err)
			continue
		}
		s.udp, s.tcp = udp, tcp
		break
	}

	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	tb.Cleanup(func() {
		close(s.done)
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

func (s *replyServer) addr() string { return s.udp.LocalAddr().String() }

// reset installs the reply for the next lookup and clears the record of
// what was sent.
func (s *replyServer) reset(template []byte, mode byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.template, s.mode, s.sent = template, mode, nil
}

func (s *replyServer) sentReplies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.sent...)
}

// reply builds the reply to query and records it.
func (s *replyServer) reply(query []byte, overTCP bool) (reply []byte, mode byte) {
	s.mu.Lock()
	defer s.mu.Unlock()

	mode = s.mode
	reply = append([]byte(nil), s.template...)
	if mode&patchQuestion != 0 && len(reply) >= 12 {
		if q := questionBytes(query); q != nil {
			body := append([]byte(nil), reply[12:]...)
			reply = append(append(reply[:12], q...), body...)
			binary.BigEndian.PutUint16(reply[4:6], 1)
		}
	}
	if mode&patchID != 0 && len(reply) >= 2 && len(query) >= 2 {
		copy(reply[:2], query[:2])
	}
	if mode&patchResponse != 0 && len(reply) >= 3 {
		reply[2] |= 0x80
	}
	if mode&patchTCPComplete != 0 && overTCP && len(reply) >= 3 {
		reply[2] &^= 0x02
	}
	s.sent = append(s.sent, reply)
	return reply, mode
}

// questionBytes returns the first question of a well-formed query: the
// name's labels, the zero byte and QTYPE and QCLASS.
func questionBytes(query []byte) []byte {
	i := 12
	for i < len(query) && query[i] != 0 {
		i += 1 + int(query[i])
	}
	if i+5 > len(query) {
		return nil
	}
	return query[12 : i+5]
}

func (s *replyServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		reply, mode := s.reply(buf[:n], false)
		if mode&patchSilentUDP != 0 {
			continue
		}
		if mode&patchDecoy != 0 && len(reply) >= 2 {
			decoy := append([]byte(nil), reply...)
			decoy[1] ^= 0xff
			s.udp.WriteTo(decoy, from)
		}
		s.udp.WriteTo(reply, from)
	}
}

func (s *replyServer) serveTCP() {
	defer s.wg.Done()
	for {
		conn, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(time.Second))
			var size [2]byte
			if _, err := readFull(conn, size[:]); err != nil {
				return
			}
			query := make([]byte, binary.BigEndian.Uint16(size[:]))
			if _, err := readFull(conn, query); err != nil {
				return
			}
			reply, _ := s.reply(query, true)
			framed := binary.BigEndian.AppendUint16(nil, uint16(len(reply)))
			conn.Write(append(framed, reply...))
		}()
	}
}

func readFull(conn net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := conn.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// answeredAddrs returns the addresses that the replies give for name: A
// and AAAA records of class IN in the answer sections, owned by name or by
// a name that a CNAME chain from name reaches. The chain may run through
// several replies, because the resolver queries the target of a CNAME it
// cannot resolve from one answer.
func answeredAddrs(replies [][]byte, name string) map[netip.Addr]bool {
	var answers []dns.RR
	for _, b := range replies {
		var m dns.Msg
		if m.Unpack(b) == nil {
			answers = append(answers, m.Answer...)
		}
	}

	reached := map[string]bool{dns.CanonicalName(name): true}
	for grew := true; grew; {
		grew = false
		for _, rr := range answers {
			c, ok := rr.(*dns.CNAME)
			if !ok || !reached[dns.CanonicalName(c.Hdr.Name)] {
				continue
			}
			if target := dns.CanonicalName(c.Target); !reached[target] {
				reached[target] = true
				grew = true
			}
		}
	}

	out := map[netip.Addr]bool{}
	for _, rr := range answers {
		if rr.Header().Class != dns.ClassINET || !reached[dns.CanonicalName(rr.Header().Name)] {
			continue
		}
		switch rec := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(rec.A.To4()); ok {
				out[a] = true
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(rec.AAAA.To16()); ok {
				out[a] = true
			}
		}
	}
	return out
}

// replySeed packs a reply for fuzzHost without its question section, for
// use with patchQuestion.
func replySeed(tb testing.TB, rcode int, recursion bool, truncated bool, answer ...string) []byte {
	tb.Helper()

	m := new(dns.Msg)
	m.Response = true
	m.Rcode = rcode
	m.RecursionAvailable = recursion
	m.Truncated = truncated
	for _, text := range answer {
		rr, err := dns.NewRR(text)
		require.NoError(tb, err)
		if _, ok := rr.(*dns.SOA); ok {
			m.Ns = append(m.Ns, rr)
			continue
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	require.NoError(tb, err)
	return b
}

// fuzzHost is the name FuzzResolverReply validates.
const fuzzHost = "hooks.example.com"

// Bounds of one FuzzResolverReply lookup. lookupSlack absorbs scheduling
// delays when other builds and fuzzers share the CPUs.
//
// NOTE: with this slack only an overrun of more than a second is caught,
// such as a read that waits on a silent server with no deadline at all.
const (
	replyQueryTimeout = 100 * time.Millisecond
	lookupDeadline    = 400 * time.Millisecond
	lookupSlack       = time.Second
)

// FuzzResolverReply answers the DNSResolver's queries with arbitrary bytes
// from a loopback server and checks that every lookup ends by its deadline
// and that no address the policy rejects, or that no reply contained,
// reaches an accepted Result.
func FuzzResolverReply(f *testing.F) {
	well := patchID | patchResponse | patchQuestion
	seeds := []struct {
		reply []byte
		mode  int
	}{
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN A 93.184.215.14", fuzzHost+". 60 IN AAAA 2606:2800:21f:cb07:6820:80da:af6b:8b2c"), well},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN A 93.184.215.14", fuzzHost+". 60 IN A 169.254.169.254"), well},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN AAAA ::ffff:127.0.0.1"), well},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN AAAA 64:ff9b::a9fe:a9fe"), well},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN CNAME internal.example.net.", "internal.example.net. 60 IN A 10.0.0.5"), well},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN CNAME a.example.net.", "a.example.net. 60 IN CNAME "+fuzzHost+"."), well},
		{replySeed(f, dns.RcodeSuccess, true, false, "other.example.net. 60 IN A 127.0.0.1", fuzzHost+". 60 IN A 93.184.215.14"), well},
		{replySeed(f, dns.RcodeSuccess, true, false, "example.com. 60 IN SOA ns.example.com. admin.example.com. 1 60 60 60 60"), well},
		{replySeed(f, dns.RcodeNameError, true, false), well},
		{replySeed(f, dns.RcodeServerFailure, true, false), well},
		{replySeed(f, dns.RcodeSuccess, false, false), well},
		{replySeed(f, dns.RcodeSuccess, true, true, fuzzHost+". 60 IN A 93.184.215.14"), well},
		{replySeed(f, dns.RcodeSuccess, true, true, fuzzHost+". 60 IN A 93.184.215.14"), well | patchTCPComplete},
		{replySeed(f, dns.RcodeSuccess, true, true, fuzzHost+". 60 IN A 10.0.0.5"), well | patchTCPComplete},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN A 93.184.215.14"), well | patchDecoy},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN A 93.184.215.14"), well | patchSilentUDP},
		{replySeed(f, dns.RcodeSuccess, true, false, fuzzHost+". 60 IN A 93.184.215.14"), patchResponse | patchQuestion},
		{[]byte{}, well},
	}
	for _, s := range seeds {
		f.Add(s.reply, byte(s.mode))
	}

	server := startReplyServer(f)
	v, err := New(Config{DNS: DNSConfig{
		Nameservers:  []string{server.addr()},
		QueryTimeout: replyQueryTimeout,
		Attempts:     1,
		// Every lookup must reach the server, so that the answer it
		// accepts comes from the reply of this input.
		DisableCache: true,
	}})
	require.NoError(f, err)

	validate := func() (Result, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), lookupDeadline)
		defer cancel()
		start := time.Now()
		res, err := v.Validate(ctx, "https://"+fuzzHost+"/")
		return res, time.Since(start), err
	}

	f.Fuzz(func(t *testing.T, reply []byte, mode byte) {
		server.reset(reply, mode)
		res, elapsed, err := validate()

		// A slow lookup is run again before it counts as an overrun, so
		// that a moment of CPU starvation is not reported as a bug.
		if elapsed >= lookupDeadline+lookupSlack {
			server.reset(reply, mode)
			res, elapsed, err = validate()
		}
		require.Less(t, elapsed, lookupDeadline+lookupSlack, "Validate took %v twice with a %v deadline", elapsed, lookupDeadline)
		if err != nil {
			requireValidatorError(t, err)
			return
		}

		require.NotEmpty(t, res.Addrs, "Validate accepted without addresses")
		answered := answeredAddrs(server.sentReplies(), fuzzHost)
		for _, a := range res.Addrs {
			require.True(t, a.IsValid(), "Validate accepted the zero Addr")
			require.True(t, Classify(a).Public, "Validate accepted %s: %v", a, Classify(a))
			require.True(t, answered[a], "Validate accepted %s, which no reply gave for %s", a, fuzzHost)
		}
	})
}

// redirectingTransport answers the first request with a 302 to location
// without dialing, and sends every later request through next.
type redirectingTransport struct {
	location string
	next     http.RoundTripper

	mu    sync.Mutex
	calls int
}

func (rt *redirectingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.calls++
	first := rt.calls == 1
	rt.mu.Unlock()

	if !first {
		return rt.next.RoundTrip(req)
	}
	return &http.Response{
		StatusCode: http.StatusFound,
		Header:     http.Header{"Location": {rt.location}},
		Body:       http.NoBody,
		Request:    req,
	}, nil
}

// FuzzRedirectDifferential sends a request through Validator.Client to an
// endpoint that redirects to an arbitrary Location, and records what
// net/http then dials. A followed redirect must dial over TLS a host and
// port that pass the static rules. A DNS name must be dialed only after
// the resolver was asked for that very name, because the redirect check
// has to judge what net/http makes of Location, not the header text.
func FuzzRedirectDifferential(f *testing.F) {
	for _, location := range []string{
		"https://hooks.example.net/next",
		"/relative?x=1",
		"//127.0.0.1/",
		"https://127。0。0。1/",
		"https://127.0.0.%31/",
		"https://hooks.example.net%2f@127.0.0.1/",
		"https:\\\\127.0.0.1/",
		"http://hooks.example.net/",
		"https://[::ffff:127.0.0.1]/",
		"https://hooks.example.net:8443/#frag",
		"https://HOOKS.EXAMPLE.NET./",
		"https://xn--bcher-kva.example.net/",
	} {
		f.Add(location)
	}

	f.Fuzz(func(t *testing.T, location string) {
		resolver := &answerResolver{addrs: []netip.Addr{netip.MustParseAddr("93.184.215.14")}}
		v, err := New(Config{Resolver: resolver})
		require.NoError(t, err)

		var mu sync.Mutex
		var dials []string
		record := func(kind string) func(context.Context, string, string) (net.Conn, error) {
			return func(_ context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				defer mu.Unlock()
				dials = append(dials, kind+" "+network+" "+addr)
				return nil, errDialBlocked
			}
		}
		dialer := &http.Transport{DialContext: record("plain"), DialTLSContext: record("tls"), DisableKeepAlives: true}
		defer dialer.CloseIdleConnections()

		client := v.Client(ClientOptions{MaxRedirects: 1, Timeout: 5 * time.Second})
		client.Transport = &redirectingTransport{location: location, next: dialer}
		resp, err := client.Get("https://hooks.example.com/a/b?x=1")
		if resp != nil {
			resp.Body.Close()
		}
		if err == nil {
			// The 302 came back as is: net/http did not follow it, for
			// example because Location did not parse.
			require.Empty(t, dials, "redirect to %q", location)
			return
		}

		mu.Lock()
		defer mu.Unlock()
		if len(dials) == 0 {
			return // rejected before any dial
		}
		require.Len(t, dials, 1, "dials after a redirect to %q", location)
		fields := strings.SplitN(dials[0], " ", 3)
		require.Len(t, fields, 3)
		require.Equal(t, "tls", fields[0], "redirect to %q dials %s", location, dials[0])
		hostPort := fields[2]

		res, err := v.ValidateStatic("https://" + hostPort + "/")
		require.NoError(t, err, "redirect to %q dials %s, which the static rules reject", location, hostPort)
		require.True(t, sameDialTarget(hostPort, res), "redirect to %q dials %s; the rules judge %s", location, hostPort, res.HostPort())
		if !res.IsIPLiteral() {
			require.Contains(t, resolver.lookedUp(), res.Host, "redirect to %q dials %s without resolving it", location, hostPort)
		}
	})
}
