package webhookurl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzDialPath really connects, so it runs only inside a network namespace
// whose only interface is loopback, such as the one that
// `unshare -n sh -c 'ip link set lo up && go test ...'` creates. There a
// connect to a public address fails at once with "network is unreachable",
// and the only listeners are the test's own. Everywhere else the target
// skips itself, so that `go test ./...` never dials outside loopback.

// Operations of FuzzDialPath, chosen by the low bits of its mode byte.
const (
	dialOpDialContext = iota // Validator.DialContext
	dialOpControl            // net.Dialer with Validator.ControlContext
	dialOpRoundTrip          // Validator.Transport
	dialOpRedirect           // Validator.Client following a redirect
	dialOpDeliver            // Deliverer.Deliver
	dialOps
)

// Other fields of FuzzDialPath's mode byte.
const (
	dialModeNetworkShift = 3    // bits 3-4: index into dialNetworks
	dialModeRaw          = 0x20 // target is the whole address or URL
	dialModeDelayShift   = 6    // bits 6-7: index into dialFallbackDelays
)

var (
	dialNetworks       = [4]string{"tcp", "tcp4", "tcp6", "tcp"}
	dialFallbackDelays = [4]time.Duration{0, time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond}
)

// dialCallTimeout bounds each operation through its context, and
// dialHangGrace is how long past that deadline a call may take to return
// before the target reports a hang. The grace covers a loaded fuzz worker
// and the race detector.
const (
	dialCallTimeout = 2 * time.Second
	dialHangGrace   = 3 * time.Second
)

// Tags of the resolver script that decodeDialScript reads, taken modulo
// dialTags.
const (
	dialTagIPv4      = iota // 4 bytes
	dialTagIPv6             // 16 bytes
	dialTagHook             // 127.0.0.2, allowed by the test policy
	dialTagTwin             // 127.0.0.1
	dialTagIPv6Loop         // ::1
	dialTagMapped           // ::ffff:a.b.c.d, 4 bytes
	dialTagNAT64            // 64:ff9b::a.b.c.d, 4 bytes
	dialTag6to4             // 2002:aabb:ccdd::1, 4 bytes
	dialTagTeredo           // 2001:0::<client IPv4 inverted>, 4 bytes
	dialTagZoned            // fe80::1%lo
	dialTagZero             // the zero netip.Addr
	dialTagNextReply        // starts the next reply of the sequence
	dialTagNotFound         // makes the current reply NXDOMAIN
	dialTags
)

// dialReply is one reply of scriptResolver: addresses or an error.
type dialReply struct {
	addrs []netip.Addr
	err   error
}

// decodeDialScript reads a sequence of resolver replies from b. A tag that
// needs more bytes than remain ends the script.
func decodeDialScript(b []byte) []dialReply {
	replies := []dialReply{{}}
	add := func(a netip.Addr) {
		cur := &replies[len(replies)-1]
		cur.addrs = append(cur.addrs, a)
	}
	take := func(n int) ([]byte, bool) {
		if len(b) < n {
			return nil, false
		}
		out := b[:n]
		b = b[n:]
		return out, true
	}

	for len(b) > 0 {
		tag := b[0] % dialTags
		b = b[1:]
		switch tag {
		case dialTagIPv4, dialTagMapped, dialTagNAT64, dialTag6to4, dialTagTeredo:
			v4, ok := take(4)
			if !ok {
				return replies
			}
			add(dialEmbedIPv4(tag, [4]byte(v4)))
		case dialTagIPv6:
			v6, ok := take(16)
			if !ok {
				return replies
			}
			add(netip.AddrFrom16([16]byte(v6)))
		case dialTagHook:
			add(hookAddr)
		case dialTagTwin:
			add(twinAddr)
		case dialTagIPv6Loop:
			add(netip.IPv6Loopback())
		case dialTagZoned:
			add(netip.MustParseAddr("fe80::1%lo"))
		case dialTagZero:
			add(netip.Addr{})
		case dialTagNextReply:
			replies = append(replies, dialReply{})
		case dialTagNotFound:
			replies[len(replies)-1].err = fmt.Errorf("fuzz resolver: %w", ErrDNSNotFound)
		}
	}
	return replies
}

