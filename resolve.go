package webhookurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Resolver looks up the addresses of a host name. Validator calls it with
// an ASCII name that has passed the host rules, without a trailing dot, and
// treats the name as absolute: no search domain may be appended.
//
// An implementation returns every A and AAAA address it found. Its error
// wraps ErrDNSNotFound when the name does not exist (NXDOMAIN) and
// ErrNoAddresses when it exists without addresses (NODATA); every other
// error, including the context's, rejects the URL with ReasonDNSFailure.
type Resolver interface {
	LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error)
}

// Defaults of DNSConfig.
const (
	DefaultQueryTimeout = 2 * time.Second
	DefaultAttempts     = 2
)

// maxCNAMEChain bounds how many CNAME records a lookup follows, across the
// answer and any further queries it needs. Real chains rarely pass four.
const maxCNAMEChain = 8

// ednsBufferSize is the UDP payload size advertised with EDNS0, the value
// DNS Flag Day 2020 settled on to avoid IP fragmentation.
const ednsBufferSize = 1232

// DNSConfig configures a DNSResolver.
type DNSConfig struct {
	// Nameservers are the servers to query, as "host" or "host:port" with
	// an IP address for host; port 53 is the default. Empty means the
	// nameserver lines of /etc/resolv.conf. Its search, domain and ndots
	// options are ignored: only the absolute name is ever queried.
	Nameservers []string

	// QueryTimeout bounds one query to one nameserver, including a retry
	// over TCP. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration

	// Attempts is how many times each nameserver is tried, in turn, before
	// the lookup fails. Zero means DefaultAttempts.
	Attempts int
}

// DNSResolver is the built-in Resolver: a stub resolver on miekg/dns that
// sends A and AAAA queries in parallel to recursive nameservers. It is safe
// for concurrent use.
type DNSResolver struct {
	servers  []string
	timeout  time.Duration
	attempts int
}

var errNoNameservers = errors.New("webhookurl: no nameservers configured and none found in /etc/resolv.conf")

// resolvConfPath is a variable so tests can point it at a fixture.
var resolvConfPath = "/etc/resolv.conf"

// NewDNSResolver returns a resolver for cfg.
func NewDNSResolver(cfg DNSConfig) (*DNSResolver, error) {
	r := &DNSResolver{timeout: cfg.QueryTimeout, attempts: cfg.Attempts}
	if r.timeout <= 0 {
		r.timeout = DefaultQueryTimeout
	}
	if r.attempts <= 0 {
		r.attempts = DefaultAttempts
	}

	servers := cfg.Nameservers
	if len(servers) == 0 {
		var err error
		if servers, err = nameserversFromResolvConf(resolvConfPath); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoNameservers, err)
		}
		if len(servers) == 0 {
			return nil, errNoNameservers
		}
	}
	for _, s := range servers {
		hostPort, err := normalizeNameserver(s)
		if err != nil {
			return nil, err
		}
		r.servers = append(r.servers, hostPort)
	}
	return r, nil
}

// nameserversFromResolvConf returns the nameserver lines of a resolv.conf
// file, ignoring every other option.
func nameserversFromResolvConf(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out, nil
}

func normalizeNameserver(s string) (string, error) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(addr, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("webhookurl: nameserver %q must be an IP address with an optional port", s)
	}
	return ap.String(), nil
}

// failingResolver fails every lookup, for a Validator that found no
// nameservers: static checks still work, full validation fails closed.
type failingResolver struct{ err error }

func (f failingResolver) LookupAddrs(context.Context, string) ([]netip.Addr, error) {
	return nil, f.err
}

// LookupAddrs resolves host's A and AAAA records in parallel and returns
// every address. A failure of either query fails the lookup, so a partial
// answer is never judged as if it were complete.
func (r *DNSResolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	name := dns.CanonicalName(host)
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("webhookurl: %q is not a domain name", host)
	}

	lookupCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A first, then AAAA, whichever arrives first.
	qtypes := [2]uint16{dns.TypeA, dns.TypeAAAA}
	var addrs [2][]netip.Addr
	var errs [2]error
	var wg sync.WaitGroup
	for i, qtype := range qtypes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs[i], errs[i] = r.lookupType(lookupCtx, name, qtype)
			if errs[i] != nil && !errors.Is(errs[i], ErrNoAddresses) {
				cancel() // the other query cannot change the outcome
			}
		}()
	}
	wg.Wait()

	if err := pickError(ctx, errs[0], errs[1]); err != nil {
		return nil, err
	}
	all := append(addrs[0], addrs[1]...)
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: %s has no A or AAAA records", ErrNoAddresses, host)
	}
	return all, nil
}

