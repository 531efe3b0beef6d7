package webhookurl

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fintoro/webhookurl/webhookurltest"
)

func newTestDeliverer(t *testing.T, v *Validator, opts ClientOptions) *Deliverer {
	t.Helper()
	opts.Transport.TLSConfig = hookClientTLS(t)
	d := v.NewDeliverer(opts)
	t.Cleanup(d.CloseIdleConnections)
	return d
}

func TestDeliverSendsPost(t *testing.T) {
	type received struct {
		method, path, body, signature, contentType string
	}
	got := make(chan received, 1)
	s := startHookServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.URL.RequestURI(), string(body), r.Header.Get("X-Signature"), r.Header.Get("Content-Type")}
		w.WriteHeader(http.StatusAccepted)
	}))
	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	header := http.Header{"Content-Type": {"application/json"}, "X-Signature": {"t=1,v1=abc"}}

	resp, err := d.Deliver(t.Context(), s.url("hooks.example.info", "/hook?id=7"), []byte(`{"event":"paid"}`), header)

	require.NoError(t, err, "Deliver")
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "status")
	r := <-got
	assert.Equal(t, http.MethodPost, r.method, "method")
	assert.Equal(t, "/hook?id=7", r.path, "path")
	assert.Equal(t, `{"event":"paid"}`, r.body, "body")
	assert.Equal(t, "t=1,v1=abc", r.signature, "X-Signature")
	assert.Equal(t, "application/json", r.contentType, "Content-Type")
}

// deliverMany delivers n times, closing idle connections after each, so
// that every delivery resolves and dials again. It returns the number of
// successes and the errors.
func deliverMany(t *testing.T, d *Deliverer, url string, n int) (int, []error) {
	t.Helper()
	ok := 0
	var errs []error
	for range n {
		resp, err := d.Deliver(t.Context(), url, []byte("{}"), nil)
		if err != nil {
			errs = append(errs, err)
		} else {
			resp.Body.Close()
			ok++
		}
		d.CloseIdleConnections()
	}
	return ok, errs
}

