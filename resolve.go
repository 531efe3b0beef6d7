package webhookurl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
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
// ErrNoAddresses when it exists without addresses (NODATA). Every other
// error, including the context's, rejects the URL with ReasonDNSFailure.
type Resolver interface {
	LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error)
}

// Defaults of DNSConfig.
const (
	DefaultQueryTimeout   = 2 * time.Second
	DefaultAttempts       = 2
	DefaultCacheSize      = 10000
	DefaultMinTTL         = 5 * time.Second
	DefaultMaxTTL         = 5 * time.Minute
	DefaultMaxNegativeTTL = 30 * time.Second
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

	// DisableCache turns the answer cache off, so every lookup queries
	// the nameservers.
	DisableCache bool

	// CacheSize is the maximum number of names the cache holds; the least
	// recently used goes first. Zero means DefaultCacheSize.
	CacheSize int

	// MinTTL and MaxTTL clamp how long an answer with addresses is cached:
	// the smallest TTL of its records, raised to MinTTL and lowered to
	// MaxTTL. Zero means DefaultMinTTL and DefaultMaxTTL.
	MinTTL, MaxTTL time.Duration

	// MaxNegativeTTL caps how long NXDOMAIN and NODATA are cached. They
	// are cached for the SOA's negative TTL (RFC 2308 Section 5), and not
	// at all without a SOA. Zero means DefaultMaxNegativeTTL.
	MaxNegativeTTL time.Duration

	// Now returns the current time for cache expiry. Nil means time.Now;
	// tests set it to move time without sleeping.
	Now func() time.Time
}

// DNSResolver is the built-in Resolver: a stub resolver on miekg/dns that
// sends A and AAAA queries in parallel to recursive nameservers. It is safe
// for concurrent use.
type DNSResolver struct {
	servers  []string
	timeout  time.Duration
	attempts int

	minTTL, maxTTL, maxNegativeTTL time.Duration
	cache                          *cache // nil when caching is off
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
	r.minTTL = cmp.Or(cfg.MinTTL, DefaultMinTTL)
	r.maxTTL = cmp.Or(cfg.MaxTTL, DefaultMaxTTL)
	r.maxNegativeTTL = cmp.Or(cfg.MaxNegativeTTL, DefaultMaxNegativeTTL)
	if r.minTTL < 0 || r.maxTTL < r.minTTL || r.maxNegativeTTL < 0 {
		return nil, fmt.Errorf("webhookurl: invalid cache TTLs: MinTTL %v, MaxTTL %v, MaxNegativeTTL %v", r.minTTL, r.maxTTL, r.maxNegativeTTL)
	}
	if !cfg.DisableCache {
		size := cmp.Or(cfg.CacheSize, DefaultCacheSize)
		if size < 0 {
			return nil, fmt.Errorf("webhookurl: invalid CacheSize %d", cfg.CacheSize)
		}
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		r.cache = newCache(size, now)
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
// answer is never judged as if it were complete. Answers come from the
// cache while their TTL lasts; the returned slice is the caller's own.
func (r *DNSResolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	// The cache key is the lowercase name without the root dot, which is
	// what Validator passes, so a cache hit costs no allocation here.
	key := strings.TrimSuffix(host, ".")
	if hasUpper(key) {
		key = strings.ToLower(key)
	}
	if r.cache == nil {
		res := r.resolve(ctx, key)
		return res.addrs, res.err
	}
	return r.cache.lookup(ctx, key, r)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// lookupResult is the outcome of one uncached lookup of a name, with how
// long it may be cached. A zero ttl means it must not be cached.
type lookupResult struct {
	addrs []netip.Addr
	err   error
	ttl   time.Duration
}

// resolve looks up the A and AAAA records of host, a lowercase name
// without the root dot, in parallel and without the cache.
func (r *DNSResolver) resolve(ctx context.Context, host string) lookupResult {
	name := dns.Fqdn(host)
	if _, ok := dns.IsDomainName(name); !ok || host == "" {
		return lookupResult{err: fmt.Errorf("webhookurl: %q is not a domain name", host)}
	}

	lookupCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The A answer comes first in the result, then AAAA.
	qtypes := [2]uint16{dns.TypeA, dns.TypeAAAA}
	var answers [2]typeAnswer
	var errs [2]error
	var wg sync.WaitGroup
	for i, qtype := range qtypes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = r.lookupType(lookupCtx, name, qtype)
			if errs[i] != nil && !errors.Is(errs[i], ErrNoAddresses) {
				cancel() // the other query cannot change the outcome
			}
		}()
	}
	wg.Wait()

	if err := pickError(ctx, errs[0], errs[1]); err != nil {
		res := lookupResult{err: err}
		if errors.Is(err, ErrDNSNotFound) {
			res.ttl = r.negativeTTL(answers[:])
		}
		return res
	}
	addrs := append(answers[0].addrs, answers[1].addrs...)
	if len(addrs) == 0 {
		return lookupResult{
			err: &statusError{ErrNoAddresses, "no A or AAAA records for " + host},
			ttl: r.negativeTTL(answers[:]),
		}
	}
	return lookupResult{addrs: addrs, ttl: r.positiveTTL(answers[:])}
}

// positiveTTL is the cache lifetime of an answer with addresses: the
// smallest TTL of every record used, including the SOA of a type that had
// no data, clamped to the configured floor and ceiling.
func (r *DNSResolver) positiveTTL(answers []typeAnswer) time.Duration {
	ttl := uint32(math.MaxUint32)
	for _, a := range answers {
		switch {
		case len(a.addrs) > 0:
			ttl = min(ttl, a.ttl)
		case a.hasSOA:
			ttl = min(ttl, a.negativeTTL)
		}
	}
	d := time.Duration(ttl) * time.Second
	return min(max(d, r.minTTL), r.maxTTL)
}

// negativeTTL is the cache lifetime of NXDOMAIN or NODATA: the SOA's
// negative TTL, capped low, and zero (not cached) without a SOA.
func (r *DNSResolver) negativeTTL(answers []typeAnswer) time.Duration {
	ttl := uint32(math.MaxUint32)
	found := false
	for _, a := range answers {
		if a.hasSOA {
			ttl = min(ttl, a.negativeTTL)
			found = true
		}
	}
	if !found {
		return 0
	}
	return min(time.Duration(ttl)*time.Second, r.maxNegativeTTL)
}

// statusError is a DNS answer that rejects the name, NXDOMAIN or NODATA.
// It matches its sentinel under errors.Is without repeating the sentinel's
// text, so a logged error chain reads once.
type statusError struct {
	sentinel error
	text     string
}

func (e *statusError) Error() string        { return e.text }
func (e *statusError) Is(target error) bool { return target == e.sentinel }

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

// typeAnswer is the outcome of resolving one record type.
type typeAnswer struct {
	addrs []netip.Addr
	// ttl is the smallest TTL, in seconds, of the records used: every
	// CNAME of the chain and every address.
	ttl uint32
	// negativeTTL is how long a NXDOMAIN or NODATA may be cached: the
	// smaller of the SOA's TTL and its MINIMUM (RFC 2308 Section 5).
	// hasSOA is false when the reply carried no SOA, and then the
	// negative answer is not cached.
	negativeTTL uint32
	hasSOA      bool
}

// lookupType resolves one record type, following a CNAME chain through the
// answer and, when the answer stops at a CNAME, through further queries.
func (r *DNSResolver) lookupType(ctx context.Context, name string, qtype uint16) (typeAnswer, error) {
	ans := typeAnswer{ttl: math.MaxUint32}
	seen := map[string]bool{name: true}
	current := name
	for {
		reply, err := r.query(ctx, current, qtype)
		if err != nil {
			return typeAnswer{}, err
		}
		if reply.Rcode == dns.RcodeNameError {
			ans.negativeTTL, ans.hasSOA = soaTTL(reply)
			return ans, &statusError{ErrDNSNotFound, "NXDOMAIN for " + strings.TrimSuffix(current, ".")}
		}

		target, err := followAnswer(reply, current, qtype, seen, &ans)
		if err != nil {
			return typeAnswer{}, err
		}
		if len(ans.addrs) > 0 {
			return ans, nil
		}
		if target == current {
			ans.negativeTTL, ans.hasSOA = soaTTL(reply)
			return ans, &statusError{ErrNoAddresses, "no " + dns.TypeToString[qtype] + " records for " + strings.TrimSuffix(name, ".")}
		}
		// The answer ended at a CNAME whose target it did not resolve.
		current = target
	}
}

// soaTTL returns the negative-caching TTL of a reply's SOA record.
func soaTTL(reply *dns.Msg) (uint32, bool) {
	for _, rr := range reply.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl), true
		}
	}
	return 0, false
}