// dialEmbedIPv4 returns v4 as itself or in the IPv6 form that tag names.
func dialEmbedIPv4(tag byte, v4 [4]byte) netip.Addr {
	var a [16]byte
	switch tag {
	case dialTagMapped:
		return netip.AddrFrom16(netip.AddrFrom4(v4).As16())
	case dialTagNAT64:
		copy(a[:], []byte{0x00, 0x64, 0xff, 0x9b})
		copy(a[12:], v4[:])
	case dialTag6to4:
		a[0], a[1] = 0x20, 0x02
		copy(a[2:6], v4[:])
		a[15] = 1
	case dialTagTeredo:
		// RFC 4380 Section 4: the client address is stored inverted.
		a[0], a[1] = 0x20, 0x01
		for i, x := range v4 {
			a[12+i] = ^x
		}
	default:
		return netip.AddrFrom4(v4)
	}
	return netip.AddrFrom16(a)
}

// scriptResolver returns its replies in turn to every lookup, whatever the
// name, so that consecutive lookups of one name can rebind. It records
// every reply it returned.
type scriptResolver struct {
	replies []dialReply

	mu       sync.Mutex
	calls    int
	returned []dialReply
}

func (r *scriptResolver) LookupAddrs(_ context.Context, _ string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.replies[r.calls%len(r.replies)]
	r.calls++
	r.returned = append(r.returned, a)
	if a.err != nil {
		return nil, a.err
	}
	if len(a.addrs) == 0 {
		return nil, fmt.Errorf("fuzz resolver: %w", ErrNoAddresses)
	}
	return append([]netip.Addr(nil), a.addrs...), nil
}

func (r *scriptResolver) repliesReturned() []dialReply {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dialReply(nil), r.returned...)
}

// errNoTestDNS fails every DNS query of the net.Resolver that the
// ControlContext operation uses, so that only /etc/hosts resolves names.
var errNoTestDNS = errors.New("fuzz: DNS queries are disabled in this test")

// onlyLoopbackInterface reports whether the process runs in a network
// namespace whose only interface is loopback.
func onlyLoopbackInterface() (bool, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return false, err
	}
	return len(ifaces) == 1 && ifaces[0].Name == "lo", nil
}

// dialFixture is what FuzzDialPath sets up once per worker process: the
// HTTPS server on 127.0.0.2 and twin listeners on 127.0.0.1 and, when it
// can be bound, [::1] at the same port.
type dialFixture struct {
	server *httptest.Server
	port   uint16
	twins  []*twinListener
}

// startDialFixture binds the server's port on 127.0.0.2 and the same port
// on the twin addresses, retrying with another port when 127.0.0.1 has it
// taken.
func startDialFixture(tb testing.TB) *dialFixture {
	tb.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(hookAddr, 0).String())
		require.NoError(tb, err)
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		twin, err := listenTwin(netip.AddrPortFrom(twinAddr, port))
		if err != nil {
			ln.Close()
			continue
		}
		tb.Cleanup(twin.close)

		fx := &dialFixture{port: port, twins: []*twinListener{twin}}
		if twin6, err := listenTwin(netip.AddrPortFrom(netip.IPv6Loopback(), port)); err == nil {
			tb.Cleanup(twin6.close)
			fx.twins = append(fx.twins, twin6)
		} else {
			tb.Logf("no twin listener on [::1]: %v", err)
		}

		fx.server = httptest.NewUnstartedServer(dialFuzzHandler())
		fx.server.Listener.Close()
		fx.server.Listener = ln
		fx.server.EnableHTTP2 = true
		fx.server.TLS = &tls.Config{Certificates: []tls.Certificate{getHookCert(tb).cert}}
		// The client side closes most connections before or during the
		// handshake, and each would log a line.
		fx.server.Config.ErrorLog = log.New(io.Discard, "", 0)
		fx.server.StartTLS()
		tb.Cleanup(fx.server.Close)
		return fx
	}
	tb.Fatal("could not bind one port on both 127.0.0.2 and 127.0.0.1")
	return nil
}

// twinAccepts returns the peers of the connections that the twin listeners
// accepted since the previous call, other than the test's own markers.
func (fx *dialFixture) twinAccepts(tb testing.TB) []netip.AddrPort {
	tb.Helper()
	var out []netip.AddrPort
	for _, l := range fx.twins {
		out = append(out, l.drain(tb)...)
	}
	return out
}

// twinListener accepts and closes connections on an address that the
// delivery path must never reach, and records the peer of each.
type twinListener struct {
	ln       net.Listener
	done     chan struct{}
	accepted chan struct{} // receives a value after each accept, without blocking

	mu    sync.Mutex
	peers []netip.AddrPort
}

