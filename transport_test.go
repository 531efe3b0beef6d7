package webhookurl

import (
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookResolver maps the test names to the test server's address.
func hookResolver() *seqResolver {
	return newSeqResolver(map[string][][]netip.Addr{
		"hooks.example.info":   {addrList("127.0.0.2")},
		"hooks.example.net":    {addrList("127.0.0.2")},
		"private.example.info": {addrList("10.0.0.5")},
	})
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})
}

func TestTransportDelivers(t *testing.T) {
	s := startHookServer(t, okHandler())
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := &http.Client{Transport: v.Transport(TransportOptions{TLSConfig: hookClientTLS(t)})}

	for _, host := range []string{"hooks.example.info", "127.0.0.2"} {
		t.Run(host, func(t *testing.T) {
			resp, err := client.Get(s.url(host, "/"))

			require.NoError(t, err, "Get(%q)", s.url(host, "/"))
			defer resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "status")
			assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 was not negotiated: %s", resp.Proto)
		})
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestTransportVerifiesURLHost(t *testing.T) {
	// The certificate covers *.example.info and 127.0.0.2, not
	// hooks.example.net. A handshake that verified the dialed address
	// instead of the URL's host would accept it.
	s := startHookServer(t, okHandler())
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := &http.Client{Transport: v.Transport(TransportOptions{TLSConfig: hookClientTLS(t)})}

	_, err := client.Get(s.url("hooks.example.net", "/"))

	var hostErr x509.HostnameError
	assert.ErrorAs(t, err, &hostErr, "Get(hooks.example.net) = %v; want x509.HostnameError", err)
	assert.Zero(t, s.requests.Load(), "requests to the server")
}

func TestTransportTLSServerNameCleared(t *testing.T) {
	v := newDeliveryValidator(t, hookResolver(), Config{})
	cfg := hookClientTLS(t)
	cfg.ServerName = "hooks.example.info"

	tr := v.Transport(TransportOptions{TLSConfig: cfg})

	assert.Empty(t, tr.TLSClientConfig.ServerName, "TLSClientConfig.ServerName")
	assert.Equal(t, "hooks.example.info", cfg.ServerName, "the caller's TLSConfig was modified")
}

func TestTransportDefaults(t *testing.T) {
	v := newDeliveryValidator(t, hookResolver(), Config{})

	tr := v.Transport(TransportOptions{})

	assert.Nil(t, tr.Proxy, "Proxy")
	assert.True(t, tr.ForceAttemptHTTP2, "ForceAttemptHTTP2")
	assert.Equal(t, DefaultTLSHandshakeTimeout, tr.TLSHandshakeTimeout, "TLSHandshakeTimeout")
	assert.Equal(t, DefaultResponseHeaderTimeout, tr.ResponseHeaderTimeout, "ResponseHeaderTimeout")
	assert.Equal(t, DefaultIdleConnTimeout, tr.IdleConnTimeout, "IdleConnTimeout")
	assert.Nil(t, tr.DialTLSContext, "DialTLSContext")
}

// recordingProxy is a plain HTTP server on 127.0.0.1 that records every
// request, CONNECT included, and rejects it with 403.
type recordingProxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func startRecordingProxy(t *testing.T) *recordingProxy {
	t.Helper()
	p := &recordingProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.Host)
		p.mu.Unlock()
		http.Error(w, "recording proxy", http.StatusForbidden)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func TestTransportIgnoresProxyEnv(t *testing.T) {
	s := startHookServer(t, okHandler())
	proxy := startRecordingProxy(t)
	for _, name := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
		t.Setenv(name, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := v.Client(ClientOptions{Transport: TransportOptions{TLSConfig: hookClientTLS(t)}})

	resp, err := client.Get(s.url("hooks.example.info", "/"))
	require.NoError(t, err, "Get with proxy variables set")
	resp.Body.Close()

	// HTTP_PROXY would carry a plain-text request. The server speaks only
	// TLS and rejects it with 400, which shows it arrived there directly.
	plainResp, err := client.Transport.RoundTrip(httptestRequest(t, "http://"+netip.AddrPortFrom(hookAddr, s.port).String()+"/"))
	require.NoError(t, err, "plain-text request with proxy variables set")
	plainResp.Body.Close()

	assert.Equal(t, http.StatusOK, resp.StatusCode, "status")
	assert.Equal(t, http.StatusBadRequest, plainResp.StatusCode, "plain-text request status")
	assert.Empty(t, proxy.seen(), "requests the proxy received")
}

func httptestRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	return req
}

func TestTransportProxyOption(t *testing.T) {
	s := startHookServer(t, okHandler())
	proxy := startRecordingProxy(t)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := v.Client(ClientOptions{Transport: TransportOptions{TLSConfig: hookClientTLS(t), Proxy: proxyURL}})
	target := s.url("hooks.example.info", "/")

	_, err = client.Get(target)

	// The recording proxy rejects the CONNECT, so the request fails after
	// the proxy, on 127.0.0.1, was reached.
	require.Error(t, err, "Get(%q) through the recording proxy", target)
	u, _ := url.Parse(target)
	assert.Equal(t, []string{"CONNECT " + u.Host}, proxy.seen(), "requests the proxy received")
	assert.Zero(t, s.requests.Load(), "requests to the server")
}

func TestTransportRejectsForbiddenLiteral(t *testing.T) {
	s := startHookServer(t, okHandler())
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := &http.Client{Transport: v.Transport(TransportOptions{TLSConfig: hookClientTLS(t)})}
	target := s.url("127.0.0.1", "/")

	_, err := client.Get(target)

	assert.ErrorIs(t, err, ErrPrivateAddress, "Get(%q) = %v; want %v", target, err, ErrPrivateAddress)
	_, ok := errors.AsType[*Error](err)
	assert.True(t, ok, "Get(%q) = %T; want *Error in the chain", target, err)
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestTransportControlSurvivesWrapping(t *testing.T) {
	s := startHookServer(t, okHandler())
	v := newDeliveryValidator(t, hookResolver(), Config{})

	// A transport whose dial function skips DialContext, as a caller's own
	// might, but keeps the connect-time check.
	tr := v.Transport(TransportOptions{TLSConfig: hookClientTLS(t)})
	tr.DialContext = (&net.Dialer{ControlContext: v.ControlContext}).DialContext
	client := &http.Client{Transport: tr}
	target := s.url("127.0.0.1", "/")

	_, err := client.Get(target)

	assert.ErrorIs(t, err, ErrPrivateAddress, "Get(%q) = %v; want %v", target, err, ErrPrivateAddress)
	e, ok := errors.AsType[*Error](err)
	require.True(t, ok, "Get(%q) = %T; want *Error in the chain", target, err)
	assert.Equal(t, twinAddr, e.Addr, "Error.Addr")
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestTransportResponseHeaderTimeout(t *testing.T) {
	s := startSilentServer(t)
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := &http.Client{Transport: v.Transport(TransportOptions{
		TLSConfig:             hookClientTLS(t),
		ResponseHeaderTimeout: 200 * time.Millisecond,
	})}

	start := time.Now()
	_, err := client.Get(s.url("hooks.example.info", "/"))
	elapsed := time.Since(start)

	var netErr net.Error
	require.ErrorAs(t, err, &netErr, "Get to a silent server = %v; want net.Error", err)
	assert.True(t, netErr.Timeout(), "Get to a silent server = %v; want a timeout", err)
	assert.Less(t, elapsed, 5*time.Second, "Get to a silent server took %v", elapsed)
}

func TestTransportTLSHandshakeTimeout(t *testing.T) {
	// A listener that accepts and then sends nothing, so the handshake
	// never completes.
	ln, err := net.Listen("tcp", netip.AddrPortFrom(hookAddr, 0).String())
	require.NoError(t, err)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				io.Copy(io.Discard, c)
				c.Close()
			})
		}
	})
	v := newDeliveryValidator(t, hookResolver(), Config{})
	tr := v.Transport(TransportOptions{TLSConfig: hookClientTLS(t), TLSHandshakeTimeout: 200 * time.Millisecond})
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	target := "https://hooks.example.info:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/"

	start := time.Now()
	_, err = client.Get(target)
	elapsed := time.Since(start)

	var netErr net.Error
	require.ErrorAs(t, err, &netErr, "Get(%q) = %v; want net.Error", target, err)
	assert.True(t, netErr.Timeout(), "Get(%q) = %v; want a timeout", target, err)
	assert.Less(t, elapsed, 5*time.Second, "Get(%q) took %v", target, elapsed)
}