// pickError returns the error that decides a lookup. NODATA for one type is
// not an error when the other has addresses, and a cancellation caused by
// one query's failure gives way to that failure unless the caller's own
// context ended.
func pickError(parent context.Context, errs ...error) error {
	var decisive []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrNoAddresses) {
			decisive = append(decisive, err)
		}
	}
	if len(decisive) == 0 {
		return nil
	}
	if parent.Err() == nil {
		for _, err := range decisive {
			if !errors.Is(err, context.Canceled) {
				return err
			}
		}
	}
	return decisive[0]
}

// lookupType resolves one record type, following a CNAME chain through the
// answer and, when the answer stops at a CNAME, through further queries.
func (r *DNSResolver) lookupType(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error) {
	seen := map[string]bool{name: true}
	current := name
	for {
		reply, err := r.query(ctx, current, qtype)
		if err != nil {
			return nil, err
		}
		if reply.Rcode == dns.RcodeNameError {
			return nil, fmt.Errorf("%w: %s (%s)", ErrDNSNotFound, strings.TrimSuffix(current, "."), dns.TypeToString[qtype])
		}

		target, addrs, err := followAnswer(reply, current, qtype, seen)
		if err != nil {
			return nil, err
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
		if target == current {
			return nil, fmt.Errorf("%w: %s (%s)", ErrNoAddresses, strings.TrimSuffix(name, "."), dns.TypeToString[qtype])
		}
		// The answer ended at a CNAME whose target it did not resolve.
		current = target
	}
}

// followAnswer walks the CNAME chain that starts at name through the answer
// section and returns where it ends and the addresses owned by that name.
// Records owned by other names, and everything in the authority and
// additional sections, are ignored: a hostile server can put anything
// there.
func followAnswer(reply *dns.Msg, name string, qtype uint16, seen map[string]bool) (string, []netip.Addr, error) {
	current := name
	for {
		next := ""
		for _, rr := range reply.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, current) {
				next = dns.CanonicalName(c.Target)
				break
			}
		}
		if next == "" {
			break
		}
		if seen[next] {
			return "", nil, fmt.Errorf("webhookurl: CNAME loop at %s", strings.TrimSuffix(next, "."))
		}
		if len(seen) > maxCNAMEChain {
			return "", nil, fmt.Errorf("webhookurl: CNAME chain from %s is longer than %d", strings.TrimSuffix(name, "."), maxCNAMEChain)
		}
		seen[next] = true
		current = next
	}

	var addrs []netip.Addr
	for _, rr := range reply.Answer {
		if !strings.EqualFold(rr.Header().Name, current) || rr.Header().Class != dns.ClassINET {
			continue
		}
		switch rec := rr.(type) {
		case *dns.A:
			if qtype == dns.TypeA {
				if a, ok := netip.AddrFromSlice(rec.A.To4()); ok {
					addrs = append(addrs, a)
				}
			}
		case *dns.AAAA:
			if qtype == dns.TypeAAAA {
				if a, ok := netip.AddrFromSlice(rec.AAAA.To16()); ok && len(rec.AAAA) == net.IPv6len {
					addrs = append(addrs, a)
				}
			}
		}
	}
	return current, addrs, nil
}

// query sends one question to the nameservers in turn, Attempts rounds,
// until one gives a usable reply: NOERROR with data or NODATA, or NXDOMAIN,
// which is final. SERVFAIL, REFUSED, lame replies, timeouts and network
// errors move on to the next server.
func (r *DNSResolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET}
	var last error
	for range r.attempts {
		for _, server := range r.servers {
			reply, err := r.exchange(ctx, server, q)
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("webhookurl: DNS lookup of %s: %w", strings.TrimSuffix(name, "."), ctxErr)
			}
			if err != nil {
				last = fmt.Errorf("nameserver %s: %w", server, err)
				continue
			}
			switch {
			case reply.Rcode == dns.RcodeNameError:
				return reply, nil
			case reply.Rcode != dns.RcodeSuccess:
				last = fmt.Errorf("nameserver %s answered %s", server, dns.RcodeToString[reply.Rcode])
				continue
			case isLame(reply):
				last = fmt.Errorf("nameserver %s gave a lame reply (no recursion, no answer)", server)
				continue
			}
			return reply, nil
		}
	}
	return nil, fmt.Errorf("webhookurl: DNS lookup of %s %s failed: %w", strings.TrimSuffix(name, "."), dns.TypeToString[qtype], last)
}