func listenTwin(addr netip.AddrPort) (*twinListener, error) {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	l := &twinListener{ln: ln, done: make(chan struct{}), accepted: make(chan struct{}, 1)}
	go func() {
		defer close(l.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.peers = append(l.peers, c.RemoteAddr().(*net.TCPAddr).AddrPort())
			l.mu.Unlock()
			c.Close()
			select {
			case l.accepted <- struct{}{}:
			default:
			}
		}
	}()
	return l, nil
}

func (l *twinListener) close() {
	l.ln.Close()
	<-l.done
}

// drain connects to the listener itself as a marker and waits until the
// marker is accepted. Connections are accepted in the order they were
// established, so every connection made before the marker is recorded by
// then. It returns those peers and clears the record.
func (l *twinListener) drain(tb testing.TB) []netip.AddrPort {
	tb.Helper()
	marker, err := net.DialTimeout("tcp", l.ln.Addr().String(), time.Second)
	require.NoError(tb, err, "marker connection to the twin listener")
	markerAddr := marker.LocalAddr().(*net.TCPAddr).AddrPort()
	// Closing with a reset leaves no TIME_WAIT socket, so that markers
	// never run out of local ports.
	marker.(*net.TCPConn).SetLinger(0)
	marker.Close()

	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		i := slices.Index(l.peers, markerAddr)
		if i >= 0 {
			out := slices.Clone(l.peers[:i])
			l.peers = slices.Clone(l.peers[i+1:])
			l.mu.Unlock()
			return out
		}
		l.mu.Unlock()

		select {
		case <-l.accepted:
		case <-timeout.C:
			tb.Fatalf("the twin listener on %s did not accept the marker connection from %s within 1s", l.ln.Addr(), markerAddr)
		}
	}
}

// pending returns the peers recorded since the last drain, without a
// marker, so it misses a connection that is not yet accepted.
func (l *twinListener) pending() []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.peers)
}

// FuzzDialPath drives the connecting half of the package with arbitrary
// hosts, URLs, redirect targets and resolver replies, and checks that no
// connection reaches a forbidden address. The twin listeners on
// 127.0.0.1 and [::1] must never accept, and every connection made must
// have a peer that Validator.CheckAddr accepts. A forbidden IP literal or
// resolver reply must fail with an *Error in the chain. Every call must
// return within dialHangGrace of its context's deadline.
//
// The mode byte chooses the operation (bits 0-2, modulo dialOps), the
// network of the DialContext operations (bits 3-4), whether target is the
// whole address or URL or only its host (bit 5) and the transport's
// fallback delay (bits 6-7). decodeDialScript turns the script bytes
// into the replies of the fake resolver.
func FuzzDialPath(f *testing.F) {
	isolated, err := onlyLoopbackInterface()
	if err != nil {
		f.Skipf("FuzzDialPath connects for real and runs only where lo is the sole interface, but listing interfaces failed: %v", err)
	}
	if !isolated {
		f.Skip("FuzzDialPath connects for real, so it runs only where lo is the sole interface: use unshare -n sh -c 'ip link set lo up && go test ...'")
	}

	fx := startDialFixture(f)

	f.Add(byte(dialOpDialContext), "hooks.example.info", []byte{dialTagHook})
	f.Add(byte(dialOpRoundTrip), "hooks.example.info", []byte{dialTagTwin, dialTagHook})
	f.Add(byte(dialOpRedirect), "hooks.example.info", []byte{dialTagHook, dialTagNextReply, dialTagTwin})

	f.Fuzz(func(t *testing.T, mode byte, target string, script []byte) {
		for _, l := range fx.twins {
			require.Empty(t, l.pending(), "connections to %s after the previous input", l.ln.Addr())
		}
		resolver := &scriptResolver{replies: decodeDialScript(script)}
		v, err := New(Config{Resolver: resolver, Allow: []netip.Prefix{netip.PrefixFrom(hookAddr, 32)}})
		require.NoError(t, err)

		run := &dialRun{
			fx:     fx,
			v:      v,
			mode:   mode,
			target: target,
			opts: TransportOptions{
				DialTimeout:   time.Second,
				FallbackDelay: dialFallbackDelays[mode>>dialModeDelayShift],
				TLSConfig:     hookClientTLS(t),
			},
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			run.do()
		}()
		select {
		case <-done:
		case <-time.After(dialCallTimeout + dialHangGrace):
			t.Fatalf("%s did not return within %v of its %v deadline", run.describe(), dialHangGrace, dialCallTimeout)
		}

		// NOTE: a losing Happy Eyeballs attempt that is still between its
		// context check and connect(2) when the call returns connects after
		// the marker, so it is reported with the next input.
		require.Empty(t, fx.twinAccepts(t), "%s: connections from these local addresses reached 127.0.0.1 or [::1]", run.describe())
		if run.panicked != nil {
			panic(run.panicked)
		}
		run.check(t, resolver.repliesReturned())
	})
}