// redirectServer redirects each /r/ path to a target and responds 200 on
// every other path.
func redirectServer(t *testing.T, targets map[string]redirect) *hookServer {
	return startHookServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rd, ok := targets[r.URL.Path]; ok {
			// Set the header directly, because http.Redirect would
			// escape the target.
			w.Header().Set("Location", rd.location)
			w.WriteHeader(rd.status)
			return
		}
		io.WriteString(w, "final")
	}))
}

type redirect struct {
	status   int
	location string
}

// redirectCases returns the redirects an endpoint can use to point a
// delivery somewhere else, and the sentinel each one is rejected with.
// No case is ever dialed: the rejection comes first.
func redirectCases(port uint16) []struct {
	path string
	rd   redirect
	want error
} {
	p := strconv.Itoa(int(port))
	return []struct {
		path string
		rd   redirect
		want error
	}{
		{"/r/metadata", redirect{http.StatusFound, "http://169.254.169.254/latest/meta-data/"}, ErrSchemeNotHTTPS},
		{"/r/metadata-https", redirect{http.StatusFound, "https://169.254.169.254/latest/meta-data/"}, ErrPrivateAddress},
		{"/r/admin", redirect{http.StatusTemporaryRedirect, "https://10.0.0.5/admin"}, ErrPrivateAddress},
		{"/r/private-name", redirect{http.StatusFound, "https://private.example.info:" + p + "/x"}, ErrPrivateAddress},
		{"/r/loopback", redirect{http.StatusFound, "https://127.0.0.1:" + p + "/"}, ErrPrivateAddress},
		{"/r/http", redirect{http.StatusMovedPermanently, "http://hooks.example.info:" + p + "/"}, ErrSchemeNotHTTPS},
		{"/r/localhost", redirect{http.StatusFound, "https://localhost:" + p + "/"}, ErrLocalhost},
		{"/r/ideographic", redirect{http.StatusFound, "https://127\u30020\u30020\u30021:" + p + "/"}, ErrPrivateAddress},
		{"/r/userinfo", redirect{http.StatusFound, "https://hooks.example.info@127.0.0.1:" + p + "/"}, ErrUserinfo},
	}
}