// isLame reports whether a NOERROR reply is a referral or an empty reply
// from a server that does not recurse, rather than a real NODATA: it has
// no answer, no SOA, and recursion is not available.
func isLame(reply *dns.Msg) bool {
	if reply.RecursionAvailable || len(reply.Answer) > 0 {
		return false
	}
	for _, rr := range reply.Ns {
		if _, ok := rr.(*dns.SOA); ok {
			return false
		}
	}
	return true
}

var errTruncated = errors.New("reply truncated")

// exchange sends one query to one server over UDP, and once over TCP when
// the UDP reply is truncated or too large to decode. A fresh socket and a
// fresh random ID serve each query, so a reply to an earlier query cannot
// be taken for this one.
func (r *DNSResolver) exchange(ctx context.Context, server string, q dns.Question) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	msg := new(dns.Msg)
	msg.Id = dns.Id()
	msg.RecursionDesired = true
	msg.Question = []dns.Question{q}
	msg.SetEdns0(ednsBufferSize, false)
	packed, err := msg.Pack()
	if err != nil {
		return nil, err
	}

	reply, err := exchangeUDP(ctx, server, msg.Id, q, packed)
	if errors.Is(err, errTruncated) {
		reply, err = exchangeTCP(ctx, server, msg.Id, q, packed)
	}
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %v: %w", r.timeout, ctx.Err())
	}
	return reply, err
}

var udpBuffers = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// exchangeUDP sends packed and reads datagrams until one is a reply to it.
// Datagrams that do not decode, or answer another ID or question, are
// skipped until the deadline: one garbage packet or a late reply to an
// earlier query must not end or poison the lookup.
func exchangeUDP(ctx context.Context, server string, id uint16, q dns.Question, packed []byte) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := closeOnDone(ctx, conn)
	defer stop()

	if _, err := conn.Write(packed); err != nil {
		return nil, err
	}
	bufp := udpBuffers.Get().(*[]byte)
	defer udpBuffers.Put(bufp)
	buf := *bufp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if !isReplyHeader(buf[:n], id) {
			continue
		}
		if n == len(buf) {
			return nil, errTruncated // larger than the buffer: cut by the kernel
		}
		reply := new(dns.Msg)
		if err := reply.Unpack(buf[:n]); err != nil {
			// Our ID with a body that does not decode is either damage
			// or a reply too large to trust; TCP settles it.
			return nil, errTruncated
		}
		if !isReplyTo(reply, id, q) {
			continue
		}
		if reply.Truncated {
			return nil, errTruncated
		}
		return reply, nil
	}
}

// exchangeTCP sends packed over a new TCP connection and reads one reply.
func exchangeTCP(ctx context.Context, server string, id uint16, q dns.Question, packed []byte) (*dns.Msg, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, err
	}
	conn := &dns.Conn{Conn: raw}
	defer conn.Close()
	stop := closeOnDone(ctx, raw)
	defer stop()

	if _, err := conn.Write(packed); err != nil {
		return nil, err
	}
	reply, err := conn.ReadMsg()
	if err != nil {
		return nil, err
	}
	if !isReplyTo(reply, id, q) {
		return nil, errors.New("TCP reply does not match the query")
	}
	if reply.Truncated {
		return nil, errors.New("reply truncated over TCP")
	}
	return reply, nil
}

// closeOnDone sets the connection's deadline from ctx and closes it when
// ctx ends, so a blocked read returns at once on cancellation.
func closeOnDone(ctx context.Context, conn net.Conn) (stop func() bool) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	return context.AfterFunc(ctx, func() { conn.Close() })
}

// isReplyHeader reports whether b starts with a DNS header that answers id.
func isReplyHeader(b []byte, id uint16) bool {
	return len(b) >= 12 && uint16(b[0])<<8|uint16(b[1]) == id && b[2]&0x80 != 0
}

// isReplyTo reports whether reply answers exactly the question q sent with
// id: QR set, same ID, one question with the same name, type and class.
func isReplyTo(reply *dns.Msg, id uint16, q dns.Question) bool {
	if !reply.Response || reply.Id != id || len(reply.Question) != 1 {
		return false
	}
	got := reply.Question[0]
	return got.Qtype == q.Qtype && got.Qclass == q.Qclass && strings.EqualFold(got.Name, q.Name)
}
