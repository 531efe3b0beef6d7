package webhookurl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test servers listen on 127.0.0.2, which the test Validators allow as
// if it were public. 127.0.0.1 stays forbidden, and a twin listener there
// records any connection that should never have been made.
var (
	hookAddr = netip.MustParseAddr("127.0.0.2")
	twinAddr = netip.MustParseAddr("127.0.0.1")
)

// seqResolver returns addresses from a table. Each name has a sequence of
// answers, returned in turn, so a name can rebind from one lookup to the next.
type seqResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newSeqResolver(answers map[string][][]netip.Addr) *seqResolver {
	return &seqResolver{answers: answers, calls: map[string]int{}}
}

func (r *seqResolver) LookupAddrs(_ context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, fmt.Errorf("fake resolver: %q: %w", host, ErrDNSNotFound)
	}
	answer := seq[r.calls[host]%len(seq)]
	r.calls[host]++
	return answer, nil
}

func (r *seqResolver) lookups(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func addrList(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// newDeliveryValidator returns a Validator that treats 127.0.0.2 (and any
// extra prefixes) as public and resolves through r.
func newDeliveryValidator(t *testing.T, r Resolver, cfg Config) *Validator {
	t.Helper()
	cfg.Resolver = r
	cfg.Allow = append(cfg.Allow, netip.PrefixFrom(hookAddr, 32))
	v, err := New(cfg)
	require.NoError(t, err)
	return v
}

// hookCert is a self-signed certificate for *.example.info and 127.0.0.2,
// and a pool that trusts it.
type hookCert struct {
	cert tls.Certificate
	pool *x509.CertPool
}

var (
	hookCertOnce sync.Once
	hookCertVal  hookCert
)

func getHookCert(t testing.TB) hookCert {
	t.Helper()
	hookCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "webhookurl test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			DNSNames:              []string{"hooks.example.info", "*.example.info"},
			IPAddresses:           []net.IP{hookAddr.AsSlice()},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		hookCertVal = hookCert{
			cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
			pool: pool,
		}
	})
	return hookCertVal
}

func hookClientTLS(t testing.TB) *tls.Config {
	return &tls.Config{RootCAs: getHookCert(t).pool, MinVersion: tls.VersionTLS12}
}

// hookServer is an HTTPS server on 127.0.0.2 with a recording twin
// listener on 127.0.0.1 at the same port.
type hookServer struct {
	*httptest.Server
	port     uint16
	requests atomic.Int64 // requests the server handled
	twin     *recordingListener
}

// startHookServer starts an HTTPS server with HTTP/2 on 127.0.0.2 and binds the
// same port on 127.0.0.1, so that a connection to the forbidden address
// would reach the twin instead of failing unseen.
func startHookServer(t testing.TB, h http.Handler) *hookServer {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(hookAddr, 0).String())
		require.NoError(t, err)
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		twin, err := listenRecording(netip.AddrPortFrom(twinAddr, port))
		if err != nil {
			ln.Close() // the port is taken on 127.0.0.1; try another
			continue
		}
		t.Cleanup(twin.close)

		s := &hookServer{port: port, twin: twin}
		s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			h.ServeHTTP(w, r)
		}))
		s.Listener.Close()
		s.Listener = ln
		s.EnableHTTP2 = true
		s.TLS = &tls.Config{Certificates: []tls.Certificate{getHookCert(t).cert}}
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	t.Fatal("could not bind the same port on 127.0.0.2 and 127.0.0.1")
	return nil
}

// url returns an https URL for host at the server's port.
func (s *hookServer) url(host, path string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(int(s.port))) + path
}

// recordingListener accepts and counts connections and closes them.
type recordingListener struct {
	ln       net.Listener
	accepted atomic.Int64
	done     chan struct{}
}

func listenRecording(addr netip.AddrPort) (*recordingListener, error) {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	r := &recordingListener{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.accepted.Add(1)
			c.Close()
		}
	}()
	return r, nil
}

func (r *recordingListener) close() {
	r.ln.Close()
	<-r.done
}

// dialRecorder wraps a dialer's connect step and records every address it
// is asked to connect to.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []netip.AddrPort
}

func (r *dialRecorder) wrap(d *dialer) {
	next := d.dialAddr
	d.dialAddr = func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
		r.mu.Lock()
		r.addrs = append(r.addrs, addr)
		r.mu.Unlock()
		return next(ctx, network, addr)
	}
}