func TestClientRedirects(t *testing.T) {
	// The port is known only after the server starts, so the table that
	// the handler reads is filled in afterwards.
	targets := map[string]redirect{}
	s := redirectServer(t, targets)
	cases := redirectCases(s.port)
	for _, c := range cases {
		targets[c.path] = c.rd
	}

	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			res := hookResolver()
			v := newDeliveryValidator(t, res, Config{})
			target := s.url("hooks.example.info", c.path)

			t.Run("default", func(t *testing.T) {
				client := v.Client(ClientOptions{Transport: TransportOptions{TLSConfig: hookClientTLS(t)}})

				resp, err := client.Get(target)

				require.NoError(t, err, "Get(%q)", target)
				resp.Body.Close()
				assert.Equal(t, c.rd.status, resp.StatusCode, "Get(%q) status", target)
				assert.Equal(t, c.rd.location, resp.Header.Get("Location"), "Get(%q) Location", target)
			})

			t.Run("follow", func(t *testing.T) {
				tr, d := v.newTransport(TransportOptions{TLSConfig: hookClientTLS(t)})
				var rec dialRecorder
				rec.wrap(d)
				client := v.newClient(ClientOptions{MaxRedirects: 5}, tr)

				_, err := client.Get(target)

				assert.ErrorIs(t, err, c.want, "Get(%q) = %v; want %v", target, err, c.want)
				_, ok := errors.AsType[*Error](err)
				assert.True(t, ok, "Get(%q) = %T; want *Error in the chain", target, err)
				assert.True(t, isRedirectError(err), "Get(%q) = %v; want a rejected redirect", target, err)
				// One connection, for the first request; the redirect
				// target is rejected before any dial.
				want := []netip.AddrPort{netip.AddrPortFrom(hookAddr, s.port)}
				assert.Equal(t, want, rec.dialed(), "Get(%q) dialed", target)
			})
		})
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestRedirectTarget(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"https://hooks.example.info/a?b=c", "https://hooks.example.info/a?b=c"},
		{"https://hooks.example.info/a#frag", "https://hooks.example.info/a"},
		{"https://hooks.example.info/a?", "https://hooks.example.info/a?"},
		{"https://127\u30020\u30020\u30021:8443/", "https://127\u30020\u30020\u30021:8443/"},
		{"https://user:pw@hooks.example.info/", "https://user:pw@hooks.example.info/"},
		{"https://hooks.example.info/a%2Fb", "https://hooks.example.info/a%2Fb"},
		{"https://hooks.example.info/a b", "https://hooks.example.info/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := url.Parse(tt.in)
			require.NoError(t, err, "url.Parse(%q)", tt.in)

			got := redirectTarget(u)

			assert.Equal(t, tt.want, got, "redirectTarget(%q) = %q; want %q", tt.in, got, tt.want)
		})
	}
}

