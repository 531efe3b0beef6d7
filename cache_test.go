package webhookurl

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fintoro/webhookurl/webhookurltest"
)

// fakeClock is a clock that moves only when a test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCachingResolver(t *testing.T, clock *fakeClock, cfg DNSConfig, servers ...string) *DNSResolver {
	t.Helper()
	cfg.Nameservers = servers
	cfg.QueryTimeout = 300 * time.Millisecond
	cfg.Attempts = 1
	cfg.Now = clock.Now
	r, err := NewDNSResolver(cfg)
	require.NoError(t, err)
	return r
}

// lookupCounts resolves name and returns how many queries the server saw
// for it in total so far.
func lookupCounts(t *testing.T, r *DNSResolver, srv *webhookurltest.Server, name string) int {
	t.Helper()
	_, _ = r.LookupAddrs(context.Background(), name)
	return srv.Total()
}

func TestCacheExpiry(t *testing.T) {
	tests := []struct {
		name    string
		records []webhookurltest.Record
		hitAt   time.Duration // still cached
		missAt  time.Duration // expired
	}{
		{"record TTL", []webhookurltest.Record{webhookurltest.A("93.184.215.14").WithTTL(60)}, 59 * time.Second, 61 * time.Second},
		{"floor for TTL 0", []webhookurltest.Record{webhookurltest.A("93.184.215.14").WithTTL(0)}, 4 * time.Second, 5 * time.Second},
		{"ceiling for a day", []webhookurltest.Record{webhookurltest.A("93.184.215.14").WithTTL(86400)}, 299 * time.Second, 300 * time.Second},
		{"smallest of several", []webhookurltest.Record{webhookurltest.A("93.184.215.14").WithTTL(600), webhookurltest.AAAA("2606:2800:21f::1").WithTTL(40)}, 39 * time.Second, 40 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": tt.records})
			clock := newFakeClock()
			r := newCachingResolver(t, clock, DNSConfig{}, srv.Addr())

			assert.Equal(t, 2, lookupCounts(t, r, srv, "hooks.example.info"), "first lookup queries A and AAAA")
			clock.Advance(tt.hitAt)
			assert.Equal(t, 2, lookupCounts(t, r, srv, "hooks.example.info"), "cached at %v", tt.hitAt)
			clock.Advance(tt.missAt - tt.hitAt)
			assert.Equal(t, 4, lookupCounts(t, r, srv, "hooks.example.info"), "expired at %v", tt.missAt)
		})
	}
}

func TestCacheTTLIsMinimumOfCNAMEChain(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{
		"alias.example.info": {webhookurltest.CNAME("hooks.example.info").WithTTL(30)},
		"hooks.example.info": {webhookurltest.A("93.184.215.14").WithTTL(3600)},
	})
	srv.SetSOA(3600)
	clock := newFakeClock()
	r := newCachingResolver(t, clock, DNSConfig{}, srv.Addr())

	before := lookupCounts(t, r, srv, "alias.example.info")
	clock.Advance(29 * time.Second)
	assert.Equal(t, before, lookupCounts(t, r, srv, "alias.example.info"))
	clock.Advance(time.Second)
	assert.Greater(t, lookupCounts(t, r, srv, "alias.example.info"), before, "the CNAME's TTL bounds the entry")
}

