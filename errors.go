package webhookurl

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Reason is a stable, machine-readable code for why a URL was rejected.
// The codes never change meaning between releases, so an API can return them
// to its clients and a dashboard can count them.
type Reason string

// The reasons a URL can be rejected for. Each has a sentinel error of the
// same name with an Err prefix for use with errors.Is.
const (
	ReasonSchemeNotHTTPS        Reason = "scheme_not_https"
	ReasonTooLong               Reason = "too_long"
	ReasonUserinfo              Reason = "userinfo"
	ReasonFragment              Reason = "fragment"
	ReasonInvalidURL            Reason = "invalid_url"
	ReasonInvalidHost           Reason = "invalid_host"
	ReasonIPLiteralNotCanonical Reason = "ip_literal_not_canonical"
	ReasonLocalhost             Reason = "localhost"
	ReasonSpecialUseHost        Reason = "special_use_host"
	ReasonSingleLabelHost       Reason = "single_label_host"
	ReasonUnknownTLD            Reason = "unknown_tld"
	ReasonPublicSuffix          Reason = "public_suffix"
	ReasonPortNotAllowed        Reason = "port_not_allowed"
	ReasonPrivateAddress        Reason = "private_address"
	ReasonNoAddresses           Reason = "no_addresses"
	ReasonDNSNotFound           Reason = "dns_not_found"
	ReasonDNSFailure            Reason = "dns_failure"
)

// Sentinel errors, one per Reason. An *Error matches the sentinel of its
// reason under errors.Is, so callers can write
//
//	if errors.Is(err, webhookurl.ErrPrivateAddress) { ... }
//
// Resolvers plugged in through [Resolver] return errors wrapping
// ErrDNSNotFound or ErrNoAddresses to report NXDOMAIN and NODATA; any other
// resolver error becomes ReasonDNSFailure.
var (
	ErrSchemeNotHTTPS        = newSentinel(ReasonSchemeNotHTTPS)
	ErrTooLong               = newSentinel(ReasonTooLong)
	ErrUserinfo              = newSentinel(ReasonUserinfo)
	ErrFragment              = newSentinel(ReasonFragment)
	ErrInvalidURL            = newSentinel(ReasonInvalidURL)
	ErrInvalidHost           = newSentinel(ReasonInvalidHost)
	ErrIPLiteralNotCanonical = newSentinel(ReasonIPLiteralNotCanonical)
	ErrLocalhost             = newSentinel(ReasonLocalhost)
	ErrSpecialUseHost        = newSentinel(ReasonSpecialUseHost)
	ErrSingleLabelHost       = newSentinel(ReasonSingleLabelHost)
	ErrUnknownTLD            = newSentinel(ReasonUnknownTLD)
	ErrPublicSuffix          = newSentinel(ReasonPublicSuffix)
	ErrPortNotAllowed        = newSentinel(ReasonPortNotAllowed)
	ErrPrivateAddress        = newSentinel(ReasonPrivateAddress)
	ErrNoAddresses           = newSentinel(ReasonNoAddresses)
	ErrDNSNotFound           = newSentinel(ReasonDNSNotFound)
	ErrDNSFailure            = newSentinel(ReasonDNSFailure)
)

var sentinels = map[Reason]error{}

func newSentinel(r Reason) error {
	err := errors.New("webhookurl: " + string(r))
	sentinels[r] = err
	return err
}

// Reasons returns every reason code, in the order of their declaration.
func Reasons() []Reason {
	return []Reason{
		ReasonSchemeNotHTTPS, ReasonTooLong, ReasonUserinfo, ReasonFragment,
		ReasonInvalidURL, ReasonInvalidHost, ReasonIPLiteralNotCanonical,
		ReasonLocalhost, ReasonSpecialUseHost, ReasonSingleLabelHost,
		ReasonUnknownTLD, ReasonPublicSuffix, ReasonPortNotAllowed,
		ReasonPrivateAddress, ReasonNoAddresses, ReasonDNSNotFound,
		ReasonDNSFailure,
	}
}

