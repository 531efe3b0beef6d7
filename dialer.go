package webhookurl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of the dial step, used when the matching TransportOptions field
// is zero.
const (
	// DefaultDialTimeout bounds one TCP connect to one address.
	DefaultDialTimeout = 10 * time.Second

	// DefaultFallbackDelay is how long a connect attempt runs before the
	// next address is tried in parallel. RFC 8305 Section 5 recommends
	// 250 ms; 300 ms is what Go's net.Dialer uses.
	DefaultFallbackDelay = 300 * time.Millisecond
)

// DialContext connects to address, a "host:port" pair, after applying the
// Validator's policy, and has the signature of http.Transport.DialContext.
//
// For a DNS name it applies the host rules, resolves the name through the
// configured resolver and checks every address: one address that is not
// public rejects the name, because the connection could go to any of them.
// It then connects only to the addresses it checked, never resolving the
// name a second time, so an answer that changes between check and connect
// (DNS rebinding) cannot slip an address in. For an IP literal it checks
// the address and connects to it. The port must pass Config.Ports.
//
// Addresses are tried IPv6 and IPv4 interleaved (RFC 8305 Section 5). A new
// attempt starts every DefaultFallbackDelay, or as soon as one fails. The
// first connection wins and the others are closed. Every connect also
// passes through ControlContext, which checks the peer address again.
//
// A rejection is an *Error; a failed connect is the *net.OpError of the
// first attempt that failed. The network must be "tcp", "tcp4" or "tcp6".
func (v *Validator) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return v.newDialer(0, 0).DialContext(ctx, network, address)
}

// ControlContext checks the address a socket is about to connect to, and
// has the signature of net.Dialer.ControlContext. DialContext installs it
// on every connect; install it yourself on any other dialer that must obey
// the policy. It catches a connection that got past the earlier checks,
// such as a dial function that resolves the name again. It returns an
// *Error with ReasonPrivateAddress or ReasonPortNotAllowed, which
// net.Dialer wraps in a *net.OpError; errors.Is and errors.As see through
// both.
func (v *Validator) ControlContext(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		// A UDP or Unix socket is never a webhook.
		return net.UnknownNetworkError(network)
	}
	peer, err := netip.ParseAddrPort(address)
	if err != nil {
		return &Error{Reason: ReasonInvalidHost, Value: address, Err: err, detail: "not an IP address and port"}
	}
	if c := v.CheckAddr(peer.Addr()); !c.Public {
		return &Error{Reason: ReasonPrivateAddress, Value: peer.Addr().String(), Addr: peer.Addr(), Class: c}
	}
	if _, perr := v.checkPort(strconv.Itoa(int(peer.Port())), true); perr != nil {
		return perr
	}
	return nil
}

// dialer is the state of one policy-enforcing dial function: a Validator
// and the settings of the transport it serves. It is safe for concurrent
// use once built.
type dialer struct {
	v             *Validator
	net           net.Dialer // ControlContext is v.ControlContext
	fallbackDelay time.Duration

	// dialAddr connects to one checked address. It is d.net.DialContext
	// except in tests, which replace it to observe or fake connects.
	dialAddr func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error)

	// proxy is the "host:port" of the egress proxy set in
	// TransportOptions.Proxy, dialed without the policy; empty means none.
	proxy    string
	proxyNet net.Dialer
}

func (v *Validator) newDialer(timeout, fallbackDelay time.Duration) *dialer {
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	if fallbackDelay <= 0 {
		fallbackDelay = DefaultFallbackDelay
	}
	d := &dialer{
		v:             v,
		net:           net.Dialer{Timeout: timeout, ControlContext: v.ControlContext},
		fallbackDelay: fallbackDelay,
		proxyNet:      net.Dialer{Timeout: timeout},
	}
	d.dialAddr = d.dialNet
	return d
}

func (d *dialer) dialNet(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
	return d.net.DialContext(ctx, network, addr.String())
}

