package webhookurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxLength is the longest canonical URL a Validator accepts when
// Config.MaxLength is zero.
const DefaultMaxLength = 2048

// maxMaxLength bounds Config.MaxLength, so that the input limit derived from
// it cannot overflow and no single URL can take megabytes of work.
const maxMaxLength = 1 << 20

// Config configures a Validator. The zero Config is the documented policy:
// https only, at most 2048 characters, any port, the built-in address table,
// and the nameservers of /etc/resolv.conf.
type Config struct {
	// MaxLength is the maximum length of the canonical URL in bytes.
	// Zero means DefaultMaxLength.
	MaxLength int

	// Ports lists the ports a URL may name. Nil or empty allows every port
	// from 1 to 65535. A URL without a port uses 443, which must then be in
	// the list.
	Ports []uint16

	// Allow lists prefixes that count as public although the address
	// table marks them otherwise, such as a partner network over a VPN.
	// A prefix matches the address as it appears; netip.Prefix.Contains
	// never matches an IPv4-mapped IPv6 address against an IPv4 prefix.
	Allow []netip.Prefix

	// Deny lists prefixes that are rejected on top of the address table.
	// A Deny prefix matches the address and any IPv4 address embedded in
	// it, and wins over Allow.
	Deny []netip.Prefix

	// DNS configures the built-in resolver. It is ignored when Resolver
	// is set.
	DNS DNSConfig

	// Resolver replaces the built-in resolver, for callers with their own
	// DNS client and for tests. Nil means a DNSResolver built from DNS.
	Resolver Resolver
}

// Validator checks webhook URLs against one policy. Build it once with New
// and share it: it is safe for concurrent use. The zero Validator is not
// usable.
type Validator struct {
	maxLength int
	ports     []uint16 // sorted; empty allows every port
	allow     []netip.Prefix
	deny      []rangeInfo
	resolver  Resolver
}

// New returns a Validator for cfg, or an error if cfg is invalid. It does
// not query DNS. When cfg.Resolver is nil and cfg.DNS.Nameservers is empty,
// New reads the nameserver lines of /etc/resolv.conf. If that fails, the
// static checks still work and every full validation fails with
// ReasonDNSFailure.
func New(cfg Config) (*Validator, error) {
	v := &Validator{maxLength: cfg.MaxLength}
	if v.maxLength == 0 {
		v.maxLength = DefaultMaxLength
	}
	if v.maxLength < len("https://a.b") {
		return nil, fmt.Errorf("webhookurl: MaxLength %d is too small for any URL", cfg.MaxLength)
	}
	if v.maxLength > maxMaxLength {
		return nil, fmt.Errorf("webhookurl: MaxLength %d is larger than the supported maximum of %d", cfg.MaxLength, maxMaxLength)
	}

	for _, p := range cfg.Ports {
		if p == 0 {
			return nil, errors.New("webhookurl: port 0 cannot be allowed")
		}
	}
	v.ports = slices.Clone(cfg.Ports)
	slices.Sort(v.ports)

	var err error
	if v.allow, err = cleanPrefixes("Allow", cfg.Allow); err != nil {
		return nil, err
	}
	deny, err := cleanPrefixes("Deny", cfg.Deny)
	if err != nil {
		return nil, err
	}
	for _, p := range deny {
		v.deny = append(v.deny, rangeInfo{prefix: p, name: "Denied by configuration", rfc: "Config.Deny"})
	}

	v.resolver = cfg.Resolver
	if v.resolver == nil {
		r, err := NewDNSResolver(cfg.DNS)
		switch {
		case errors.Is(err, errNoNameservers):
			v.resolver = failingResolver{err}
		case err != nil:
			return nil, err
		default:
			v.resolver = r
		}
	}
	return v, nil
}