func TestDeliverRebinding(t *testing.T) {
	// The name passes when it is stored, then resolves to 127.0.0.2 and
	// 127.0.0.1 in turn. The twin listener on 127.0.0.1 shares the
	// server's port, so any dial to the rebound address would be counted
	// there.
	s := startHookServer(t, okHandler())
	res := newSeqResolver(map[string][][]netip.Addr{
		"rebind.example.info": {addrList("127.0.0.2"), addrList("127.0.0.1")},
	})
	v := newDeliveryValidator(t, res, Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	url := s.url("rebind.example.info", "/")

	ok, errs := deliverMany(t, d, url, 50)

	assert.Equal(t, 25, ok, "deliveries to 127.0.0.2")
	assert.Len(t, errs, 25, "deliveries rejected")
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrPrivateAddress, "Deliver(%q) = %v; want %v", url, err, ErrPrivateAddress)
		de, isDelivery := errors.AsType[*DeliveryError](err)
		require.True(t, isDelivery, "Deliver(%q) = %T; want *DeliveryError", url, err)
		assert.Equal(t, StageAddress, de.Stage, "Deliver(%q) stage", url)
	}
	assert.Equal(t, int64(25), s.requests.Load(), "requests to the server")
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestDeliverRebindingDNS(t *testing.T) {
	// The same attack through the built-in resolver and a DNS server whose
	// answers have a TTL of 0 and alternate on every query. The cache is
	// off, because it would hold the first answer for its minimum TTL and
	// so hide the rebinding from the dialer.
	s := startHookServer(t, okHandler())
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{})
	const n = 20
	answers := make([][]webhookurltest.Record, n)
	for i := range answers {
		ip := "127.0.0.2"
		if i%2 == 1 {
			ip = "127.0.0.1"
		}
		answers[i] = []webhookurltest.Record{webhookurltest.A(ip).WithTTL(0)}
	}
	dnsServer.SetSequence("rebind.example.info", answers...)
	v, err := New(Config{
		DNS: DNSConfig{
			Nameservers:  []string{dnsServer.Addr()},
			QueryTimeout: 2 * time.Second,
			DisableCache: true,
		},
		Allow: []netip.Prefix{netip.PrefixFrom(hookAddr, 32)},
	})
	require.NoError(t, err)
	d := newTestDeliverer(t, v, ClientOptions{})
	url := s.url("rebind.example.info", "/")

	ok, errs := deliverMany(t, d, url, n)

	// The split is not exactly half: a query retried after a lost UDP
	// reply moves the sequence on by one more answer.
	assert.Positive(t, ok, "deliveries to 127.0.0.2")
	assert.NotEmpty(t, errs, "deliveries rejected")
	assert.Equal(t, int64(ok), s.requests.Load(), "requests to the server")
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrPrivateAddress, "Deliver(%q) = %v; want %v", url, err, ErrPrivateAddress)
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestDeliverMixedAnswer(t *testing.T) {
	s := startHookServer(t, okHandler())
	for _, answer := range [][]netip.Addr{addrList("127.0.0.2", "127.0.0.1"), addrList("127.0.0.1", "127.0.0.2")} {
		t.Run(answer[0].String()+" first", func(t *testing.T) {
			res := newSeqResolver(map[string][][]netip.Addr{"mixed.example.info": {answer}})
			v := newDeliveryValidator(t, res, Config{})
			d := newTestDeliverer(t, v, ClientOptions{})
			url := s.url("mixed.example.info", "/")

			_, err := d.Deliver(t.Context(), url, nil, nil)

			assert.ErrorIs(t, err, ErrPrivateAddress, "Deliver(%q) = %v; want %v", url, err, ErrPrivateAddress)
			e, ok := errors.AsType[*Error](err)
			require.True(t, ok, "Deliver(%q) = %T; want *Error in the chain", url, err)
			assert.Equal(t, twinAddr, e.Addr, "Error.Addr")
		})
	}
	assert.Zero(t, s.requests.Load(), "requests to the server")
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestDeliverStages(t *testing.T) {
	s := startHookServer(t, okHandler())

	// A port on 127.0.0.2 with nothing listening.
	ln, err := net.Listen("tcp", netip.AddrPortFrom(hookAddr, 0).String())
	require.NoError(t, err)
	closedPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	port := strconv.Itoa(int(s.port))

	tests := []struct {
		name      string
		url       string
		stage     Stage
		sentinel  error // nil for StageNetwork
		wantTyped bool
	}{
		{"http scheme", "http://hooks.example.info:" + port + "/", StageURL, ErrSchemeNotHTTPS, true},
		{"userinfo", "https://a@hooks.example.info:" + port + "/", StageURL, ErrUserinfo, true},
		{"localhost", "https://localhost:" + port + "/", StageURL, ErrLocalhost, true},
		{"private literal", "https://10.0.0.5/", StageAddress, ErrPrivateAddress, true},
		{"loopback literal", "https://127.0.0.1:" + port + "/", StageAddress, ErrPrivateAddress, true},
		{"private name", "https://private.example.info:" + port + "/", StageAddress, ErrPrivateAddress, true},
		{"unknown name", "https://nx.example.info/", StageDNS, ErrDNSNotFound, true},
		{"connection refused", "https://hooks.example.info:" + closedPort + "/", StageNetwork, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Deliver(t.Context(), tt.url, nil, nil)

			de, ok := errors.AsType[*DeliveryError](err)
			require.True(t, ok, "Deliver(%q) = %v (%T); want *DeliveryError", tt.url, err, err)
			assert.Equal(t, tt.stage, de.Stage, "Deliver(%q) stage = %v; want %v", tt.url, de.Stage, tt.stage)
			assert.Equal(t, tt.url, de.URL, "Deliver(%q) DeliveryError.URL", tt.url)
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel, "Deliver(%q) = %v; want %v", tt.url, err, tt.sentinel)
			}
			_, typed := errors.AsType[*Error](err)
			assert.Equal(t, tt.wantTyped, typed, "Deliver(%q) = %v; *Error in the chain", tt.url, err)
		})
	}
	assert.Zero(t, s.requests.Load(), "requests to the server")
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestDeliverRedirectStage(t *testing.T) {
	targets := map[string]redirect{}
	s := redirectServer(t, targets)
	for _, c := range redirectCases(s.port) {
		targets[c.path] = c.rd
	}
	v := newDeliveryValidator(t, hookResolver(), Config{})

	for _, c := range redirectCases(s.port) {
		t.Run(c.path, func(t *testing.T) {
			tr, dl := v.newTransport(TransportOptions{TLSConfig: hookClientTLS(t)})
			var rec dialRecorder
			rec.wrap(dl)
			d := &Deliverer{v: v, client: v.newClient(ClientOptions{MaxRedirects: 3}, tr)}
			t.Cleanup(d.CloseIdleConnections)
			url := s.url("hooks.example.info", c.path)

			_, err := d.Deliver(t.Context(), url, []byte("{}"), nil)

			de, ok := errors.AsType[*DeliveryError](err)
			require.True(t, ok, "Deliver(%q) = %v (%T); want *DeliveryError", url, err, err)
			assert.Equal(t, StageRedirect, de.Stage, "Deliver(%q) stage", url)
			assert.ErrorIs(t, err, c.want, "Deliver(%q) = %v; want %v", url, err, c.want)
			want := []netip.AddrPort{netip.AddrPortFrom(hookAddr, s.port)}
			assert.Equal(t, want, rec.dialed(), "Deliver(%q) dialed", url)
		})
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestDeliverRedirectNotFollowed(t *testing.T) {
	targets := map[string]redirect{}
	s := redirectServer(t, targets)
	targets["/r/metadata"] = redirect{http.StatusFound, "http://169.254.169.254/latest/meta-data/"}
	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	url := s.url("hooks.example.info", "/r/metadata")

	resp, err := d.Deliver(t.Context(), url, []byte("{}"), nil)

	require.NoError(t, err, "Deliver(%q)", url)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode, "Deliver(%q) status", url)
	assert.Equal(t, int64(1), s.requests.Load(), "requests to the server")
}

func TestDeliverSilentServer(t *testing.T) {
	s := startSilentServer(t)
	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{Transport: TransportOptions{ResponseHeaderTimeout: 200 * time.Millisecond}})
	url := s.url("hooks.example.info", "/")

	start := time.Now()
	_, err := d.Deliver(t.Context(), url, []byte("{}"), nil)
	elapsed := time.Since(start)

	de, ok := errors.AsType[*DeliveryError](err)
	require.True(t, ok, "Deliver(%q) = %v (%T); want *DeliveryError", url, err, err)
	assert.Equal(t, StageNetwork, de.Stage, "Deliver(%q) stage", url)
	var netErr net.Error
	require.ErrorAs(t, err, &netErr, "Deliver(%q) = %v; want net.Error", url, err)
	assert.True(t, netErr.Timeout(), "Deliver(%q) = %v; want a timeout", url, err)
	assert.Less(t, elapsed, 5*time.Second, "Deliver(%q) took %v", url, elapsed)
}