func (r *dialRecorder) dialed() []netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]netip.AddrPort(nil), r.addrs...)
}

func TestDialContextRejects(t *testing.T) {
	res := newSeqResolver(map[string][][]netip.Addr{
		"mixed.example.info":   {addrList("127.0.0.2", "127.0.0.1")},
		"private.example.info": {addrList("10.0.0.5")},
		"mapped.example.info":  {addrList("::ffff:127.0.0.1")},
	})
	v := newDeliveryValidator(t, res, Config{Ports: []uint16{443, 8443}})

	tests := []struct {
		name    string
		network string
		address string
		want    error
	}{
		{"loopback literal", "tcp", "127.0.0.1:443", ErrPrivateAddress},
		{"metadata literal", "tcp", "169.254.169.254:443", ErrPrivateAddress},
		{"mapped literal", "tcp", "[::ffff:127.0.0.1]:443", ErrPrivateAddress},
		{"one private answer", "tcp", "mixed.example.info:443", ErrPrivateAddress},
		{"private answer", "tcp", "private.example.info:443", ErrPrivateAddress},
		{"mapped answer", "tcp", "mapped.example.info:443", ErrPrivateAddress},
		{"localhost", "tcp", "localhost:443", ErrLocalhost},
		{"single label", "tcp", "redis:443", ErrSingleLabelHost},
		{"octal ipv4", "tcp", "0177.0.0.1:443", ErrIPLiteralNotCanonical},
		{"unknown name", "tcp", "nx.example.info:443", ErrDNSNotFound},
		{"port not listed", "tcp", "127.0.0.2:22", ErrPortNotAllowed},
		{"port out of range", "tcp", "127.0.0.2:65536", ErrPortNotAllowed},
		{"no port", "tcp", "127.0.0.2", ErrInvalidHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := v.newDialer(0, 0)
			var rec dialRecorder
			rec.wrap(d)

			conn, err := d.DialContext(t.Context(), tt.network, tt.address)

			require.Error(t, err, "DialContext(%q) = %v; want error", tt.address, conn)
			assert.ErrorIs(t, err, tt.want, "DialContext(%q) = %v; want %v", tt.address, err, tt.want)
			_, ok := errors.AsType[*Error](err)
			assert.True(t, ok, "DialContext(%q) = %T; want *Error", tt.address, err)
			assert.Empty(t, rec.dialed(), "DialContext(%q) connected before rejecting", tt.address)
		})
	}
}

func TestDialContextNetwork(t *testing.T) {
	v := newDeliveryValidator(t, newSeqResolver(nil), Config{})

	for _, network := range []string{"udp", "unix", "ip4:icmp"} {
		t.Run(network, func(t *testing.T) {
			_, err := v.DialContext(t.Context(), network, "127.0.0.2:443")

			var unknown net.UnknownNetworkError
			assert.ErrorAs(t, err, &unknown, "DialContext(%q) = %v; want UnknownNetworkError", network, err)
		})
	}
}

func TestDialContextNilContext(t *testing.T) {
	v := newDeliveryValidator(t, newSeqResolver(nil), Config{})
	var ctx context.Context // nil, as a careless caller might pass

	for _, address := range []string{"127.0.0.2:443", "hooks.example.info:443"} {
		t.Run(address, func(t *testing.T) {
			var err error
			assert.NotPanics(t, func() { _, err = v.DialContext(ctx, "tcp", address) }, "DialContext(nil, %q)", address)
			assert.ErrorIs(t, err, errNilContext, "DialContext(nil, %q) = %v; want %v", address, err, errNilContext)
		})
	}
}

func TestDialContextFamily(t *testing.T) {
	res := newSeqResolver(map[string][][]netip.Addr{"v4.example.info": {addrList("127.0.0.2")}})
	v := newDeliveryValidator(t, res, Config{})

	_, err := v.DialContext(t.Context(), "tcp6", "v4.example.info:443")

	var addrErr *net.AddrError
	assert.ErrorAs(t, err, &addrErr, "DialContext(tcp6, v4 only) = %v; want *net.AddrError", err)
}