func TestCacheNegativeAnswers(t *testing.T) {
	tests := []struct {
		name   string
		soa    uint32 // 0: no SOA in negative replies
		host   string
		hitAt  time.Duration
		missAt time.Duration
	}{
		{"NXDOMAIN per SOA", 20, "missing.example.info", 19 * time.Second, 20 * time.Second},
		{"NXDOMAIN capped", 3600, "missing.example.info", 29 * time.Second, 30 * time.Second},
		{"NODATA per SOA", 10, "empty.example.info", 9 * time.Second, 10 * time.Second},
		{"NXDOMAIN without SOA", 0, "missing.example.info", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := webhookurltest.Start(t, webhookurltest.Zone{"empty.example.info": {}})
			if tt.soa > 0 {
				srv.SetSOA(tt.soa)
			}
			clock := newFakeClock()
			r := newCachingResolver(t, clock, DNSConfig{}, srv.Addr())

			_, err := r.LookupAddrs(context.Background(), tt.host)
			require.Error(t, err)
			first := srv.Total()
			if tt.soa == 0 {
				_, err = r.LookupAddrs(context.Background(), tt.host)
				require.Error(t, err)
				assert.Greater(t, srv.Total(), first, "a negative answer without SOA is not cached")
				return
			}
			clock.Advance(tt.hitAt)
			_, err = r.LookupAddrs(context.Background(), tt.host)
			require.Error(t, err, "the cached answer is still negative")
			assert.Equal(t, first, srv.Total(), "cached at %v", tt.hitAt)
			clock.Advance(tt.missAt - tt.hitAt)
			_, _ = r.LookupAddrs(context.Background(), tt.host)
			assert.Greater(t, srv.Total(), first, "expired at %v", tt.missAt)
		})
	}
}

func TestCacheKeepsNegativeReason(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"empty.example.info": {}})
	srv.SetSOA(60)
	r := newCachingResolver(t, newFakeClock(), DNSConfig{}, srv.Addr())
	for range 2 {
		_, err := r.LookupAddrs(context.Background(), "missing.example.info")
		assert.ErrorIs(t, err, ErrDNSNotFound)
		_, err = r.LookupAddrs(context.Background(), "empty.example.info")
		assert.ErrorIs(t, err, ErrNoAddresses)
	}
}

func TestCacheSkipsFailures(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("93.184.215.14")}})
	srv.SetFault("*", webhookurltest.FaultServFail)
	r := newCachingResolver(t, newFakeClock(), DNSConfig{}, srv.Addr())

	_, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.Error(t, err)
	srv.SetFault("*", webhookurltest.FaultNone)
	addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.NoError(t, err, "SERVFAIL is not cached")
	assert.Len(t, addrs, 1)

	srv.SetFault("*", webhookurltest.FaultTruncateAlways)
	_, err = r.LookupAddrs(context.Background(), "other.example.info")
	require.Error(t, err)
	srv.SetFault("*", webhookurltest.FaultNone)
	_, err = r.LookupAddrs(context.Background(), "other.example.info")
	assert.ErrorIs(t, err, ErrDNSNotFound, "a truncated reply is never cached")
}

func TestCacheDenyAppliesToCachedNames(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("93.184.215.14")}})
	r := newCachingResolver(t, newFakeClock(), DNSConfig{}, srv.Addr())

	lenient, err := New(Config{Resolver: r})
	require.NoError(t, err)
	_, err = lenient.Validate(context.Background(), "https://hooks.example.info/")
	require.NoError(t, err)
	queries := srv.Total()

	strict, err := New(Config{Resolver: r, Deny: []netip.Prefix{netip.MustParsePrefix("93.184.215.0/24")}})
	require.NoError(t, err)
	_, err = strict.Validate(context.Background(), "https://hooks.example.info/")
	assert.ErrorIs(t, err, ErrPrivateAddress, "the cache holds answers, and the policy runs on every hit")
	assert.Equal(t, queries, srv.Total(), "the answer came from the cache")
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{
		"a.example.info": {webhookurltest.A("93.184.215.1")},
		"b.example.info": {webhookurltest.A("93.184.215.2")},
		"c.example.info": {webhookurltest.A("93.184.215.3")},
	})
	r := newCachingResolver(t, newFakeClock(), DNSConfig{CacheSize: 2}, srv.Addr())
	ctx := context.Background()

	_, _ = r.LookupAddrs(ctx, "a.example.info")
	_, _ = r.LookupAddrs(ctx, "b.example.info")
	_, _ = r.LookupAddrs(ctx, "a.example.info") // a is now the most recently used
	_, _ = r.LookupAddrs(ctx, "c.example.info") // evicts b
	assert.Equal(t, 2, r.cache.len())

	srv.Reset()
	_, _ = r.LookupAddrs(ctx, "a.example.info")
	assert.Equal(t, 0, srv.Total(), "a stayed cached")
	_, _ = r.LookupAddrs(ctx, "b.example.info")
	assert.Equal(t, 2, srv.Total(), "b was evicted")
}

