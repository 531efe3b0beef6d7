package benchmarks

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"

	"code.dny.dev/ssrf"
	"github.com/doyensec/safeurl"
	"github.com/fintoro/webhookurl"
)

// Verdict is what one library decides about one case without any network.
type Verdict int

const (
	// Accept means the value passed every check the library runs.
	Accept Verdict = iota

	// Reject means the library rejected the value.
	Reject

	// Deferred means the library passes the value on and judges the
	// address only after a DNS lookup or when a connection is dialed, so
	// it has no verdict on the string alone.
	Deferred

	// NotCallable means the library's check cannot be reached without
	// dialing a connection.
	NotCallable
)

// String returns the word the correctness table prints.
func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Deferred:
		return "deferred"
	case NotCallable:
		return "not callable"
	}
	return "unknown"
}

func verdictOf(accept bool) Verdict {
	if accept {
		return Accept
	}
	return Reject
}

// Peer is one library under comparison. A nil CheckAddr means the library
// has no address check that can be called in memory.
type Peer struct {
	Name      string
	Setup     string // configuration and call used in the comparison
	CheckAddr func(netip.Addr) Verdict
	CheckURL  func(string) Verdict
}

// Peers returns the libraries in the order the tables print them.
func Peers() ([]Peer, error) {
	validator, err := webhookurl.New(webhookurl.Config{Resolver: noResolver{}})
	if err != nil {
		return nil, err
	}
	guardian := ssrf.New()
	safeClient := safeurl.Client(safeurl.GetConfigBuilder().SetAllowedSchemes("https").Build())
	safeClient.Client.Transport = failingTransport{}

	return []Peer{
		{
			Name:      "webhookurl",
			Setup:     "`Classify(addr).Public`; `ValidateStatic(url)` with the zero Config",
			CheckAddr: func(a netip.Addr) Verdict { return verdictOf(webhookurl.Classify(a).Public) },
			CheckURL: func(raw string) Verdict {
				_, err := validator.ValidateStatic(raw)
				return verdictOf(err == nil)
			},
		},
		{
			Name:      "ssrf",
			Setup:     "`ssrf.New().SafeAddr(addr)` with the defaults; for URLs, the net/url composition below with SafeAddr as the address check",
			CheckAddr: func(a netip.Addr) Verdict { return verdictOf(guardian.SafeAddr(a) == nil) },
			CheckURL: func(raw string) Verdict {
				return checkParsedURL(raw, func(a netip.Addr) bool { return guardian.SafeAddr(a) == nil })
			},
		},
		{
			Name:     "safeurl",
			Setup:    "`safeurl.Client` with `SetAllowedSchemes(\"https\")`, its transport replaced by one that fails, so only the checks it runs before dialing apply",
			CheckURL: func(raw string) Verdict { return checkSafeurl(safeClient, raw) },
		},
		{
			Name:      "netip",
			Setup:     "`addr.IsGlobalUnicast() && !addr.IsPrivate()`; for URLs, the net/url composition below",
			CheckAddr: func(a netip.Addr) Verdict { return verdictOf(IsPublicNetip(a)) },
			CheckURL:  func(raw string) Verdict { return checkParsedURL(raw, IsPublicNetip) },
		},
	}, nil
}

// IsPublicNetip is the check many services write by hand with the
// standard library's predicates.
func IsPublicNetip(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate()
}

// checkParsedURL is the composition a service writes around an address
// check: net/url parses, the scheme must be https, the host must be
// present, and an IP literal host goes through isPublic. A DNS name is
// left to the dial-time check.
func checkParsedURL(raw string, isPublic func(netip.Addr) bool) Verdict {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return Reject
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return Deferred
	}
	return verdictOf(isPublic(addr))
}

// errNotDialed marks a request that passed safeurl's checks and reached the
// transport, where a real client would resolve and dial.
var errNotDialed = errors.New("benchmarks: request reached the transport and was not sent")

// failingTransport replaces safeurl's dialing transport so that no request
// leaves the process.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errNotDialed
}

// checkSafeurl runs safeurl's pre-dial checks (scheme, credentials, empty
// host). Its address check runs only inside its dialer, so a URL that
// passes is Deferred, never Accept.
func checkSafeurl(client *safeurl.WrappedClient, raw string) Verdict {
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		return Reject
	}
	resp, err := client.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	if errors.Is(err, errNotDialed) {
		return Deferred
	}
	return Reject
}

// noResolver fails every lookup. The static check never calls it.
type noResolver struct{}

func (noResolver) LookupAddrs(context.Context, string) ([]netip.Addr, error) {
	return nil, errors.New("benchmarks: DNS is not used in static checks")
}