func TestClientFollowsValidRedirect(t *testing.T) {
	targets := map[string]redirect{}
	s := redirectServer(t, targets)
	targets["/r/ok"] = redirect{http.StatusTemporaryRedirect, s.url("hooks.example.info", "/final")}
	targets["/r/fragment"] = redirect{http.StatusFound, s.url("hooks.example.info", "/final#section")}
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := v.Client(ClientOptions{MaxRedirects: 1, Transport: TransportOptions{TLSConfig: hookClientTLS(t)}})

	for _, path := range []string{"/r/ok", "/r/fragment"} {
		t.Run(path, func(t *testing.T) {
			target := s.url("hooks.example.info", path)

			resp, err := client.Get(target)

			require.NoError(t, err, "Get(%q)", target)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "Get(%q) status", target)
			assert.Equal(t, "final", string(body), "Get(%q) body", target)
		})
	}
}

func TestClientRedirectLimit(t *testing.T) {
	targets := map[string]redirect{}
	s := redirectServer(t, targets)
	targets["/r/loop"] = redirect{http.StatusFound, s.url("hooks.example.info", "/r/loop")}
	v := newDeliveryValidator(t, hookResolver(), Config{})
	client := v.Client(ClientOptions{MaxRedirects: 2, Transport: TransportOptions{TLSConfig: hookClientTLS(t)}})
	target := s.url("hooks.example.info", "/r/loop")

	resp, err := client.Get(target)

	require.NoError(t, err, "Get(%q)", target)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode, "Get(%q) status after the limit", target)
	assert.Equal(t, int64(3), s.requests.Load(), "requests: the first and two redirects")
}

func TestClientTimeoutOption(t *testing.T) {
	v := newDeliveryValidator(t, hookResolver(), Config{})

	tests := []struct {
		name string
		in   time.Duration
		want time.Duration
	}{
		{"zero", 0, DefaultClientTimeout},
		{"set", time.Second, time.Second},
		{"negative", -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Client(ClientOptions{Timeout: tt.in}).Timeout
			assert.Equal(t, tt.want, got, "Client(Timeout: %v).Timeout = %v; want %v", tt.in, got, tt.want)
		})
	}
}

