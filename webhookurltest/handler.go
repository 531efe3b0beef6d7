package webhookurltest

import (
	"math/rand/v2"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEChain is the number of CNAME records the server follows for one
// query before it gives up with SERVFAIL, which also ends CNAME loops.
// The value is this package's choice, not copied from a resolver.
const maxCNAMEChain = 16

// ednsUDPSize is the UDP payload size the server advertises in its OPT
// record, a common choice that keeps replies below typical path MTUs.
const ednsUDPSize = 1232

// serveDNS handles one query. The dns.Server accepts only messages with
// exactly one question, so req.Question[0] always exists.
func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := w.LocalAddr().Network()
	question := req.Question[0]
	name := canonicalName(question.Name)

	s.mu.Lock()
	s.countLocked(name, question.Qtype, network)
	fault := settingLocked(s, s.faults, name)
	delay := settingLocked(s, s.delays, name)
	hook := s.hook
	raw := s.raw
	s.mu.Unlock()

	if delay > 0 && !s.sleep(delay) {
		return
	}

	if raw != nil {
		s.sendRaw(w, req, raw)
		return
	}

	if fault == FaultDrop {
		// Returning would let the TCP server read the next query and
		// close the connection when it idles, so the handler waits
		// for Close to keep the query unanswered.
		<-s.stopped
		return
	}

	resp := s.reply(req, name, question.Qtype, network, fault)
	if hook != nil {
		hook(req, resp)
	}
	s.send(w, resp, network, fault)
}

func (s *Server) countLocked(name string, qtype uint16, network string) {
	s.queries[queryKey{name: name, qtype: qtype}]++
	s.byNetwork[network]++
	s.total++
}

// settingLocked returns the value set for name, or else the value set for
// every name, or else the zero value.
func settingLocked[V any](s *Server, settings map[string]V, name string) V {
	if v, ok := settings[name]; ok {
		return v
	}
	return settings[allNames]
}

// sleep waits for d and reports whether it did, or returns false early when
// the server stops.
func (s *Server) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()

	select {
	case <-timer.C:
		return true
	case <-s.stopped:
		return false
	}
}

// reply builds the reply to req, a query for name and qtype received over
// network, as fault shapes it. Transport-level faults are applied in send.
func (s *Server) reply(req *dns.Msg, name string, qtype uint16, network string, fault Fault) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true

	// RFC 6891 section 6: a responder includes an OPT record in its
	// reply when the request has one.
	requestOPT := req.IsEdns0()
	if requestOPT != nil {
		resp.SetEdns0(ednsUDPSize, false)
	}

	switch fault {
	case FaultServFail:
		resp.Rcode = dns.RcodeServerFailure
		return resp
	case FaultRefused:
		resp.Rcode = dns.RcodeRefused
		return resp
	case FaultLame:
		resp.RecursionAvailable = false
		return resp
	case FaultTruncateAlways:
		resp.Truncated = true
		return resp
	case FaultTruncateUDP:
		if network == "udp" {
			resp.Truncated = true
			return resp
		}
	}

	s.resolve(resp, name, qtype)

	// A reply over UDP must fit the requester's payload size, 512 bytes
	// without EDNS (RFC 1035 section 4.2.1), or else carry the TC bit.
	// Truncate drops whole records and sets TC when it drops any.
	if network == "udp" {
		size := dns.MinMsgSize
		if requestOPT != nil {
			size = int(requestOPT.UDPSize())
		}
		resp.Truncate(size)
	} else {
		resp.Compress = true
	}
	return resp
}

// resolve fills the answer of resp and its rcode for a query for name and
// qtype, following CNAMEs like a recursive resolver.
func (s *Server) resolve(resp *dns.Msg, name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()

	current := name
	for range maxCNAMEChain + 1 {
		if rcode, ok := s.rcodes[current]; ok {
			resp.Rcode = rcode
			if rcode == dns.RcodeNameError {
				s.addSOALocked(resp, current)
			}
			return
		}

		rrs, exists := s.lookupLocked(current, qtype)
		if !exists {
			// RFC 6604: the rcode describes the last name of the
			// CNAME chain, so a missing target gives NXDOMAIN
			// with the chain in the answer.
			resp.Rcode = dns.RcodeNameError
			s.addSOALocked(resp, current)
			return
		}

		cname := firstCNAME(rrs)
		if cname != nil && qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			resp.Answer = append(resp.Answer, dns.Copy(cname))
			if !s.followCNAME {
				return
			}
			current = cname.Target
			continue
		}

		matched := false
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
				resp.Answer = append(resp.Answer, dns.Copy(rr))
				matched = true
			}
		}
		if !matched {
			s.addSOALocked(resp, current)
		}
		return
	}

	// The chain is longer than maxCNAMEChain or loops.
	resp.Answer = nil
	resp.Rcode = dns.RcodeServerFailure
}

// lookupLocked returns the records of name, from its sequence if it has
// one, and whether name exists.
func (s *Server) lookupLocked(name string, qtype uint16) ([]dns.RR, bool) {
	if seq, ok := s.sequences[name]; ok {
		return seq.next(qtype), true
	}
	rrs, ok := s.names[name]
	return rrs, ok
}

func firstCNAME(rrs []dns.RR) *dns.CNAME {
	for _, rr := range rrs {
		if cname, ok := rr.(*dns.CNAME); ok {
			return cname
		}
	}
	return nil
}

// addSOALocked adds the negative-caching SOA record that SetSOA configures
// to the authority section of resp, if SetSOA was called.
func (s *Server) addSOALocked(resp *dns.Msg, name string) {
	if !s.soa {
		return
	}

	apex := "."
	if labels := dns.SplitDomainName(name); len(labels) > 0 {
		apex = labels[len(labels)-1] + "."
	}
	resp.Ns = append(resp.Ns, &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.soaMinTTL},
		Ns:      "ns." + apex,
		Mbox:    "hostmaster." + apex,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  s.soaMinTTL,
	})
}

// send writes resp to the client. Over UDP, FaultWrongIDFirst and
// FaultGarbageFirst first send a bogus datagram. Write errors are ignored
// because in tests they mostly mean that the client has given up, for
// example after its timeout, and a helper has no one to report them to.
func (s *Server) send(w dns.ResponseWriter, resp *dns.Msg, network string, fault Fault) {
	if network == "udp" {
		switch fault {
		case FaultWrongIDFirst:
			wrong := resp.Copy()
			wrong.Id = resp.Id + 1
			_ = w.WriteMsg(wrong)
		case FaultGarbageFirst:
			_, _ = w.Write(garbage())
		}
	}
	_ = w.WriteMsg(resp)
}

// garbage returns between 12 and 100 random bytes that do not parse as a
// DNS message.
func garbage() []byte {
	for {
		b := make([]byte, 12+rand.IntN(89))
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		if err := new(dns.Msg).Unpack(b); err != nil {
			return b
		}
	}
}

// sendRaw writes the datagrams that respond returns for req.
func (s *Server) sendRaw(w dns.ResponseWriter, req *dns.Msg, respond func([]byte) [][]byte) {
	packed, err := req.Pack()
	if err != nil {
		packed = nil
	}
	for _, datagram := range respond(packed) {
		_, _ = w.Write(datagram)
	}
}
