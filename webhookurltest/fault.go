package webhookurltest

import "fmt"

// Fault is a misbehavior the server applies to queries for a name, set with
// Server.SetFault. The zero value, FaultNone, answers normally. Delays are
// set separately with Server.SetDelay, so they combine with any Fault.
type Fault int

// The faults a Server can inject. Faults described as UDP-only answer
// normally over TCP, which is what a client falls back to.
const (
	// FaultNone answers normally.
	FaultNone Fault = iota

	// FaultDrop never answers, so the client times out. Over TCP the
	// connection stays open and unanswered.
	FaultDrop

	// FaultServFail answers SERVFAIL with an empty answer section.
	FaultServFail

	// FaultRefused answers REFUSED with an empty answer section.
	FaultRefused

	// FaultTruncateUDP answers over UDP with the TC bit set and an empty
	// answer section, and answers over TCP in full. A client must retry
	// over TCP to get the records.
	FaultTruncateUDP

	// FaultTruncateAlways answers with the TC bit set and an empty answer
	// section over both UDP and TCP, which no correct server does, so a
	// client that retries over TCP still gets no records.
	FaultTruncateAlways

	// FaultWrongIDFirst sends over UDP a copy of the reply with a different
	// message ID, then the correct reply. A client must ignore a reply
	// whose ID does not match its query (RFC 1035 section 7.3) rather than
	// accept it or fail on it.
	FaultWrongIDFirst

	// FaultGarbageFirst sends over UDP a datagram of random bytes that do
	// not parse as a DNS message, then the correct reply. A client must
	// ignore the first datagram rather than fail on it.
	FaultGarbageFirst

	// FaultLame answers NOERROR with empty answer and authority sections
	// and the RA bit clear, like a lame delegation or a server that does
	// not recurse. It differs from NODATA, which carries RA and, with
	// Server.SetSOA, a SOA record.
	FaultLame
)

var faultNames = [...]string{
	FaultNone:           "FaultNone",
	FaultDrop:           "FaultDrop",
	FaultServFail:       "FaultServFail",
	FaultRefused:        "FaultRefused",
	FaultTruncateUDP:    "FaultTruncateUDP",
	FaultTruncateAlways: "FaultTruncateAlways",
	FaultWrongIDFirst:   "FaultWrongIDFirst",
	FaultGarbageFirst:   "FaultGarbageFirst",
	FaultLame:           "FaultLame",
}

// String returns the name of the constant, such as "FaultDrop".
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}