func TestCacheDisabled(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("93.184.215.14")}})
	r := newCachingResolver(t, newFakeClock(), DNSConfig{DisableCache: true}, srv.Addr())
	assert.Nil(t, r.cache)
	assert.Equal(t, 2, lookupCounts(t, r, srv, "hooks.example.info"))
	assert.Equal(t, 4, lookupCounts(t, r, srv, "hooks.example.info"))
}

func TestCacheReturnsCopies(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("93.184.215.14")}})
	r := newCachingResolver(t, newFakeClock(), DNSConfig{}, srv.Addr())

	first, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.NoError(t, err)
	first[0] = netip.MustParseAddr("127.0.0.1")
	second, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("93.184.215.14"), second[0], "a caller's change must not reach the cache")
}

func TestCacheMergesConcurrentLookups(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{
		"hooks.example.info": {webhookurltest.A("93.184.215.14"), webhookurltest.AAAA("2606:2800:21f::1")},
	})
	srv.SetDelay("hooks.example.info", 100*time.Millisecond)
	r := newCachingResolver(t, newFakeClock(), DNSConfig{}, srv.Addr())

	const callers = 200
	var wg sync.WaitGroup
	var failures atomic.Int32
	start := make(chan struct{})
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
			if err != nil || len(addrs) != 2 {
				failures.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()

	assert.Zero(t, failures.Load())
	assert.Equal(t, 1, srv.Queries("hooks.example.info", dns.TypeA), "one A query for %d callers", callers)
	assert.Equal(t, 1, srv.Queries("hooks.example.info", dns.TypeAAAA), "one AAAA query for %d callers", callers)
}

func TestCacheFirstCallerCancelDoesNotFailOthers(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("93.184.215.14")}})
	srv.SetDelay("hooks.example.info", 200*time.Millisecond)
	r := newCachingResolver(t, newFakeClock(), DNSConfig{}, srv.Addr())

	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := r.LookupAddrs(firstCtx, "hooks.example.info")
		firstErr <- err
	}()
	require.Eventually(t, func() bool { return srv.Total() > 0 }, 5*time.Second, time.Millisecond, "the first lookup started")

	secondDone := make(chan struct{})
	var secondAddrs []netip.Addr
	var secondErr error
	go func() {
		defer close(secondDone)
		secondAddrs, secondErr = r.LookupAddrs(context.Background(), "hooks.example.info")
	}()
	time.Sleep(20 * time.Millisecond) // let the second caller join the shared lookup
	cancelFirst()

	assert.ErrorIs(t, <-firstErr, context.Canceled)
	<-secondDone
	require.NoError(t, secondErr, "the second caller still gets the answer")
	assert.Len(t, secondAddrs, 1)
	assert.Equal(t, 1, srv.Queries("hooks.example.info", dns.TypeA), "the second caller shared the first lookup")
}

func TestCacheLastWaiterCancelStopsLookup(t *testing.T) {
	srv := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("93.184.215.14")}})
	srv.SetFault("*", webhookurltest.FaultDrop)
	r, err := NewDNSResolver(DNSConfig{Nameservers: []string{srv.Addr()}, QueryTimeout: time.Minute})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = r.LookupAddrs(ctx, "hooks.example.info")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	srv.SetFault("*", webhookurltest.FaultNone)
	addrs, err := r.LookupAddrs(context.Background(), "hooks.example.info")
	require.NoError(t, err, "a new caller starts a fresh lookup instead of joining the abandoned one")
	assert.Len(t, addrs, 1)
}

func TestNewDNSResolverRejectsBadCacheConfig(t *testing.T) {
	for _, cfg := range []DNSConfig{
		{MinTTL: time.Minute, MaxTTL: time.Second},
		{MinTTL: -time.Second},
		{MaxNegativeTTL: -time.Second},
		{CacheSize: -1},
	} {
		cfg.Nameservers = []string{"127.0.0.1:53"}
		_, err := NewDNSResolver(cfg)
		assert.Error(t, err, "NewDNSResolver(%+v)", cfg)
	}
}