func TestDialContextConnects(t *testing.T) {
	s := startHookServer(t, http.NotFoundHandler())
	res := newSeqResolver(map[string][][]netip.Addr{"hooks.example.info": {addrList("127.0.0.2")}})
	v := newDeliveryValidator(t, res, Config{})

	for _, host := range []string{"hooks.example.info", "127.0.0.2"} {
		t.Run(host, func(t *testing.T) {
			address := net.JoinHostPort(host, strconv.Itoa(int(s.port)))

			conn, err := v.DialContext(t.Context(), "tcp", address)

			require.NoError(t, err, "DialContext(%q)", address)
			defer conn.Close()
			assert.Equal(t, netip.AddrPortFrom(hookAddr, s.port).String(), conn.RemoteAddr().String(),
				"DialContext(%q) connected to %v", address, conn.RemoteAddr())
		})
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestControlContextRejects(t *testing.T) {
	s := startHookServer(t, http.NotFoundHandler())
	v := newDeliveryValidator(t, newSeqResolver(nil), Config{})
	v443 := newDeliveryValidator(t, newSeqResolver(nil), Config{Ports: []uint16{443}})

	tests := []struct {
		name    string
		v       *Validator
		address netip.AddrPort
		want    error
	}{
		{"forbidden address", v, netip.AddrPortFrom(twinAddr, s.port), ErrPrivateAddress},
		{"forbidden port", v443, netip.AddrPortFrom(hookAddr, s.port), ErrPortNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A dial path of the caller's own, so only the connect-time
			// check can reject the address.
			d := net.Dialer{ControlContext: tt.v.ControlContext}

			conn, err := d.DialContext(t.Context(), "tcp", tt.address.String())

			require.Error(t, err, "DialContext(%v) = %v; want error", tt.address, conn)
			assert.ErrorIs(t, err, tt.want, "DialContext(%v) = %v; want %v", tt.address, err, tt.want)
			e, ok := errors.AsType[*Error](err)
			require.True(t, ok, "DialContext(%v) = %T; want *Error in the chain", tt.address, err)
			assert.Equal(t, tt.want, sentinels[e.Reason], "DialContext(%v) reason = %v", tt.address, e.Reason)
		})
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
	assert.Zero(t, s.requests.Load(), "requests to the server")
}

func TestDialContextControlCatchesBypass(t *testing.T) {
	s := startHookServer(t, http.NotFoundHandler())
	res := newSeqResolver(map[string][][]netip.Addr{"hooks.example.info": {addrList("127.0.0.2")}})
	v := newDeliveryValidator(t, res, Config{})

	// A connect step that ignores the checked address and goes to
	// 127.0.0.1, as a dial function that resolved the name again might.
	d := v.newDialer(0, 0)
	d.dialAddr = func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
		return d.net.DialContext(ctx, network, netip.AddrPortFrom(twinAddr, addr.Port()).String())
	}
	address := net.JoinHostPort("hooks.example.info", strconv.Itoa(int(s.port)))

	_, err := d.DialContext(t.Context(), "tcp", address)

	assert.ErrorIs(t, err, ErrPrivateAddress, "DialContext(%q) = %v; want %v", address, err, ErrPrivateAddress)
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestInterleave(t *testing.T) {
	tests := []struct {
		name string
		in   []netip.Addr
		want []netip.Addr
	}{
		{"empty", nil, nil},
		{"one", addrList("192.0.2.1"), addrList("192.0.2.1")},
		{"v6 first", addrList("2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2", "192.0.2.3"),
			addrList("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3")},
		{"v4 first", addrList("192.0.2.1", "192.0.2.2", "2001:db8::1"),
			addrList("192.0.2.1", "2001:db8::1", "192.0.2.2")},
		{"v4 only", addrList("192.0.2.1", "192.0.2.2"), addrList("192.0.2.1", "192.0.2.2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := interleave(tt.in)
			assert.Equal(t, tt.want, got, "interleave(%v) = %v; want %v", tt.in, got, tt.want)
		})
	}
}

// fakeConn is a connection that records whether it was closed.
type fakeConn struct {
	net.Conn
	addr   netip.AddrPort
	closed atomic.Bool
}

func (c *fakeConn) Close() error {
	c.closed.Store(true)
	return nil
}

// fakeAttempt is how a fake connect to one address behaves.
type fakeAttempt struct {
	delay time.Duration
	err   error
}

// fakeConnector replaces a dialer's connect step. It never opens a socket,
// and it returns its connection even after the context ends, as a connect
// that completes in the same instant as the cancellation would.
type fakeConnector struct {
	attempts map[netip.Addr]fakeAttempt
	mu       sync.Mutex
	started  []netip.Addr
	conns    []*fakeConn
}

func (f *fakeConnector) install(d *dialer) {
	d.dialAddr = func(_ context.Context, _ string, addr netip.AddrPort) (net.Conn, error) {
		f.mu.Lock()
		f.started = append(f.started, addr.Addr())
		f.mu.Unlock()

		a := f.attempts[addr.Addr()]
		time.Sleep(a.delay)
		if a.err != nil {
			return nil, a.err
		}
		c := &fakeConn{addr: addr}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		return c, nil
	}
}

func (f *fakeConnector) allConns() []*fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeConn(nil), f.conns...)
}