// followAnswer walks the CNAME chain that starts at name through the answer
// section, adds the addresses owned by the name where it ends to ans, and
// returns that name. Records owned by other names, and everything in the
// authority and additional sections, are ignored: a hostile server can put
// anything there.
func followAnswer(reply *dns.Msg, name string, qtype uint16, seen map[string]bool, ans *typeAnswer) (string, error) {
	current := name
	for {
		var cname *dns.CNAME
		for _, rr := range reply.Answer {
			if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && strings.EqualFold(c.Hdr.Name, current) {
				cname = c
				break
			}
		}
		if cname == nil {
			break
		}
		next := dns.CanonicalName(cname.Target)
		if seen[next] {
			return "", fmt.Errorf("webhookurl: CNAME loop at %s", strings.TrimSuffix(next, "."))
		}
		if len(seen) > maxCNAMEChain {
			return "", fmt.Errorf("webhookurl: CNAME chain from %s is longer than %d", strings.TrimSuffix(name, "."), maxCNAMEChain)
		}
		seen[next] = true
		ans.ttl = min(ans.ttl, cname.Hdr.Ttl)
		current = next
	}

	for _, rr := range reply.Answer {
		hdr := rr.Header()
		if hdr.Class != dns.ClassINET || !strings.EqualFold(hdr.Name, current) {
			continue
		}
		var addr netip.Addr
		switch rec := rr.(type) {
		case *dns.A:
			if qtype != dns.TypeA || len(rec.A.To4()) != net.IPv4len {
				continue
			}
			addr, _ = netip.AddrFromSlice(rec.A.To4())
		case *dns.AAAA:
			if qtype != dns.TypeAAAA || len(rec.AAAA) != net.IPv6len {
				continue
			}
			addr, _ = netip.AddrFromSlice(rec.AAAA)
		default:
			continue
		}
		ans.addrs = append(ans.addrs, addr)
		ans.ttl = min(ans.ttl, hdr.Ttl)
	}
	return current, nil
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
				last = fmt.Errorf("nameserver %s returned %s", server, dns.RcodeToString[reply.Rcode])
				continue
			case isLame(reply):
				last = fmt.Errorf("nameserver %s returned a lame reply (no recursion, no answer)", server)
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
	// The socket deadline can fire a moment before the context's, so a
	// deadline error from either means the query timed out.
	if err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
		return nil, fmt.Errorf("timed out after %v: %w", r.timeout, os.ErrDeadlineExceeded)
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