// Error is the error returned for every rejected URL. Its Error method
// returns a message that is safe to show to the customer who submitted the
// URL: it quotes their input but never the addresses a DNS name resolved to,
// the range that matched, or the nameserver that failed, because those
// describe the network the validator runs in. Use [Error.Detail] for logs.
type Error struct {
	// Reason is the stable code of the rule that rejected the URL.
	Reason Reason

	// Value is the offending part of the input, in full: the URL, the
	// scheme, the host or the port, as the customer wrote it where possible.
	Value string

	// Addr is the address that was rejected for ReasonPrivateAddress,
	// as it appeared in a DNS answer or an IP literal.
	Addr netip.Addr

	// Class is the verdict of the address policy on Addr. Class.Embedded
	// is the IPv4 address decoded from Addr when Addr carries one.
	Class Classification

	// Resolved is true when Addr came from DNS rather than from the URL.
	Resolved bool

	// Err is the underlying cause, if any: a DNS error, context.Canceled,
	// context.DeadlineExceeded or a parse error.
	Err error

	// detail is a short explanation for logs and operators, such as the
	// parse step that failed. It never reaches Error.
	detail string
}

// maxQuoted bounds how much of an offending value Error quotes, so that a
// 2 MB URL does not turn into a 2 MB response body. Value keeps it all.
const maxQuoted = 120

func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Error returns "webhookurl: " followed by Message.
func (e *Error) Error() string {
	return "webhookurl: " + e.Message()
}

// Message returns a sentence fit for a 422 response to the customer who
// submitted the URL: what is wrong with it, with the offending value
// quoted. It is the text of Error without the package prefix.
func (e *Error) Message() string {
	v := quote(e.Value)
	switch e.Reason {
	case ReasonSchemeNotHTTPS:
		if e.Value == "" && e.detail == "empty" {
			return "URL is empty; it must start with https://"
		}
		if e.Value == "" {
			return "URL has no scheme; it must start with https://"
		}
		return "URL scheme " + v + " is not allowed; use https"
	case ReasonTooLong:
		return "URL is too long: " + e.detail
	case ReasonUserinfo:
		return "URL must not contain a user name or password before the host"
	case ReasonFragment:
		return "URL must not contain a fragment (the part after #)"
	case ReasonInvalidURL:
		return "invalid URL: " + e.detail + " in " + v
	case ReasonInvalidHost:
		return "host " + v + " is invalid: " + e.detail
	case ReasonIPLiteralNotCanonical:
		return "host " + v + " is a number that would be read as an IPv4 address; write IPv4 addresses as four decimal numbers like 192.0.2.1 or use a DNS name"
	case ReasonLocalhost:
		return "host " + v + " refers to the local machine"
	case ReasonSpecialUseHost:
		return "host " + v + " is a special-use name that is never publicly reachable"
	case ReasonSingleLabelHost:
		return "host " + v + " must be a fully qualified domain name such as hooks.example.com"
	case ReasonUnknownTLD:
		return "host " + v + " does not end in a public top-level domain"
	case ReasonPublicSuffix:
		return "host " + v + " is a public suffix, not a host name"
	case ReasonPortNotAllowed:
		if e.detail != "" {
			return "port " + v + " is not allowed: " + e.detail
		}
		return "port " + v + " is not allowed"
	case ReasonPrivateAddress:
		if e.Resolved {
			return "host " + v + " resolves to an IP address that is not publicly reachable"
		}
		return "IP address " + v + " is not publicly reachable"
	case ReasonNoAddresses:
		return "host " + v + " has no A or AAAA records"
	case ReasonDNSNotFound:
		return "host " + v + " was not found in DNS"
	case ReasonDNSFailure:
		return "DNS lookup for host " + v + " failed; try again later"
	}
	return "URL " + v + " was rejected (" + string(e.Reason) + ")"
}

// Detail returns a longer explanation for logs and operators. Unlike Error,
// it names the rejected address, the range it fell in and the underlying
// cause, so it must not be shown to the customer.
func (e *Error) Detail() string {
	var b strings.Builder
	b.WriteString(e.Error())
	if e.Reason == ReasonPrivateAddress && e.Addr.IsValid() {
		b.WriteString(" [")
		b.WriteString(e.Class.String())
		b.WriteString("]")
	} else if e.detail != "" && !detailInMessage(e.Reason) {
		b.WriteString(" [")
		b.WriteString(e.detail)
		b.WriteString("]")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// detailInMessage reports whether Message already includes the detail.
func detailInMessage(r Reason) bool {
	switch r {
	case ReasonInvalidURL, ReasonInvalidHost, ReasonTooLong, ReasonPortNotAllowed, ReasonSchemeNotHTTPS:
		return true
	}
	return false
}

// Is reports whether target is the sentinel of e's reason.
func (e *Error) Is(target error) bool {
	return target != nil && sentinels[e.Reason] == target
}

// Unwrap returns the underlying cause, such as context.Canceled.
func (e *Error) Unwrap() error { return e.Err }

func reject(r Reason, value, detail string) *Error {
	return &Error{Reason: r, Value: value, detail: detail}
}