func TestDialParallel(t *testing.T) {
	// The fake connector never opens a socket; the addresses are loopback
	// all the same. ::1 and 127.0.0.3 are allowed for this test only.
	v6, v4 := netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.3")
	res := newSeqResolver(map[string][][]netip.Addr{"dual.example.info": {{v6, v4}}})
	v := newDeliveryValidator(t, res, Config{Allow: []netip.Prefix{
		netip.PrefixFrom(v6, 128), netip.PrefixFrom(v4, 32),
	}})
	refused := errors.New("connection refused")

	tests := []struct {
		name     string
		attempts map[netip.Addr]fakeAttempt
		winner   netip.Addr // zero when every attempt fails
		wantErr  error
	}{
		{"first answers", map[netip.Addr]fakeAttempt{v6: {}, v4: {}}, v6, nil},
		{"slow first loses", map[netip.Addr]fakeAttempt{v6: {delay: 2 * time.Second}, v4: {}}, v4, nil},
		{"failed first falls back", map[netip.Addr]fakeAttempt{v6: {err: refused}, v4: {}}, v4, nil},
		{"all fail", map[netip.Addr]fakeAttempt{v6: {err: refused}, v4: {err: errors.New("timeout")}}, netip.Addr{}, refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Long enough that the first attempt of "first answers"
			// returns before the timer, even on a loaded machine.
			d := v.newDialer(0, 200*time.Millisecond)
			f := &fakeConnector{attempts: tt.attempts}
			f.install(d)

			conn, err := d.DialContext(t.Context(), "tcp", "dual.example.info:443")

			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr, "DialContext = %v; want %v", err, tt.wantErr)
				return
			}
			require.NoError(t, err, "DialContext")
			got := conn.(*fakeConn)
			assert.Equal(t, tt.winner, got.addr.Addr(), "winner = %v; want %v", got.addr.Addr(), tt.winner)
			assert.False(t, got.closed.Load(), "winner %v was closed", got.addr)

			// Every other connection is closed, including the one that
			// completes after the winner.
			require.Eventually(t, func() bool {
				for _, c := range f.allConns() {
					if c != got && !c.closed.Load() {
						return false
					}
				}
				return true
			}, 5*time.Second, 10*time.Millisecond, "a losing connection stayed open")
		})
	}
}

func TestDialParallelFailureStartsNext(t *testing.T) {
	v6, v4 := netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.3")
	res := newSeqResolver(map[string][][]netip.Addr{"dual.example.info": {{v6, v4}}})
	v := newDeliveryValidator(t, res, Config{Allow: []netip.Prefix{
		netip.PrefixFrom(v6, 128), netip.PrefixFrom(v4, 32),
	}})

	// With a fallback delay of a minute, the second attempt can only have
	// started because the first one failed.
	d := v.newDialer(0, time.Minute)
	f := &fakeConnector{attempts: map[netip.Addr]fakeAttempt{v6: {err: errors.New("refused")}, v4: {}}}
	f.install(d)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	conn, err := d.DialContext(ctx, "tcp", "dual.example.info:443")

	require.NoError(t, err, "DialContext")
	assert.Equal(t, v4, conn.(*fakeConn).addr.Addr(), "winner")
}

func TestDialContextRejectsBracketedName(t *testing.T) {
	v, err := New(Config{Resolver: hookResolver(), Allow: []netip.Prefix{netip.PrefixFrom(hookAddr, 32)}})
	require.NoError(t, err)
	for _, address := range []string{"[hooks.example.info]:443", "[127.0.0.2]:443"} {
		_, err := v.DialContext(context.Background(), "tcp", address)
		assert.ErrorIs(t, err, ErrInvalidHost, "DialContext(%q)", address)
	}
}
