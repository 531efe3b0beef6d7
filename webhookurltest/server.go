package webhookurltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// allNames is the key under which SetFault and SetDelay store a setting that
// applies to every name.
const allNames = "*"

// listenAttempts bounds how often Start picks a new port when the UDP port
// the kernel chose is already taken for TCP by another process.
const listenAttempts = 10

// readTimeout is the read deadline of the dns.Server sockets. The
// dns.Server sets a fresh deadline before each read, which can undo the
// one its shutdown sets, so this also bounds how long Close can take.
const readTimeout = 500 * time.Millisecond

// shutdownTimeout bounds how long Close waits for handlers to return, so a
// hook that never returns makes Close fail instead of hanging the test.
const shutdownTimeout = 5 * time.Second

// Server is a DNS server on a loopback port that answers UDP and TCP queries
// from an in-memory zone, for tests. It behaves like a recursive resolver,
// so replies carry the RA bit and follow CNAME chains. All methods are safe
// for concurrent use, including from a hook while a query is in flight.
type Server struct {
	tb      testing.TB
	addr    string
	udp     *dns.Server
	tcp     *dns.Server
	stopped chan struct{} // closed by Close, ends every delay early
	close   sync.Once

	mu          sync.Mutex // guards every field below
	names       map[string][]dns.RR
	sequences   map[string]*sequence
	rcodes      map[string]int
	faults      map[string]Fault
	delays      map[string]time.Duration
	soa         bool
	soaMinTTL   uint32
	followCNAME bool
	hook        func(req, resp *dns.Msg)
	raw         func(req []byte) [][]byte
	queries     map[queryKey]int
	byNetwork   map[string]int
	total       int
}

type queryKey struct {
	name  string
	qtype uint16
}

// sequence is a list of answers given in turn, with one position per query
// type. The last answer repeats once the list is used up.
type sequence struct {
	answers   [][]dns.RR
	positions map[uint16]int
}

func (seq *sequence) next(qtype uint16) []dns.RR {
	if len(seq.answers) == 0 {
		return nil
	}
	i := seq.positions[qtype]
	if i < len(seq.answers)-1 {
		seq.positions[qtype] = i + 1
	}
	return seq.answers[i]
}

// Start starts a Server on 127.0.0.1 with a random port, serving zone, and
// stops it when the test and its subtests finish. It fails the test if zone
// contains an invalid record or no port can be bound. Start copies zone, so
// later changes to the map do not affect the server, but Set does.
func Start(tb testing.TB, zone Zone) *Server {
	tb.Helper()

	s, err := start(tb, zone)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// New starts a Server like Start, for code that has no testing.TB, such as
// TestMain sharing one server between tests, or an example. The caller must
// call Close. Set and SetSequence panic on an invalid record of a Server
// made by New, where a Server made by Start fails the test.
func New(zone Zone) (*Server, error) {
	return start(nil, zone)
}

func start(tb testing.TB, zone Zone) (*Server, error) {
	s := &Server{
		tb:          tb,
		stopped:     make(chan struct{}),
		names:       make(map[string][]dns.RR),
		sequences:   make(map[string]*sequence),
		rcodes:      make(map[string]int),
		faults:      make(map[string]Fault),
		delays:      make(map[string]time.Duration),
		followCNAME: true,
		queries:     make(map[queryKey]int),
		byNetwork:   make(map[string]int),
	}
	for name, records := range zone {
		key := canonicalName(name)
		rrs, err := toRRs(key, records)
		if err != nil {
			return nil, err
		}
		s.names[key] = append(s.names[key], rrs...)
	}

	packetConn, listener, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	s.addr = packetConn.LocalAddr().String()

	handler := dns.HandlerFunc(s.serveDNS)
	s.udp = &dns.Server{PacketConn: packetConn, Handler: handler, ReadTimeout: readTimeout}
	s.tcp = &dns.Server{Listener: listener, Handler: handler, ReadTimeout: readTimeout}
	if err := activate(s.udp); err != nil {
		packetConn.Close()
		listener.Close()
		return nil, fmt.Errorf("webhookurltest: starting UDP server on %s: %w", s.addr, err)
	}
	if err := activate(s.tcp); err != nil {
		s.udp.Shutdown()
		listener.Close()
		return nil, fmt.Errorf("webhookurltest: starting TCP server on %s: %w", s.addr, err)
	}
	return s, nil
}

// fail reports err, an invalid record passed to a setter, through the test
// the Server belongs to, or by panicking for a Server made by New.
func (s *Server) fail(err error) {
	if s.tb == nil {
		panic(err)
	}
	s.tb.Helper()
	s.tb.Fatal(err)
}

// listenLoopback opens a UDP socket on 127.0.0.1 with a port the kernel
// picks, then a TCP listener on the same port. The TCP port can be taken by
// another process, so it retries with a new port a few times.
func listenLoopback() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range listenAttempts {
		packetConn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("webhookurltest: listening on UDP 127.0.0.1: %w", err)
		}

		port := packetConn.LocalAddr().(*net.UDPAddr).Port
		listener, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return packetConn, listener, nil
		}
		packetConn.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("webhookurltest: no free port for both UDP and TCP after %d attempts: %w", listenAttempts, lastErr)
}