// dialFuzzHandler responds to /redirect?to=LOCATION with a 302 to LOCATION
// and to every other request with 204.
func dialFuzzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			w.Header().Set("Location", r.URL.Query().Get("to"))
			w.WriteHeader(http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// dialRun is one input of FuzzDialPath: the operation, then what it
// returned and which peers it connected to.
type dialRun struct {
	fx     *dialFixture
	v      *Validator
	mode   byte
	target string
	opts   TransportOptions

	// literal is the IP address the operation is requested to reach
	// directly, or the zero Addr when the input names none.
	literal netip.Addr
	err     error
	mu      sync.Mutex
	peers   []net.Addr

	panicked any
}

func (r *dialRun) op() byte { return (r.mode & 7) % dialOps }

func (r *dialRun) network() string {
	return dialNetworks[(r.mode>>dialModeNetworkShift)&3]
}

func (r *dialRun) port() string { return strconv.Itoa(int(r.fx.port)) }

// address returns the "host:port" of the DialContext operations.
func (r *dialRun) address() string {
	if r.mode&dialModeRaw != 0 {
		return r.target
	}
	return r.target + ":" + r.port()
}

// url returns the URL of the HTTP operations.
func (r *dialRun) url() string {
	if r.mode&dialModeRaw != 0 {
		return r.target
	}
	return "https://" + r.target + ":" + r.port() + "/"
}

func (r *dialRun) describe() string {
	names := [dialOps]string{"DialContext", "ControlContext dial", "RoundTrip", "redirect", "Deliver"}
	switch r.op() {
	case dialOpDialContext, dialOpControl:
		return fmt.Sprintf("%s(%q, %q)", names[r.op()], r.network(), r.address())
	case dialOpRedirect:
		return fmt.Sprintf("redirect to %q", r.location())
	default:
		return fmt.Sprintf("%s(%q)", names[r.op()], r.url())
	}
}

// location returns the Location of the redirect operation.
func (r *dialRun) location() string { return r.url() }

func (r *dialRun) addPeer(a net.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.peers = append(r.peers, a)
}

// do runs the operation and stores its outcome. A panic is stored too,
// and raised again by the fuzz goroutine.
func (r *dialRun) do() {
	defer func() { r.panicked = recover() }()

	ctx, cancel := context.WithTimeout(context.Background(), dialCallTimeout)
	defer cancel()

	switch r.op() {
	case dialOpDialContext:
		r.literal = literalOfAddress(r.address())
		conn, err := r.v.DialContext(ctx, r.network(), r.address())
		r.finishConn(conn, err)

	case dialOpControl:
		// A dialer that resolves names itself, through /etc/hosts only,
		// and relies on ControlContext alone.
		d := net.Dialer{
			ControlContext: r.v.ControlContext,
			Resolver: &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, errNoTestDNS
			}},
		}
		r.literal = literalOfAddress(r.address())
		conn, err := d.DialContext(ctx, r.network(), r.address())
		r.finishConn(conn, err)

	case dialOpRoundTrip:
		req, err := http.NewRequestWithContext(r.trace(ctx), http.MethodGet, r.url(), nil)
		if err != nil {
			return // net/http cannot send it, so it cannot reach anything
		}
		// net/http refuses other schemes before it dials, with its own
		// error, so only http and https requests must meet the policy.
		if req.URL.Scheme == "http" || req.URL.Scheme == "https" {
			r.literal = literalOfHost(req.URL.Hostname())
		}
		tr := r.v.Transport(r.opts)
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(req)
		r.finishResponse(resp, err)

	case dialOpRedirect:
		client := r.v.Client(ClientOptions{Transport: r.opts, MaxRedirects: 2})
		defer client.CloseIdleConnections()
		first := "https://" + net.JoinHostPort(hookAddr.String(), r.port()) + "/redirect?to=" + url.QueryEscape(r.location())
		req, err := http.NewRequestWithContext(r.trace(ctx), http.MethodGet, first, nil)
		if err != nil {
			r.err = err
			return
		}
		resp, err := client.Do(req)
		r.finishResponse(resp, err)

	case dialOpDeliver:
		d := r.v.NewDeliverer(ClientOptions{Transport: r.opts, MaxRedirects: 2})
		defer d.CloseIdleConnections()
		if u, err := url.Parse(r.url()); err == nil {
			r.literal = literalOfHost(u.Hostname())
		}
		resp, err := d.Deliver(r.trace(ctx), r.url(), []byte(`{"fuzz":true}`), nil)
		r.finishResponse(resp, err)
	}
}

