package webhookurl

import (
	"container/list"
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// cache holds DNS answers, never verdicts: the Validator judges the
// addresses on every hit, so a new Deny prefix applies to cached names at
// once. It is bounded in entries, evicting the least recently used, and
// merges concurrent lookups of one name into one upstream lookup.
type cache struct {
	now func() time.Time
	max int

	mu       sync.Mutex // guards entries, order and inflight
	entries  map[string]*list.Element
	order    *list.List // of *cacheEntry, most recently used at the front
	inflight map[string]*call
}

type cacheEntry struct {
	name    string
	addrs   []netip.Addr
	err     error
	expires time.Time
}

// call is one upstream lookup that several callers may wait for.
type call struct {
	done    chan struct{}
	res     lookupResult
	waiters int                // guarded by cache.mu
	cancel  context.CancelFunc // ends the lookup when no one waits
}

func newCache(max int, now func() time.Time) *cache {
	return &cache{
		now:      now,
		max:      max,
		entries:  make(map[string]*list.Element),
		order:    list.New(),
		inflight: make(map[string]*call),
	}
}

// lookup returns the cached answer for name, or runs resolve once for all
// concurrent callers. The shared lookup is detached from the first
// caller's context, so that caller's cancellation does not fail the
// others; each caller still stops waiting when its own context ends.
// upstream is what the cache asks on a miss; DNSResolver implements it. An
// interface rather than a method value, which would allocate on every call.
type upstream interface {
	resolve(ctx context.Context, host string) lookupResult
}

func (c *cache) lookup(ctx context.Context, name string, up upstream) ([]netip.Addr, error) {
	c.mu.Lock()
	if e, ok := c.entries[name]; ok {
		entry := e.Value.(*cacheEntry)
		if c.now().Before(entry.expires) {
			c.order.MoveToFront(e)
			addrs, err := slices.Clone(entry.addrs), entry.err
			c.mu.Unlock()
			return addrs, err
		}
		c.remove(e)
	}

	cl, ok := c.inflight[name]
	if !ok {
		var shared context.Context
		shared, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{done: make(chan struct{}), cancel: cancel}
		c.inflight[name] = cl
		go c.run(shared, name, cl, up)
	}
	cl.waiters++
	c.mu.Unlock()

	select {
	case <-cl.done:
		return slices.Clone(cl.res.addrs), cl.res.err
	case <-ctx.Done():
		c.leave(name, cl)
		return nil, ctx.Err()
	}
}

// leave records that a waiter gave up. When the last one does, the shared
// lookup is cancelled and forgotten, so a later caller starts afresh
// instead of joining a lookup that is being torn down.
func (c *cache) leave(name string, cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl.waiters--
	if cl.waiters > 0 {
		return
	}
	if c.inflight[name] == cl {
		delete(c.inflight, name)
	}
	cl.cancel()
}

func (c *cache) run(ctx context.Context, name string, cl *call, up upstream) {
	cl.res = up.resolve(ctx, name)
	cancelled := ctx.Err() != nil
	cl.cancel()

	c.mu.Lock()
	if c.inflight[name] == cl {
		delete(c.inflight, name)
	}
	if cl.res.ttl > 0 && !cancelled {
		c.store(name, cl.res)
	}
	c.mu.Unlock()
	close(cl.done)
}

// store adds or replaces the entry for name. The caller holds c.mu.
func (c *cache) store(name string, res lookupResult) {
	if e, ok := c.entries[name]; ok {
		c.remove(e)
	}
	entry := &cacheEntry{name: name, addrs: res.addrs, err: res.err, expires: c.now().Add(res.ttl)}
	c.entries[name] = c.order.PushFront(entry)
	for c.order.Len() > c.max {
		c.remove(c.order.Back())
	}
}

// remove deletes one entry. The caller holds c.mu.
func (c *cache) remove(e *list.Element) {
	c.order.Remove(e)
	delete(c.entries, e.Value.(*cacheEntry).name)
}

// len returns the number of entries, for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