// activate starts srv on its socket in a new goroutine and waits until it
// serves or fails to start.
func activate(srv *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }

	go func() {
		failed <- srv.ActivateAndServe()
	}()

	select {
	case <-started:
		return nil
	case err := <-failed:
		return err
	}
}

// Addr returns the address of the server as "127.0.0.1:PORT". The same
// address serves both UDP and TCP.
func (s *Server) Addr() string {
	return s.addr
}

// Close stops the server, ends every pending delay and waits up to five
// seconds for in-flight handlers, such as a hook, to return. Start
// registers Close with t.Cleanup, so tests call it only to see how a client
// behaves when the server goes away. Calls after the first do nothing and
// return nil.
func (s *Server) Close() error {
	var errs []error
	s.close.Do(func() {
		close(s.stopped)

		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.udp.ShutdownContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("webhookurltest: stopping UDP server on %s: %w", s.addr, err))
		}
		if err := s.tcp.ShutdownContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("webhookurltest: stopping TCP server on %s: %w", s.addr, err))
		}
	})
	return errors.Join(errs...)
}

// Set replaces the records of name, creating the name if it is absent. With
// no records the name exists with no data, so queries get NOERROR with an
// empty answer. Set removes any sequence set for name, but keeps its rcode,
// fault and delay. On an invalid record it fails the test, or panics for a
// Server made by New.
func (s *Server) Set(name string, records ...Record) {
	if s.tb != nil {
		s.tb.Helper()
	}

	key := canonicalName(name)
	rrs, err := toRRs(key, records)
	if err != nil {
		s.fail(err)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[key] = rrs
	delete(s.sequences, key)
}

// Remove deletes name and its records and sequence, so later queries for it
// get NXDOMAIN. It keeps the rcode, fault and delay of name.
func (s *Server) Remove(name string) {
	key := canonicalName(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.names, key)
	delete(s.sequences, key)
}

// SetSequence makes the server answer the queries for name from answers in
// turn. The first query of each type gets answers[0], the second gets
// answers[1], and once the list is used up the last answer repeats. Each query type keeps its own position, so an A query and an
// AAAA query for name both get answers[0]. A lookup that reaches name by
// following a CNAME also moves the position. This is how tests model DNS
// rebinding: a public address when a URL is validated, a private one when it
// is dialed.
//
// A sequence takes precedence over the records of name until Set or Remove
// is called for name. An empty answer gives NOERROR with no data.
// On an invalid record SetSequence fails the test, or panics for a Server
// made by New.
func (s *Server) SetSequence(name string, answers ...[]Record) {
	if s.tb != nil {
		s.tb.Helper()
	}

	key := canonicalName(name)
	seq := &sequence{positions: make(map[uint16]int)}
	for _, records := range answers {
		rrs, err := toRRs(key, records)
		if err != nil {
			s.fail(err)
			return
		}
		seq.answers = append(seq.answers, rrs)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sequences[key] = seq
}

// SetRcode makes every query for name get rcode, such as dns.RcodeNameError,
// dns.RcodeServerFailure or dns.RcodeRefused, with an empty answer section.
// It also applies when name is reached through a CNAME, and then the answer
// keeps the CNAME chain. dns.RcodeSuccess removes the setting.
func (s *Server) SetRcode(name string, rcode int) {
	key := canonicalName(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode == dns.RcodeSuccess {
		delete(s.rcodes, key)
		return
	}
	s.rcodes[key] = rcode
}

// SetFault makes the server misbehave as f for queries for name. A name of
// "" or "*" sets the fault for every name, and a fault set for a single
// name takes precedence over it. FaultNone removes the setting. Faults
// apply to the name in the question only, not to CNAME targets.
func (s *Server) SetFault(name string, f Fault) {
	key := settingKey(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if f == FaultNone {
		delete(s.faults, key)
		return
	}
	s.faults[key] = f
}

// SetDelay makes the server wait for d before it handles each query for
// name, which combines with any fault. A name of "" or "*" sets the delay
// for every name, and a delay set for a single name takes precedence over
// it. A delay of 0 or less removes the setting. Close ends pending delays
// without a reply, so a long delay never holds up the end of a test.
func (s *Server) SetDelay(name string, d time.Duration) {
	key := settingKey(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.delays, key)
		return
	}
	s.delays[key] = d
}

func settingKey(name string) string {
	if name == "" || name == allNames {
		return allNames
	}
	return canonicalName(name)
}

// SetSOA makes the server add a SOA record to the authority section of
// NXDOMAIN and NODATA replies, with both its TTL and its MINIMUM field set
// to minTTL seconds. RFC 2308 section 5 makes the smaller of the two the
// time a resolver may cache the negative answer, and a reply without SOA
// should not be cached at all. The SOA owner is the last label of the name
// that was not found, such as "example." for "hook.example.".
func (s *Server) SetSOA(minTTL uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soa = true
	s.soaMinTTL = minTTL
}

// ClearSOA turns off the SOA record that SetSOA adds, which is the default.
func (s *Server) ClearSOA() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soa = false
}

// SetFollowCNAME sets whether the answer to a query that meets a CNAME also
// holds the records of its target, as a recursive resolver returns them.
// The default is true. With false, the answer holds only the first CNAME,
// as an authoritative server for a zone without the target returns it.
func (s *Server) SetFollowCNAME(follow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.followCNAME = follow
}

// SetHook sets a function that receives each reply just before it is sent
// and may change it, for example to add records owned by other names to
// the answer or additional section. The server runs hook after it has
// applied faults and UDP truncation, so hook can make a reply that a real
// server would not send. Hook runs concurrently for concurrent queries and
// must not keep req or resp. It is not called for dropped queries or with
// a raw responder. A nil hook removes the setting.
func (s *Server) SetHook(hook func(req, resp *dns.Msg)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = hook
}

// SetRawResponder makes the server answer every query by sending the
// datagrams that respond returns, in order, instead of a reply built from
// the zone. Over TCP each datagram gets its two-byte length prefix. It is
// meant for fuzzing a client with malformed replies. The request passed to
// respond is the query packed again after parsing, so its bytes can differ
// from the ones the client sent, for example in name compression. Queries
// are still counted and delayed, but faults and the hook do not apply. A
// nil respond returns to normal answers.
func (s *Server) SetRawResponder(respond func(req []byte) [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = respond
}

// Queries returns how many queries for name and type qtype the server has
// received over UDP and TCP since it started or since the last Reset.
// Queries the server dropped or delayed are counted too. Name matching is
// case-insensitive.
func (s *Server) Queries(name string, qtype uint16) int {
	key := queryKey{name: canonicalName(name), qtype: qtype}

	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key]
}

// QueriesOver returns how many queries the server has received over network,
// "udp" or "tcp", since it started or since the last Reset.
func (s *Server) QueriesOver(network string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byNetwork[network]
}

// Total returns how many queries the server has received since it started
// or since the last Reset.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Reset sets every query counter to zero. It does not rewind sequences,
// because SetSequence does that.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.queries)
	clear(s.byNetwork)
	s.total = 0
}