// BenchmarkDeliveryOverhead compares the guarded transport with a plain
// http.Transport on the same loopback HTTPS server. Both reuse one
// kept-alive HTTP/2 connection, so the ratio shows what the guard costs a
// delivery once connected: the dial path runs only for new connections.
// The two run in alternation so that drift in the machine's speed affects
// both alike, and the ratio is of the median request times. The one
// per-request difference is ResponseHeaderTimeout, which the guarded
// transport sets and http.DefaultTransport does not: it arms a timer for
// every request.
func BenchmarkDeliveryOverhead(b *testing.B) {
	s := startHookServer(b, okHandler())
	v, err := New(Config{
		Resolver: hookResolver(),
		Allow:    []netip.Prefix{netip.PrefixFrom(hookAddr, 32)},
	})
	require.NoError(b, err)

	guarded := &http.Client{Transport: v.Transport(TransportOptions{TLSConfig: hookClientTLS(b)})}
	// A clone of the default transport, as a worker without this package
	// would use, with the test root trusted.
	plainTransport := http.DefaultTransport.(*http.Transport).Clone()
	plainTransport.TLSClientConfig = hookClientTLS(b)
	plain := &http.Client{Transport: plainTransport}
	b.Cleanup(guarded.CloseIdleConnections)
	b.Cleanup(plain.CloseIdleConnections)
	target := s.url("hooks.example.info", "/")
	resolved := s.url("127.0.0.2", "/") // the plain transport has no test resolver

	get := func(c *http.Client, u string) {
		resp, err := c.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get(guarded, target) // open the connections outside the timing
	get(plain, resolved)

	// Medians, not sums: on a shared machine one request in thousands
	// stalls for milliseconds, and a sum would charge it to whichever
	// transport was running.
	guardedTimes := make([]time.Duration, 0, b.N)
	plainTimes := make([]time.Duration, 0, b.N)
	timeGuarded := func() {
		start := time.Now()
		get(guarded, target)
		guardedTimes = append(guardedTimes, time.Since(start))
	}
	timePlain := func() {
		start := time.Now()
		get(plain, resolved)
		plainTimes = append(plainTimes, time.Since(start))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Swap the order on every iteration, so that neither transport
		// always runs right after the other.
		if i%2 == 0 {
			timeGuarded()
			timePlain()
		} else {
			timePlain()
			timeGuarded()
		}
	}
	b.StopTimer()

	guardedMedian, plainMedian := median(guardedTimes), median(plainTimes)
	b.ReportMetric(float64(guardedMedian.Nanoseconds()), "guarded-median-ns")
	b.ReportMetric(float64(plainMedian.Nanoseconds()), "plain-median-ns")
	b.ReportMetric(float64(guardedMedian)/float64(plainMedian), "ratio")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func TestProxyAddressDefaultPorts(t *testing.T) {
	tests := []struct{ proxy, want string }{
		{"http://proxy.example.info", "proxy.example.info:80"},
		{"https://proxy.example.info", "proxy.example.info:443"},
		{"socks5://proxy.example.info", "proxy.example.info:1080"},
		{"socks5h://proxy.example.info", "proxy.example.info:1080"},
		{"http://10.0.0.1:3128", "10.0.0.1:3128"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.proxy)
		require.NoError(t, err)
		assert.Equal(t, tt.want, proxyAddress(u), "proxyAddress(%q)", tt.proxy)
	}
}

// startSilentServer starts a hook server that accepts requests and never
// answers them until the test ends or the client gives up.
func startSilentServer(t *testing.T) *hookServer {
	t.Helper()
	release := make(chan struct{})
	s := startHookServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })
	return s
}