func cleanPrefixes(field string, in []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if !p.IsValid() {
			return nil, fmt.Errorf("webhookurl: invalid prefix in Config.%s", field)
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("webhookurl: prefix %s in Config.%s has a zone", p, field)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Result describes an accepted URL.
type Result struct {
	// URL is the canonical form of the URL: the exact ASCII string to
	// store and to request. The scheme and host are lowercase, the host is
	// in punycode without a trailing dot, port 443 is omitted, the path is
	// percent-encoded and never empty.
	URL string

	// Host is the host in ASCII: a punycode DNS name, or the text of an IP
	// address without brackets.
	Host string

	// Port is the port to dial, 443 unless the URL names another.
	Port uint16

	// Addrs are the checked addresses: the address of an IP literal, or
	// every address the host resolved to in a full validation. A static
	// check of a DNS name leaves it empty.
	Addrs []netip.Addr
}

// HostPort returns Host and Port joined for net.Dial.
func (r Result) HostPort() string {
	return net.JoinHostPort(r.Host, strconv.Itoa(int(r.Port)))
}

// IsIPLiteral reports whether the URL names its host by IP address.
func (r Result) IsIPLiteral() bool {
	_, err := netip.ParseAddr(r.Host)
	return err == nil
}

// ValidateStatic applies every rule that needs no network: the URL rules,
// the host name rules and, for an IP literal, the address policy. A DNS
// name that passes still has to be resolved before it can be trusted; use
// Validate for that. The error is always an *Error.
func (v *Validator) ValidateStatic(raw string) (Result, error) {
	res, _, err := v.parse(raw)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// Validate applies the static rules, resolves a DNS name through the
// configured resolver and checks every address it returns. The context
// bounds the lookup. The error is always an *Error; when the context ends
// the lookup, errors.Is(err, context.Canceled) or
// errors.Is(err, context.DeadlineExceeded) holds as well.
func (v *Validator) Validate(ctx context.Context, raw string) (Result, error) {
	res, written, err := v.parse(raw)
	if err != nil {
		return Result{}, err
	}
	if len(res.Addrs) > 0 {
		return res, nil // an IP literal, already judged
	}

	addrs, lookupErr := v.lookup(ctx, res.Host, written)
	if lookupErr != nil {
		return Result{}, lookupErr
	}
	res.Addrs = addrs
	return res, nil
}

// lookup resolves host, the canonical ASCII name, and checks every
// address, so that one private answer among public ones rejects the URL: a
// client may dial any of them. Errors quote the host as the customer wrote
// it, which may be Unicode.
func (v *Validator) lookup(ctx context.Context, host, written string) ([]netip.Addr, *Error) {
	if ctx == nil {
		return nil, &Error{Reason: ReasonDNSFailure, Value: written, Err: errors.New("webhookurl: nil context")}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Reason: ReasonDNSFailure, Value: written, Err: err}
	}
	addrs, err := v.resolver.LookupAddrs(ctx, host)
	if err != nil {
		return nil, resolveError(written, err)
	}
	if len(addrs) == 0 {
		return nil, reject(ReasonNoAddresses, written, "")
	}
	for _, a := range addrs {
		c := v.CheckAddr(a)
		if !c.Public {
			return nil, &Error{Reason: ReasonPrivateAddress, Value: written, Addr: a, Class: c, Resolved: true}
		}
	}
	return addrs, nil
}

func resolveError(host string, err error) *Error {
	reason := ReasonDNSFailure
	switch {
	case errors.Is(err, ErrDNSNotFound):
		reason = ReasonDNSNotFound
	case errors.Is(err, ErrNoAddresses):
		reason = ReasonNoAddresses
	}
	return &Error{Reason: reason, Value: host, Err: err}
}

// CheckAddr applies the address policy to one address: Config.Deny first,
// then Config.Allow, then the address table. The delivery path calls it for
// every address it is about to dial.
func (v *Validator) CheckAddr(addr netip.Addr) Classification {
	c := Classify(addr)
	for i := range v.deny {
		p := v.deny[i].prefix
		if p.Contains(addr.WithZone("")) || (c.Embedded.IsValid() && p.Contains(c.Embedded)) {
			c.Public = false
			c.Range = Range{&v.deny[i]}
			return c
		}
	}
	if c.Public || addr.Zone() != "" {
		return c
	}
	for _, p := range v.allow {
		if p.Contains(addr) {
			c.Public = true
			c.Range = Range{}
			return c
		}
	}
	return c
}

// parse applies the static rules to raw and returns the canonical result
// and the host as written in raw.
func (v *Validator) parse(raw string) (Result, string, *Error) {
	// Bound the work before anything else. The canonical form is checked
	// against MaxLength below; an input four times longer cannot be
	// worth the parsing effort.
	if len(raw) > 4*v.maxLength {
		return Result{}, "", reject(ReasonTooLong, raw,
			fmt.Sprintf("%d bytes; the maximum is %d", len(raw), v.maxLength))
	}
	if err := scanCharacters(raw); err != nil {
		return Result{}, "", err
	}
	if strings.IndexByte(raw, '#') >= 0 {
		return Result{}, "", reject(ReasonFragment, raw, "")
	}

	rest, err := checkScheme(raw)
	if err != nil {
		return Result{}, "", err
	}

	// The authority ends at the first slash or question mark. Everything
	// after it is the path and query, which cannot change the host.
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]

	// Userinfo is rejected outright: "https://good.example@127.0.0.1/"
	// shows one host to a reader and connects to another.
	if strings.IndexByte(authority, '@') >= 0 {
		return Result{}, "", reject(ReasonUserinfo, raw, "")
	}
	hostText, portText, hasPort, err := splitAuthority(authority)
	if err != nil {
		return Result{}, "", err
	}
	port, err := v.checkPort(portText, hasPort)
	if err != nil {
		return Result{}, "", err
	}
	h, err := checkHost(hostText)
	if err != nil {
		return Result{}, "", err
	}
	if h.addr.IsValid() {
		if c := v.CheckAddr(h.addr); !c.Public {
			return Result{}, "", &Error{Reason: ReasonPrivateAddress, Value: hostText, Addr: h.addr, Class: c}
		}
	}

	canonical, err := buildCanonical(h, port, tail, raw)
	if err != nil {
		return Result{}, "", err
	}
	if len(canonical) > v.maxLength {
		return Result{}, "", reject(ReasonTooLong, raw,
			fmt.Sprintf("%d characters when encoded; the maximum is %d", len(canonical), v.maxLength))
	}

	res := Result{URL: canonical, Host: h.name, Port: port}
	if h.addr.IsValid() {
		res.Addrs = []netip.Addr{h.addr}
	}
	return res, hostText, nil
}

// scanCharacters rejects bytes that no webhook URL needs and that parsers
// disagree on. It never trims: a leading space that one parser strips and
// another keeps is how CVE-2023-24329 bypassed Python's urlparse.
func scanCharacters(raw string) *Error {
	for i := 0; i < len(raw); {
		b := raw[i]
		if b < utf8.RuneSelf {
			switch {
			case b <= ' ' || b == 0x7f:
				return reject(ReasonInvalidURL, raw, fmt.Sprintf("whitespace or control character at byte %d", i))
			case b == '\\':
				// WHATWG parsers read a backslash as a slash, so
				// "https://127.0.0.1\@good.example/" has two readings.
				return reject(ReasonInvalidURL, raw, fmt.Sprintf("backslash at byte %d", i))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(raw[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return reject(ReasonInvalidURL, raw, fmt.Sprintf("invalid UTF-8 at byte %d", i))
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return reject(ReasonInvalidURL, raw, fmt.Sprintf("whitespace or control character %U at byte %d", r, i))
		case unicode.Is(unicode.Cf, r):
			// Format characters such as U+200B and U+00AD are invisible,
			// and IDNA deletes some of them from host names.
			return reject(ReasonInvalidURL, raw, fmt.Sprintf("invisible format character %U at byte %d", r, i))
		}
		i += size
	}
	return nil
}

// checkScheme requires an https scheme, in any case, followed by "//",
// and returns what follows.
func checkScheme(raw string) (string, *Error) {
	if raw == "" {
		return "", reject(ReasonSchemeNotHTTPS, "", "empty")
	}
	colon := strings.IndexByte(raw, ':')
	if colon <= 0 || !isScheme(raw[:colon]) {
		return "", reject(ReasonSchemeNotHTTPS, "", "")
	}
	scheme := raw[:colon]
	if !strings.EqualFold(scheme, "https") {
		if strings.IndexByte(scheme, '.') >= 0 {
			// "hooks.example.com:8443/x" is a host without a scheme.
			return "", reject(ReasonSchemeNotHTTPS, "", "")
		}
		return "", reject(ReasonSchemeNotHTTPS, scheme, "")
	}
	rest := raw[colon+1:]
	if !strings.HasPrefix(rest, "//") {
		return "", reject(ReasonInvalidURL, raw, "https: must be followed by // and a host")
	}
	return rest[2:], nil
}

// isScheme reports whether s is a URI scheme (RFC 3986 Section 3.1).
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// splitAuthority splits host[:port] or [ipv6][:port]. The returned host keeps
// its brackets, which tell checkHost to parse an IPv6 literal.
func splitAuthority(authority string) (host, port string, hasPort bool, err *Error) {
	if strings.IndexByte(authority, '%') >= 0 {
		// Percent-encoding in a host is legal in RFC 3986 but clients
		// disagree on decoding it, so "127.0.0.%31" may reach 127.0.0.1.
		// In a bracketed host it introduces a zone, which names a local
		// interface.
		if strings.HasPrefix(authority, "[") {
			return "", "", false, reject(ReasonInvalidHost, authority, "IPv6 zone identifiers are not allowed")
		}
		return "", "", false, reject(ReasonInvalidHost, authority, "percent-encoded characters are not allowed in the host")
	}

	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", false, reject(ReasonInvalidHost, authority, "missing ] after IPv6 address")
		}
		host, after := authority[:end+1], authority[end+1:]
		if after == "" {
			return host, "", false, nil
		}
		if after[0] != ':' {
			return "", "", false, reject(ReasonInvalidHost, authority, "unexpected characters after ]")
		}
		return host, after[1:], true, nil
	}

	switch strings.Count(authority, ":") {
	case 0:
		return authority, "", false, nil
	case 1:
		i := strings.IndexByte(authority, ':')
		return authority[:i], authority[i+1:], true, nil
	}
	// Go's url.Parse accepts "https://::1:8443/" and net/http then dials
	// [::1]:8443, so an unbracketed IPv6 host must never reach a client.
	first := authority[:strings.IndexByte(authority, ':')]
	if first == "" || isHex(first) {
		return "", "", false, reject(ReasonInvalidHost, authority, "IPv6 addresses must be enclosed in brackets")
	}
	return "", "", false, reject(ReasonInvalidURL, authority, "more than one port")
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkPort parses the port and applies Config.Ports. An empty port after
// the colon means the default, as RFC 3986 Section 3.2.3 allows.
func (v *Validator) checkPort(text string, present bool) (uint16, *Error) {
	port := 443
	implied := !present || text == ""
	if !implied {
		if len(text) > 5 || !isDigits(text) {
			return 0, reject(ReasonInvalidURL, text, "the port must be a decimal number")
		}
		if len(text) > 1 && text[0] == '0' {
			return 0, reject(ReasonInvalidURL, text, "the port must not have leading zeros")
		}
		port, _ = strconv.Atoi(text)
		if port < 1 || port > 65535 {
			return 0, reject(ReasonPortNotAllowed, text, "ports range from 1 to 65535")
		}
	}
	if len(v.ports) > 0 {
		if _, ok := slices.BinarySearch(v.ports, uint16(port)); !ok {
			detail := "use one of " + v.portList()
			if implied {
				detail = "the URL names no port, so it uses 443; name one of " + v.portList()
			}
			return 0, reject(ReasonPortNotAllowed, strconv.Itoa(port), detail)
		}
	}
	return uint16(port), nil
}

// portList returns the allowed ports for an error message.
func (v *Validator) portList() string {
	var b strings.Builder
	for i, p := range v.ports {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// buildCanonical assembles the canonical URL. The path and query are
// copied with every byte outside the RFC 3986 character set for them
// percent-encoded, so the result is ASCII and parses back to itself. When
// the input is already canonical, as a stored URL is, it returns raw
// itself and allocates nothing.
func buildCanonical(h host, port uint16, tail, raw string) (string, *Error) {
	path, query, hasQuery := tail, "", false
	if i := strings.IndexByte(tail, '?'); i >= 0 {
		path, query, hasQuery = tail[:i], tail[i+1:], true
	}

	// Most URLs fit the stack buffer; longer ones grow on the heap.
	b := make([]byte, 0, 256)
	b = append(b, "https://"...)
	if h.addr.Is6() {
		b = append(b, '[')
		b = append(b, h.name...)
		b = append(b, ']')
	} else {
		b = append(b, h.name...)
	}
	if port != 443 {
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(port), 10)
	}
	if path == "" {
		b = append(b, '/')
	}
	var err *Error
	if b, err = appendEscaped(b, path, false); err != nil {
		return "", err
	}
	if hasQuery {
		b = append(b, '?')
		if b, err = appendEscaped(b, query, true); err != nil {
			return "", err
		}
	}
	if string(b) == raw {
		return raw, nil
	}
	return string(b), nil
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends a path or query to b, keeping valid
// percent-escapes and the characters RFC 3986 allows there (Section 3.3
// and 3.4) and encoding the rest. A '%' that does not start a valid escape
// is rejected rather than guessed at.
func appendEscaped(b []byte, s string, query bool) ([]byte, *Error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
				return b, reject(ReasonInvalidURL, s, "invalid percent-encoding")
			}
			b = append(b, s[i:i+3]...)
			i += 2
		case isPathChar(c) || (query && c == '?'):
			b = append(b, c)
		default:
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return b, nil
}

// pathChars marks the bytes that may appear unencoded in a path:
// unreserved, sub-delims, ':', '@' and '/'.
var pathChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("-._~!$&'()*+,;=:@/") {
		t[c] = true
	}
	return t
}()

func isPathChar(c byte) bool { return pathChars[c] }