func TestDeliverContextCanceled(t *testing.T) {
	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := d.Deliver(ctx, "https://hooks.example.info/", []byte("{}"), nil)

	assert.ErrorIs(t, err, context.Canceled, "Deliver with a canceled context = %v", err)
	_, ok := errors.AsType[*DeliveryError](err)
	assert.True(t, ok, "Deliver with a canceled context = %T; want *DeliveryError", err)
}

func TestDeliverNilContext(t *testing.T) {
	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	var ctx context.Context // nil, as a careless caller might pass

	var err error
	assert.NotPanics(t, func() { _, err = d.Deliver(ctx, "https://hooks.example.info/", nil, nil) }, "Deliver(nil, ...)")

	assert.ErrorIs(t, err, errNilContext, "Deliver(nil, ...) = %v; want %v", err, errNilContext)
}

func TestDeliverConcurrent(t *testing.T) {
	s := startHookServer(t, okHandler())
	v := newDeliveryValidator(t, hookResolver(), Config{})
	d := newTestDeliverer(t, v, ClientOptions{})
	url := s.url("hooks.example.info", "/")

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			resp, err := d.Deliver(t.Context(), url, []byte("{}"), nil)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		assert.NoError(t, err, "Deliver(%q)", url)
	}
	assert.Equal(t, int64(20), s.requests.Load(), "requests to the server")
}

func TestDeliveryErrorMessage(t *testing.T) {
	inner := &Error{Reason: ReasonPrivateAddress, Value: "hooks.example.info", Resolved: true}
	err := &DeliveryError{Stage: StageAddress, URL: "https://hooks.example.info/", Err: inner}

	want := `webhookurl: delivery to "https://hooks.example.info/" failed at the address stage: ` + inner.Message()
	assert.Equal(t, want, err.Error(), "DeliveryError.Error()")
	assert.ErrorIs(t, err, ErrPrivateAddress, "errors.Is(%v, ErrPrivateAddress)", err)
	assert.Same(t, inner, errors.Unwrap(err), "DeliveryError.Unwrap()")
}

func TestDeliverRedirectRebindsAfterCheck(t *testing.T) {
	// The redirect target resolves to 127.0.0.2 when CheckRedirect
	// validates it and to 127.0.0.1 when the dialer resolves it, so only
	// the dial-time check can stop it.
	targets := map[string]redirect{}
	s := redirectServer(t, targets)
	targets["/r/rebind"] = redirect{http.StatusTemporaryRedirect, s.url("rebind.example.info", "/final")}
	res := newSeqResolver(map[string][][]netip.Addr{
		"hooks.example.info":  {addrList("127.0.0.2")},
		"rebind.example.info": {addrList("127.0.0.2"), addrList("127.0.0.1")},
	})
	v := newDeliveryValidator(t, res, Config{})
	d := newTestDeliverer(t, v, ClientOptions{MaxRedirects: 1})
	url := s.url("hooks.example.info", "/r/rebind")

	_, err := d.Deliver(t.Context(), url, []byte("{}"), nil)

	de, ok := errors.AsType[*DeliveryError](err)
	require.True(t, ok, "Deliver(%q) = %v (%T); want *DeliveryError", url, err, err)
	assert.Equal(t, StageAddress, de.Stage, "Deliver(%q) stage", url)
	assert.ErrorIs(t, err, ErrPrivateAddress, "Deliver(%q) = %v; want %v", url, err, ErrPrivateAddress)
	assert.Equal(t, 2, res.lookups("rebind.example.info"), "lookups of the redirect target")
	assert.Equal(t, int64(1), s.requests.Load(), "requests to the server")
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}