// trace returns ctx with a ClientTrace that records the peer of every
// connection net/http uses.
func (r *dialRun) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { r.addPeer(info.Conn.RemoteAddr()) },
	})
}

func (r *dialRun) finishConn(conn net.Conn, err error) {
	r.err = err
	if conn != nil {
		r.addPeer(conn.RemoteAddr())
		conn.Close()
	}
}

func (r *dialRun) finishResponse(resp *http.Response, err error) {
	r.err = err
	if resp != nil {
		resp.Body.Close()
	}
}

// literalOfAddress returns the IP address in a "host:port" pair, or the
// zero Addr when the host is not an IP literal.
func literalOfAddress(address string) netip.Addr {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return netip.Addr{}
	}
	return literalOfHost(host)
}

func literalOfHost(host string) netip.Addr {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// networkCarries reports whether net.Dialer connects to a over network.
// Like net.Dialer, it counts an IPv4-mapped IPv6 address as IPv4.
func networkCarries(network string, a netip.Addr) bool {
	switch network {
	case "tcp4":
		return a.Unmap().Is4()
	case "tcp6":
		return !a.Unmap().Is4()
	}
	return true
}

// check applies the invariants that hold whatever the operation returned.
func (r *dialRun) check(t *testing.T, replies []dialReply) {
	t.Helper()
	call := r.describe()

	r.mu.Lock()
	peers := append([]net.Addr(nil), r.peers...)
	r.mu.Unlock()
	for _, p := range peers {
		tcp, ok := p.(*net.TCPAddr)
		require.True(t, ok, "%s: peer %v is not TCP", call, p)
		peer := tcp.AddrPort()
		require.True(t, r.v.CheckAddr(peer.Addr()).Public, "%s connected to %s: %v", call, peer, r.v.CheckAddr(peer.Addr()))
		require.Equal(t, netip.AddrPortFrom(hookAddr, r.fx.port), peer, "%s: peer", call)
	}

	if r.op() == dialOpDeliver && r.err != nil {
		_, ok := errors.AsType[*DeliveryError](r.err)
		require.True(t, ok, "%s = %v; want a *DeliveryError", call, r.err)
	}

	literal := r.literal
	if r.op() == dialOpControl {
		// net.Dialer connects to an IPv4-mapped address as IPv4, and
		// ControlContext judges the address of the socket.
		literal = literal.Unmap()
	}
	if literal.IsValid() && !r.v.CheckAddr(literal).Public {
		if r.op() == dialOpControl && !networkCarries(r.network(), literal) {
			// net.Dialer drops an address of the other family before
			// connecting, so ControlContext is never called for it.
			require.Error(t, r.err, "%s succeeded for the IP literal %s", call, literal)
		} else {
			requireDialRejected(t, call, r.err, "the IP literal "+literal.String())
		}
	}

	// Every lookup happens in a step that fails on a forbidden address:
	// the dial step or a redirect's validation. The ControlContext
	// operation never uses the fake resolver.
	for i, a := range replies {
		switch {
		case a.err != nil:
			requireDialRejected(t, call, r.err, fmt.Sprintf("lookup %d failed with %v", i, a.err))
		case len(a.addrs) == 0:
			requireDialRejected(t, call, r.err, fmt.Sprintf("lookup %d returned no addresses", i))
		}
		for _, addr := range a.addrs {
			if !r.v.CheckAddr(addr).Public {
				requireDialRejected(t, call, r.err, fmt.Sprintf("lookup %d returned %s", i, addr))
			}
		}
	}
}

// requireDialRejected checks that err carries an *Error, which
// errors.As must find through net/http's and net's wrapping. The reason
// states why the call must fail.
func requireDialRejected(t *testing.T, call string, err error, reason string) {
	t.Helper()
	require.Error(t, err, "%s succeeded, but %s", call, reason)
	_, ok := errors.AsType[*Error](err)
	require.True(t, ok, "%s = %v; want an *Error in the chain, because %s", call, err, reason)
}