// DialContext is Validator.DialContext with the dialer's settings.
func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ctx == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errNilContext}
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}

	// The operator's proxy is trusted by configuration; the request it
	// carries is judged by the proxy, not here.
	if d.proxy != "" && address == d.proxy {
		return d.proxyNet.DialContext(ctx, network, address)
	}

	hostText, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalidHost, Value: address, Err: err, detail: "expected host:port"}
	}
	// SplitHostPort strips brackets from any host; only an IPv6 literal
	// may have them, as in a URL.
	if strings.HasPrefix(address, "[") {
		if a, err := netip.ParseAddr(hostText); err != nil || !a.Is6() {
			return nil, reject(ReasonInvalidHost, address, "brackets must hold an IPv6 address")
		}
	}
	port, perr := d.v.checkPort(portText, true)
	if perr != nil {
		return nil, perr
	}

	addrs, lerr := d.resolve(ctx, hostText)
	if lerr != nil {
		return nil, lerr
	}
	addrs = filterFamily(network, addrs)
	if len(addrs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &net.AddrError{Err: "no " + network + " address", Addr: hostText}}
	}
	return d.dialParallel(ctx, network, interleave(addrs), port)
}

// resolve returns the checked addresses of an IP literal or a DNS name.
func (d *dialer) resolve(ctx context.Context, hostText string) ([]netip.Addr, *Error) {
	if addr, err := netip.ParseAddr(hostText); err == nil {
		if c := d.v.CheckAddr(addr); !c.Public {
			return nil, &Error{Reason: ReasonPrivateAddress, Value: hostText, Addr: addr, Class: c}
		}
		return []netip.Addr{addr}, nil
	}

	// The host rules come first so that "localhost" or "redis" is rejected
	// by name, before a resolver can return an internal address for it.
	h, herr := checkHost(hostText)
	if herr != nil {
		return nil, herr
	}
	if h.addr.IsValid() {
		// checkHost reads a dotted-decimal name as an IPv4 address.
		return d.resolve(ctx, h.addr.String())
	}
	return d.v.lookup(ctx, h.name, hostText)
}

// filterFamily keeps the addresses that network can reach.
func filterFamily(network string, addrs []netip.Addr) []netip.Addr {
	if network == "tcp" {
		return addrs
	}
	want4 := network == "tcp4"
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.Unmap().Is4() == want4 {
			out = append(out, a)
		}
	}
	return out
}

// interleave orders addrs IPv6, IPv4, IPv6, ... starting with the family of
// the first address and keeping the resolver's order within each family,
// as RFC 8305 Section 4 describes, so that a broken family costs one
// fallback delay rather than one timeout per address.
func interleave(addrs []netip.Addr) []netip.Addr {
	if len(addrs) < 2 {
		return addrs
	}
	var first, second []netip.Addr
	firstIs4 := addrs[0].Unmap().Is4()
	for _, a := range addrs {
		if a.Unmap().Is4() == firstIs4 {
			first = append(first, a)
		} else {
			second = append(second, a)
		}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for i := 0; i < len(first) || i < len(second); i++ {
		if i < len(first) {
			out = append(out, first[i])
		}
		if i < len(second) {
			out = append(out, second[i])
		}
	}
	return out
}

type dialResult struct {
	conn net.Conn
	err  error
}

// dialParallel connects to addrs in order, starting the next attempt when
// the previous one fails or after the fallback delay, whichever is first.
// The first connection wins; every other attempt is canceled and any
// connection it still makes is closed.
func (d *dialer) dialParallel(ctx context.Context, network string, addrs []netip.Addr, port uint16) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Buffered so that an attempt that finishes after the winner never
	// blocks; closeLosers reads what it sends.
	results := make(chan dialResult, len(addrs))
	next, pending := 0, 0
	start := func() {
		addr := netip.AddrPortFrom(addrs[next], port)
		next++
		pending++
		go func() {
			conn, err := d.dialAddr(ctx, network, addr)
			results <- dialResult{conn, err}
		}()
	}

	start()
	timer := time.NewTimer(d.fallbackDelay)
	defer timer.Stop()

	var errs []error
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				cancel()
				go closeLosers(results, pending)
				return r.conn, nil
			}
			errs = append(errs, r.err)
			if next < len(addrs) {
				start()
				timer.Reset(d.fallbackDelay)
			}
		case <-timer.C:
			if next < len(addrs) {
				start()
				timer.Reset(d.fallbackDelay)
			}
		}
	}
	return nil, firstDialError(errs)
}

// closeLosers waits for n attempts that lost the race and closes any
// connection they made.
func closeLosers(results <-chan dialResult, n int) {
	for range n {
		if r := <-results; r.conn != nil {
			r.conn.Close()
		}
	}
}

// firstDialError returns the first policy rejection, so that a connect-time
// rejection is never hidden behind a refused connection, or else the first
// error.
func firstDialError(errs []error) error {
	for _, err := range errs {
		if _, ok := errors.AsType[*Error](err); ok {
			return err
		}
	}
	return errs[0]
}
