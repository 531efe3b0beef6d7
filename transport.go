package webhookurl

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of TransportOptions and ClientOptions, used when the matching
// field is zero.
const (
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultClientTimeout         = 60 * time.Second
)

// TransportOptions configures Validator.Transport. The zero value is the
// recommended setting for a delivery worker.
type TransportOptions struct {
	// DialTimeout bounds one TCP connect to one address. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration

	// FallbackDelay is how long a connect attempt runs before the next
	// address is tried in parallel. Zero means DefaultFallbackDelay.
	FallbackDelay time.Duration

	// TLSHandshakeTimeout bounds the TLS handshake. Zero means
	// DefaultTLSHandshakeTimeout.
	TLSHandshakeTimeout time.Duration

	// ResponseHeaderTimeout bounds the wait for the response headers after
	// the request is written. Zero means DefaultResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration

	// IdleConnTimeout is how long an idle kept-alive connection stays
	// open. Zero means DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration

	// TLSConfig is cloned for the transport; nil means the system roots
	// and TLS 1.2 or later. Its ServerName is cleared, so that each
	// connection verifies the certificate against the host of its own URL.
	TLSConfig *tls.Config

	// Proxy is an egress proxy that every request goes through, for an
	// operator whose proxy enforces the same address policy. Nil, the
	// default, means no proxy: HTTPS_PROXY, HTTP_PROXY and NO_PROXY are
	// ignored, because a proxy dials the webhook's address itself and so
	// bypasses every check of this package. The proxy's own address is
	// dialed without the address policy, since it is usually private.
	Proxy *url.URL
}

// Transport returns an http.Transport that connects only to addresses that
// pass the Validator's policy: its DialContext is Validator.DialContext
// and its TLS handshake is done by net/http, which verifies the
// certificate against the host of the request URL. It ignores the proxy
// environment variables (see TransportOptions.Proxy) and attempts HTTP/2.
//
// The transport checks where it connects, not what URL it is asked for:
// a request for an http URL to a public host is sent in clear text. Use
// Client, which also judges redirects, or Validate each URL first.
// Build one transport per worker and reuse it, so that connections are
// kept alive.
func (v *Validator) Transport(opts TransportOptions) *http.Transport {
	t, _ := v.newTransport(opts)
	return t
}

// newTransport returns the transport and its dialer, which tests adjust.
func (v *Validator) newTransport(opts TransportOptions) (*http.Transport, *dialer) {
	d := v.newDialer(opts.DialTimeout, opts.FallbackDelay)

	var tlsConfig *tls.Config
	if opts.TLSConfig != nil {
		tlsConfig = opts.TLSConfig.Clone()
	} else {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// A fixed ServerName would be verified for every host, so that a
	// certificate for one customer would be accepted for another's URL.
	// Left empty, net/http sets it to the host of each request's URL.
	tlsConfig.ServerName = ""

	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   orDefault(opts.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: orDefault(opts.ResponseHeaderTimeout, DefaultResponseHeaderTimeout),
		IdleConnTimeout:       orDefault(opts.IdleConnTimeout, DefaultIdleConnTimeout),
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
	}
	if opts.Proxy != nil {
		t.Proxy = http.ProxyURL(opts.Proxy)
		d.proxy = proxyAddress(opts.Proxy)
	}
	return t, d
}

// proxyAddress returns the "host:port" that net/http dials for proxy.
func proxyAddress(proxy *url.URL) string {
	port := proxy.Port()
	if port == "" {
		// The defaults net/http uses for each proxy scheme.
		switch proxy.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(proxy.Hostname(), port)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ClientOptions configures Validator.Client.
type ClientOptions struct {
	// Transport configures the client's transport.
	Transport TransportOptions

	// MaxRedirects is how many redirects the client follows. Zero, the
	// default, follows none: a 3xx response is returned to the caller like
	// any other. Each redirect target must pass Validate, with the https
	// scheme, the host rules and the address policy, before it is dialed.
	// When the limit is reached, the next 3xx response is returned.
	MaxRedirects int

	// Timeout bounds a whole request, from dial to the end of the response
	// body. Zero means DefaultClientTimeout; a negative value means no
	// limit beyond the request's context and the transport's timeouts.
	Timeout time.Duration
}

// Client returns an http.Client on Validator.Transport that follows no
// redirect unless ClientOptions.MaxRedirects allows it. A redirect is where
// an endpoint that passed validation sends the delivery somewhere else,
// such as http://169.254.169.254/, so each followed redirect is validated
// as if it were a new webhook URL. A rejected redirect makes the request
// fail with an error that wraps the *Error, so errors.Is(err,
// ErrPrivateAddress) and errors.As work on it.
//
// As with any http.Client, a 301, 302 or 303 redirect turns a POST into a
// GET without a body. On a redirect to another domain, net/http (Go 1.26)
// drops only the Authorization, Cookie and proxy authentication headers,
// so a signature header reaches the new host.
func (v *Validator) Client(opts ClientOptions) *http.Client {
	t, _ := v.newTransport(opts.Transport)
	return v.newClient(opts, t)
}

func (v *Validator) newClient(opts ClientOptions, t http.RoundTripper) *http.Client {
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultClientTimeout
	case timeout < 0:
		timeout = 0
	}
	maxRedirects := opts.MaxRedirects
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return http.ErrUseLastResponse
			}
			target := redirectTarget(req.URL)
			if _, err := v.Validate(req.Context(), target); err != nil {
				return &redirectError{url: target, err: err.(*Error)}
			}
			return nil
		},
	}
}

// redirectTarget returns the URL that net/http is about to request, in the
// form Validate should judge. url.URL.String would percent-encode a
// non-ASCII host such as "127。0。0。1", which the host rules reject as
// percent-encoding rather than as the loopback address net/http dials.
// The fragment is left out because it is never sent.
func redirectTarget(u *url.URL) string {
	if u.Opaque != "" {
		return u.String()
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	b.WriteString(u.Host)
	b.WriteString(u.EscapedPath())
	if u.ForceQuery || u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	return b.String()
}

// redirectError is a redirect target that failed validation.
type redirectError struct {
	url string
	err *Error
}

func (e *redirectError) Error() string {
	return "webhookurl: redirect to " + quote(e.url) + " rejected: " + e.err.Message()
}

func (e *redirectError) Unwrap() error { return e.err }

// isRedirectError reports whether err is a rejected redirect.
func isRedirectError(err error) bool {
	var re *redirectError
	return errors.As(err, &re)
}
