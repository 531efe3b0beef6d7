package webhookurl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/idna"
)

// mapResolver serves fixed answers and counts lookups. A name that is not
// in the map is NXDOMAIN; a name mapped to an error returns it.
type mapResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	errs    map[string]error
	lookups map[string]int
}

func newMapResolver(answers map[string][]string) *mapResolver {
	f := &mapResolver{answers: map[string][]netip.Addr{}, errs: map[string]error{}, lookups: map[string]int{}}
	for name, addrs := range answers {
		f.answers[name] = []netip.Addr{}
		for _, a := range addrs {
			f.answers[name] = append(f.answers[name], netip.MustParseAddr(a))
		}
	}
	return f
}

func (f *mapResolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups[host]++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err, ok := f.errs[host]; ok {
		return nil, err
	}
	addrs, ok := f.answers[host]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrDNSNotFound, host)
	}
	return append([]netip.Addr(nil), addrs...), nil
}

func newTestValidator(t *testing.T, cfg Config) *Validator {
	t.Helper()
	if cfg.Resolver == nil {
		cfg.Resolver = newMapResolver(nil)
	}
	v, err := New(cfg)
	require.NoError(t, err)
	return v
}

func reasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func TestValidateStaticCanonical(t *testing.T) {
	v := newTestValidator(t, Config{})
	tests := []struct {
		in, url, host string
		port          uint16
	}{
		{"HTTPS://Hooks.Example.COM/x", "https://hooks.example.com/x", "hooks.example.com", 443},
		{"https://hooks.example.com", "https://hooks.example.com/", "hooks.example.com", 443},
		{"https://hooks.example.com?a=1", "https://hooks.example.com/?a=1", "hooks.example.com", 443},
		{"https://hooks.example.com.:443/x", "https://hooks.example.com/x", "hooks.example.com", 443},
		{"https://hooks.example.com:/x", "https://hooks.example.com/x", "hooks.example.com", 443},
		{"https://hooks.example.com:8443/x?y=z", "https://hooks.example.com:8443/x?y=z", "hooks.example.com", 8443},
		{"https://münchen.de/päth?q=é", "https://xn--mnchen-3ya.de/p%C3%A4th?q=%C3%A9", "xn--mnchen-3ya.de", 443},
		{"https://XN--MNCHEN-3YA.DE/", "https://xn--mnchen-3ya.de/", "xn--mnchen-3ya.de", 443},
		{"https://hooks.example.com/a%2Fb/%7e", "https://hooks.example.com/a%2Fb/%7e", "hooks.example.com", 443},
		{"https://hooks.example.com/a b"[:len("https://hooks.example.com/a")] + "\"<>^`{|}", "https://hooks.example.com/a%22%3C%3E%5E%60%7B%7C%7D", "hooks.example.com", 443},
		{"https://hooks.example.com/?", "https://hooks.example.com/?", "hooks.example.com", 443},
		{"https://hooks.example.com/p?a=b?c/d", "https://hooks.example.com/p?a=b?c/d", "hooks.example.com", 443},
		{"https://8.8.8.8/", "https://8.8.8.8/", "8.8.8.8", 443},
		{"https://[2606:4700:4700:0000::1111]:8443/", "https://[2606:4700:4700::1111]:8443/", "2606:4700:4700::1111", 8443},
		{"https://[64:ff9b::808:808]/", "https://[64:ff9b::808:808]/", "64:ff9b::808:808", 443},
		{"https://foo.blogspot.com/", "https://foo.blogspot.com/", "foo.blogspot.com", 443},
		{"https://github.io/", "https://github.io/", "github.io", 443},
		{"https://example.com/", "https://example.com/", "example.com", 443},
		{"https://www.example.org/", "https://www.example.org/", "www.example.org", 443},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := v.ValidateStatic(tt.in)
			require.NoError(t, err, "ValidateStatic(%q)", tt.in)
			assert.Equal(t, tt.url, res.URL, "ValidateStatic(%q).URL", tt.in)
			assert.Equal(t, tt.host, res.Host, "ValidateStatic(%q).Host", tt.in)
			assert.Equal(t, tt.port, res.Port, "ValidateStatic(%q).Port", tt.in)

			again, err := v.ValidateStatic(res.URL)
			require.NoError(t, err, "ValidateStatic(%q) of the canonical form", res.URL)
			assert.Equal(t, res, again, "canonical form is not a fixed point")
		})
	}
}

// staticRejects lists inputs rejected without DNS, each with its reason.
// Rows come in families: every hostile form of one idea.
var staticRejects = []struct {
	in     string
	reason Reason
}{
	// Scheme: https only, in any case.
	{"http://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"Http://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"HTTP://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"gopher://127.0.0.1:6379/_INFO", ReasonSchemeNotHTTPS},
	{"file:///etc/passwd", ReasonSchemeNotHTTPS},
	{"ftp://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"ws://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"wss://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"javascript:alert(1)", ReasonSchemeNotHTTPS},
	{"dict://127.0.0.1:11211/", ReasonSchemeNotHTTPS},
	{"httpss://hooks.example.info/", ReasonSchemeNotHTTPS},
	{"hooks.example.info/x", ReasonSchemeNotHTTPS},
	{"hooks.example.info:443/x", ReasonSchemeNotHTTPS},
	{"//hooks.example.info/x", ReasonSchemeNotHTTPS},
	{"://hooks.example.info/x", ReasonSchemeNotHTTPS},
	{"", ReasonSchemeNotHTTPS},
	{"https:hooks.example.info/x", ReasonInvalidURL},
	{"https:/hooks.example.info/x", ReasonInvalidURL},

	// Userinfo, including decoys that show one host and reach another.
	{"https://user@hooks.example.info/", ReasonUserinfo},
	{"https://user:pass@hooks.example.info/", ReasonUserinfo},
	{"https://a.example.com@127.0.0.1/", ReasonUserinfo},
	{"https://hooks.example.info@127.0.0.1/", ReasonUserinfo},
	{"https://hooks.example.info:443@127.0.0.1/", ReasonUserinfo},
	{"https://@hooks.example.info/", ReasonUserinfo},

	// Fragments, including fragment-then-@ confusion.
	{"https://hooks.example.info/#x", ReasonFragment},
	{"https://hooks.example.info#@169.254.169.254/", ReasonFragment},
	{"https://hooks.example.info/#", ReasonFragment},

	// Whitespace and control characters anywhere, never trimmed.
	{" https://hooks.example.info/", ReasonInvalidURL},
	{"https://hooks.example.info/ ", ReasonInvalidURL},
	{"\thttps://hooks.example.info/", ReasonInvalidURL},
	{"https://hooks.example.info/a\nb", ReasonInvalidURL},
	{"https://hooks.example.info\r\n/", ReasonInvalidURL},
	{"https://hooks.example.info/\x00", ReasonInvalidURL},
	{"https://hooks.example.info/\x7f", ReasonInvalidURL},
	{"https://hooks.example.info/\u0085", ReasonInvalidURL},
	{"https://hooks.example.info/\u00a0", ReasonInvalidURL},
	{"https://hooks\u3000example.info/", ReasonInvalidURL},
	{"https://hooks.example.info/\u2028", ReasonInvalidURL},
	{"https://a\u200bb.example.info/", ReasonInvalidURL},
	{"https://loc\u00adalhost/", ReasonInvalidURL},
	{"https://hooks.example.info/\u202e", ReasonInvalidURL},
	{"https://hooks.example.info/\xff", ReasonInvalidURL},

	// Backslashes, which WHATWG parsers read as slashes.
	{"https://127.0.0.1\\@hooks.example.info/", ReasonInvalidURL},
	{"https:\\\\hooks.example.info/", ReasonInvalidURL},
	{"https://hooks.example.info\\x", ReasonInvalidURL},
	{"https://hooks.example.info/a\\b", ReasonInvalidURL},

	// Percent signs in the host.
	{"https://%6c%6f%63%61%6c%68%6f%73%74/", ReasonInvalidHost},
	{"https://127.0.0.%31/", ReasonInvalidHost},
	{"https://hooks%2eexample.info/", ReasonInvalidHost},
	{"https://[fe80::1%25eth0]/", ReasonInvalidHost},
	{"https://[fe80::1%25lo0]/", ReasonInvalidHost},
	{"https://[fe80::1%eth0]/", ReasonInvalidHost},

	// Empty, unbracketed IPv6 and doubled ports.
	{"https:///x", ReasonInvalidHost},
	{"https://", ReasonInvalidHost},
	{"https://:443/", ReasonInvalidHost},
	{"https://?x", ReasonInvalidHost},
	{"https://::1:8443/", ReasonInvalidHost},
	{"https://::1/", ReasonInvalidHost},
	{"https://fe80::1/", ReasonInvalidHost},
	{"https://a.example.com:8888:443/", ReasonInvalidURL},
	{"https://[::1/", ReasonInvalidHost},
	{"https://[::1]x/", ReasonInvalidHost},
	{"https://[127.0.0.1]/", ReasonInvalidHost},
	{"https://[hooks.example.info]/", ReasonInvalidHost},
	{"https://[v1.fe80::a+en1]/", ReasonInvalidHost},

	// Ports.
	{"https://hooks.example.info:0/", ReasonPortNotAllowed},
	{"https://hooks.example.info:65536/", ReasonPortNotAllowed},
	{"https://hooks.example.info:99999/", ReasonPortNotAllowed},
	{"https://hooks.example.info:123456/", ReasonInvalidURL},
	{"https://hooks.example.info:0443/", ReasonInvalidURL},
	{"https://hooks.example.info:+443/", ReasonInvalidURL},
	{"https://hooks.example.info:44a/", ReasonInvalidURL},
	{"https://hooks.example.info:-1/", ReasonInvalidURL},

	// Names that mean the local machine, after case folding, trailing
	// dots and IDNA mapping.
	{"https://localhost/", ReasonLocalhost},
	{"https://LOCALHOST/", ReasonLocalhost},
	{"https://LocalHost:8443/", ReasonLocalhost},
	{"https://localhost./", ReasonLocalhost},
	{"https://api.localhost/", ReasonLocalhost},
	{"https://a.b.localhost./", ReasonLocalhost},
	{"https://localhost.localdomain/", ReasonLocalhost},
	{"https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", ReasonLocalhost},
	{"https://ＬＯＣＡＬＨＯＳＴ/", ReasonLocalhost},
	{"https://localhost\u3002/", ReasonLocalhost},
	{"https://api\uff0elocalhost/", ReasonLocalhost},

	// Special-use names that are never public.
	{"https://printer.local/", ReasonSpecialUseHost},
	{"https://printer.local./", ReasonSpecialUseHost},
	{"https://PRINTER.LOCAL/", ReasonSpecialUseHost},
	{"https://local/", ReasonSpecialUseHost},
	{"https://metadata.google.internal/computeMetadata/v1/", ReasonSpecialUseHost},
	{"https://metadata.google.internal./computeMetadata/v1/", ReasonSpecialUseHost},
	{"https://router.home.arpa/", ReasonSpecialUseHost},
	{"https://1.0.0.127.in-addr.arpa/", ReasonSpecialUseHost},
	{"https://ipv4only.arpa/", ReasonSpecialUseHost},
	{"https://hooks.test/", ReasonSpecialUseHost},
	{"https://hooks.example/", ReasonSpecialUseHost},
	{"https://hooks.invalid/", ReasonSpecialUseHost},
	{"https://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/", ReasonSpecialUseHost},
	{"https://hooks.alt/", ReasonSpecialUseHost},

	// Single labels, which search domains turn into internal hosts.
	{"https://redis/", ReasonSingleLabelHost},
	{"https://redis./", ReasonSingleLabelHost},
	{"https://metadata/", ReasonSingleLabelHost},
	{"https://com/", ReasonSingleLabelHost},
	{"https://l\u043ecalhost/", ReasonSingleLabelHost},

	// Top-level domains that are not ICANN's, and bare public suffixes.
	{"https://hooks.corp/", ReasonUnknownTLD},
	{"https://hooks.lan/", ReasonUnknownTLD},
	{"https://hooks.home/", ReasonUnknownTLD},
	{"https://hooks.localdomain/", ReasonUnknownTLD},
	{"https://hooks.intranet/", ReasonUnknownTLD},
	{"https://hooks.example.notatld/", ReasonUnknownTLD},
	{"https://co.uk/", ReasonPublicSuffix},
	{"https://com.au/", ReasonPublicSuffix},

	// Host name syntax.
	{"https://xn--a.example.com/", ReasonInvalidHost},
	{"https://xn--.example.com/", ReasonInvalidHost},
	{"https://hooks_1.example.com/", ReasonInvalidHost},
	{"https://-hooks.example.com/", ReasonInvalidHost},
	{"https://hooks-.example.com/", ReasonInvalidHost},
	{"https://ho--oks.example.com/", ReasonInvalidHost},
	{"https://hooks..example.com/", ReasonInvalidHost},
	{"https://.hooks.example.com/", ReasonInvalidHost},
	{"https://hooks.example.com../", ReasonInvalidHost},
	{"https://./", ReasonInvalidHost},
	{"https://" + strings.Repeat("a", 64) + ".example.com/", ReasonInvalidHost},
	{"https://" + strings.Repeat("a.", 126) + "com/", ReasonInvalidHost},
	{"https://hooks.exa*mple.com/", ReasonInvalidHost},
	{"https://hooks.example.com<script>/", ReasonInvalidHost},

	// Numbers that browsers and inet_aton read as IPv4 addresses.
	{"https://2130706433/", ReasonIPLiteralNotCanonical},
	{"https://0x7f000001/", ReasonIPLiteralNotCanonical},
	{"https://0X7F000001/", ReasonIPLiteralNotCanonical},
	{"https://0x7f.0x0.0x0.0x1/", ReasonIPLiteralNotCanonical},
	{"https://0177.0.0.1/", ReasonIPLiteralNotCanonical},
	{"https://0177.0000.0000.0001/", ReasonIPLiteralNotCanonical},
	{"https://127.1/", ReasonIPLiteralNotCanonical},
	{"https://127.0.1/", ReasonIPLiteralNotCanonical},
	{"https://0x7F.1/", ReasonIPLiteralNotCanonical},
	{"https://0x7f.1/", ReasonIPLiteralNotCanonical},
	{"https://127.000.000.1/", ReasonIPLiteralNotCanonical},
	{"https://127.0.0x0.1/", ReasonIPLiteralNotCanonical},
	{"https://010.0.0.1/", ReasonIPLiteralNotCanonical},
	{"https://169.254.169.254./", ReasonIPLiteralNotCanonical},
	{"https://8.8.8.8./", ReasonIPLiteralNotCanonical},
	{"https://0/", ReasonIPLiteralNotCanonical},
	{"https://0x/", ReasonIPLiteralNotCanonical},
	{"https://1.2.3.4.5/", ReasonIPLiteralNotCanonical},
	{"https://256.0.0.1/", ReasonIPLiteralNotCanonical},
	{"https://hooks.example.123/", ReasonIPLiteralNotCanonical},
	{"https://hooks.0x10/", ReasonIPLiteralNotCanonical},
	{"https://\uff11\uff12\uff17.0.0.1./", ReasonIPLiteralNotCanonical},

	// IP literals in the address table, in every notation.
	{"https://10.0.0.5/", ReasonPrivateAddress},
	{"https://127.0.0.1/", ReasonPrivateAddress},
	{"https://127.0.0.2/", ReasonPrivateAddress},
	{"https://127.255.255.254:8443/", ReasonPrivateAddress},
	{"https://100.64.0.1/", ReasonPrivateAddress},
	{"https://172.16.0.1/", ReasonPrivateAddress},
	{"https://192.168.1.1/", ReasonPrivateAddress},
	{"https://198.18.0.1/", ReasonPrivateAddress},
	{"https://224.0.0.1/", ReasonPrivateAddress},
	{"https://239.255.255.250/", ReasonPrivateAddress},
	{"https://240.0.0.1/", ReasonPrivateAddress},
	{"https://255.255.255.255/", ReasonPrivateAddress},
	{"https://192.0.2.1/", ReasonPrivateAddress},
	{"https://198.51.100.7/", ReasonPrivateAddress},
	{"https://203.0.113.9/", ReasonPrivateAddress},
	{"https://0.0.0.0:8080/", ReasonPrivateAddress},
	{"https://0.1.2.3/", ReasonPrivateAddress},
	{"https://169.254.169.254/latest/meta-data/iam/security-credentials/", ReasonPrivateAddress},
	{"https://168.63.129.16/", ReasonPrivateAddress},
	{"https://100.100.100.200/", ReasonPrivateAddress},
	{"https://192.0.0.192/", ReasonPrivateAddress},
	{"https://127\u30020\u30020\u30021/", ReasonPrivateAddress},
	{"https://169\uff0e254\uff0e169\uff0e254/latest/meta-data/", ReasonPrivateAddress},
	{"https://\u2460\u2461\u2466.0.0.1/", ReasonPrivateAddress},
	{"https://[::]/", ReasonPrivateAddress},
	{"https://[::1]/", ReasonPrivateAddress},
	{"https://[0:0:0:0:0:0:0:1]/", ReasonPrivateAddress},
	{"https://[fe80::1]/", ReasonPrivateAddress},
	{"https://[FE80::1]/", ReasonPrivateAddress},
	{"https://[fd12:3456:789a::1]/", ReasonPrivateAddress},
	{"https://[fc00::1]/", ReasonPrivateAddress},
	{"https://[fec0::1]/", ReasonPrivateAddress},
	{"https://[ff02::1]/", ReasonPrivateAddress},
	{"https://[2001:db8::1]/", ReasonPrivateAddress},
	{"https://[3fff::1]/", ReasonPrivateAddress},
	{"https://[100::1]/", ReasonPrivateAddress},
	{"https://[fd00:ec2::254]/latest/meta-data/", ReasonPrivateAddress},
	{"https://[::ffff:127.0.0.1]/", ReasonPrivateAddress},
	{"https://[::ffff:7f00:1]/", ReasonPrivateAddress},
	{"https://[::ffff:a9fe:a9fe]/latest/meta-data/", ReasonPrivateAddress},
	{"https://[::ffff:8.8.8.8]/", ReasonPrivateAddress},
	{"https://[::127.0.0.1]/", ReasonPrivateAddress},
	{"https://[::a00:5]/", ReasonPrivateAddress},
	{"https://[::ffff:0:a9fe:a9fe]/", ReasonPrivateAddress},
	{"https://[64:ff9b::a9fe:a9fe]/", ReasonPrivateAddress},
	{"https://[64:ff9b::127.0.0.1]/", ReasonPrivateAddress},
	{"https://[64:ff9b:1::808:808]/", ReasonPrivateAddress},
	{"https://[2002:a9fe:a9fe::1]/", ReasonPrivateAddress},
	{"https://[2002:808:808::1]/", ReasonPrivateAddress},
	{"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", ReasonPrivateAddress},
}

func TestValidateStaticRejects(t *testing.T) {
	v := newTestValidator(t, Config{})
	for _, tt := range staticRejects {
		t.Run(tt.in, func(t *testing.T) {
			res, err := v.ValidateStatic(tt.in)
			require.Error(t, err, "ValidateStatic(%q) = %+v; want %s", tt.in, res, tt.reason)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.reason, e.Reason, "ValidateStatic(%q) reason; detail: %s", tt.in, e.Detail())
			assert.ErrorIs(t, err, sentinels[tt.reason])
			assert.Equal(t, Result{}, res)
		})
	}
}

// TestValidateRejectsStaticFailuresWithoutDNS checks that names rejected by
// the static rules never reach the resolver.
func TestValidateRejectsStaticFailuresWithoutDNS(t *testing.T) {
	resolver := newMapResolver(nil)
	v := newTestValidator(t, Config{Resolver: resolver})
	for _, tt := range staticRejects {
		_, err := v.Validate(context.Background(), tt.in)
		assert.Equal(t, tt.reason, reasonOf(err), "Validate(%q)", tt.in)
	}
	assert.Empty(t, resolver.lookups, "the resolver was asked about statically rejected names")
}

func TestValidateStaticIDNAMapsToIPv4(t *testing.T) {
	v := newTestValidator(t, Config{})
	res, err := v.ValidateStatic("https://8\u30028\u30028\u30028/")
	require.NoError(t, err)
	assert.Equal(t, "https://8.8.8.8/", res.URL)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("8.8.8.8")}, res.Addrs)
}

func TestValidateStaticLength(t *testing.T) {
	v := newTestValidator(t, Config{})
	prefix := "https://hooks.example.info/"

	exact := prefix + strings.Repeat("a", DefaultMaxLength-len(prefix))
	res, err := v.ValidateStatic(exact)
	require.NoError(t, err, "a URL of exactly %d characters", DefaultMaxLength)
	assert.Len(t, res.URL, DefaultMaxLength)

	_, err = v.ValidateStatic(exact + "a")
	assert.ErrorIs(t, err, ErrTooLong, "a URL of %d characters", DefaultMaxLength+1)

	// 1,100 é are 2,200 bytes and 6,600 characters once percent-encoded.
	_, err = v.ValidateStatic(prefix + strings.Repeat("é", 1100))
	assert.ErrorIs(t, err, ErrTooLong, "a path of 1,100 é")

	// A path that fits as written but not once encoded.
	_, err = v.ValidateStatic(prefix + strings.Repeat("<", 700))
	assert.ErrorIs(t, err, ErrTooLong, "a path of 700 < that encodes to 2,100 characters")

	// Far over the limit: rejected before parsing.
	_, err = v.ValidateStatic(prefix + strings.Repeat("a", 1<<20))
	assert.ErrorIs(t, err, ErrTooLong, "a 1 MiB URL")

	short := newTestValidator(t, Config{MaxLength: 40})
	_, err = short.ValidateStatic("https://hooks.example.info/0123456789abc")
	assert.NoError(t, err, "40 characters with MaxLength 40")
	_, err = short.ValidateStatic("https://hooks.example.info/0123456789abcd")
	assert.ErrorIs(t, err, ErrTooLong, "41 characters with MaxLength 40")
}

func TestValidateStaticPorts(t *testing.T) {
	v := newTestValidator(t, Config{Ports: []uint16{443, 8443}})
	for _, tt := range []struct {
		in     string
		reason Reason
	}{
		{"https://hooks.example.info/", ""},
		{"https://hooks.example.info:443/", ""},
		{"https://hooks.example.info:8443/", ""},
		{"https://hooks.example.info:8080/", ReasonPortNotAllowed},
		{"https://hooks.example.info:22/", ReasonPortNotAllowed},
		{"https://8.8.8.8:6379/", ReasonPortNotAllowed},
	} {
		_, err := v.ValidateStatic(tt.in)
		assert.Equal(t, tt.reason, reasonOf(err), "ValidateStatic(%q)", tt.in)
	}

	noDefault := newTestValidator(t, Config{Ports: []uint16{8443, 9443}})
	_, err := noDefault.ValidateStatic("https://hooks.example.info/")
	assert.ErrorIs(t, err, ErrPortNotAllowed, "443 is implied and not in Ports")
	assert.EqualError(t, err, `webhookurl: port "443" is not allowed: the URL names no port, so it uses 443; name one of 8443, 9443`)
	_, err = noDefault.ValidateStatic("https://hooks.example.info:22/")
	assert.EqualError(t, err, `webhookurl: port "22" is not allowed: use one of 8443, 9443`)
}

func TestValidateDNS(t *testing.T) {
	resolver := newMapResolver(map[string][]string{
		"hooks.example.info":                {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"127.0.0.1.nip.example.info":        {"127.0.0.1"},
		"app.localtest.example.info":        {"127.0.0.1"},
		"private.example.info":              {"10.0.0.5"},
		"sinkhole.example.info":             {"0.0.0.0"},
		"multi.example.info":                {"93.184.215.14", "127.0.0.1"},
		"dual.example.info":                 {"93.184.215.14", "::1"},
		"mapped.example.info":               {"::ffff:169.254.169.254"},
		"nat64.example.info":                {"64:ff9b::5db8:d70e"},
		"nat64-private.example.info":        {"64:ff9b::a9fe:a9fe"},
		"metadata-alias.example.info":       {"169.254.169.254"},
		"azure.example.info":                {"168.63.129.16"},
		"cgnat.example.info":                {"100.64.0.1"},
		"teredo.example.info":               {"2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		"empty.example.info":                {},
		"xn--mnchen-3ya.de":                 {"93.184.215.14"},
		"xn--lcalhost-nbh.example.info":     {"127.0.0.1"},
		"hooks.example.com":                 {"93.184.215.14"},
		"www.example.org":                   {"2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"partner.example.info":              {"10.20.30.40"},
		"denied.example.info":               {"93.184.215.99"},
		"denied-embedded.example.info":      {"64:ff9b::5db8:d763"},
		"mapped-public-denied.example.info": {"::ffff:93.184.215.99"},
	})
	resolver.errs["failing.example.info"] = errors.New("nameserver 127.0.0.1:53 returned SERVFAIL")
	resolver.errs["nodata.example.info"] = fmt.Errorf("%w: nodata.example.info", ErrNoAddresses)

	v := newTestValidator(t, Config{
		Resolver: resolver,
		Allow:    []netip.Prefix{netip.MustParsePrefix("10.20.30.0/24")},
		Deny:     []netip.Prefix{netip.MustParsePrefix("93.184.215.99/32")},
	})

	tests := []struct {
		in     string
		reason Reason
		addr   string // the address named by a private_address error
	}{
		{"https://hooks.example.info/ingest", "", ""},
		{"HTTPS://HOOKS.EXAMPLE.INFO/ingest", "", ""},
		{"https://hooks.example.com/", "", ""},
		{"https://www.example.org/", "", ""},
		{"https://münchen.de/", "", ""},
		{"https://nat64.example.info/", "", ""},
		{"https://partner.example.info/", "", ""},
		{"https://127.0.0.1.nip.example.info/", ReasonPrivateAddress, "127.0.0.1"},
		{"https://app.localtest.example.info/", ReasonPrivateAddress, "127.0.0.1"},
		{"https://l\u043ecalhost.example.info/", ReasonPrivateAddress, "127.0.0.1"},
		{"https://private.example.info/", ReasonPrivateAddress, "10.0.0.5"},
		{"https://sinkhole.example.info/", ReasonPrivateAddress, "0.0.0.0"},
		{"https://multi.example.info/", ReasonPrivateAddress, "127.0.0.1"},
		{"https://dual.example.info/", ReasonPrivateAddress, "::1"},
		{"https://mapped.example.info/", ReasonPrivateAddress, "::ffff:169.254.169.254"},
		{"https://nat64-private.example.info/", ReasonPrivateAddress, "64:ff9b::a9fe:a9fe"},
		{"https://metadata-alias.example.info/", ReasonPrivateAddress, "169.254.169.254"},
		{"https://azure.example.info/", ReasonPrivateAddress, "168.63.129.16"},
		{"https://cgnat.example.info/", ReasonPrivateAddress, "100.64.0.1"},
		{"https://teredo.example.info/", ReasonPrivateAddress, "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		{"https://denied.example.info/", ReasonPrivateAddress, "93.184.215.99"},
		{"https://denied-embedded.example.info/", ReasonPrivateAddress, "64:ff9b::5db8:d763"},
		{"https://mapped-public-denied.example.info/", ReasonPrivateAddress, "::ffff:93.184.215.99"},
		{"https://empty.example.info/", ReasonNoAddresses, ""},
		{"https://nodata.example.info/", ReasonNoAddresses, ""},
		{"https://nxdomain.example.info/", ReasonDNSNotFound, ""},
		{"https://failing.example.info/", ReasonDNSFailure, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := v.Validate(context.Background(), tt.in)
			if tt.reason == "" {
				require.NoError(t, err, "Validate(%q)", tt.in)
				assert.NotEmpty(t, res.Addrs, "Validate(%q).Addrs", tt.in)
				for _, a := range res.Addrs {
					assert.True(t, v.CheckAddr(a).Public, "Validate(%q) accepted non-public %s", tt.in, a)
				}
				return
			}
			require.Error(t, err, "Validate(%q) = %+v; want %s", tt.in, res, tt.reason)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.reason, e.Reason, "Validate(%q): %s", tt.in, e.Detail())
			if tt.addr != "" {
				assert.Equal(t, netip.MustParseAddr(tt.addr), e.Addr, "Validate(%q) names the first bad address", tt.in)
				assert.True(t, e.Resolved)
				if !strings.Contains(tt.in, tt.addr) {
					assert.NotContains(t, e.Error(), tt.addr, "the customer message must not reveal resolved addresses")
				}
				assert.Contains(t, e.Detail(), netip.MustParseAddr(tt.addr).String(), "the log detail names the address")
			}
		})
	}
}

func TestValidateEmbeddedAddressNamed(t *testing.T) {
	resolver := newMapResolver(map[string][]string{"mapped.example.info": {"::ffff:a9fe:a9fe"}})
	v := newTestValidator(t, Config{Resolver: resolver})

	_, err := v.Validate(context.Background(), "https://mapped.example.info/")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, netip.MustParseAddr("169.254.169.254"), e.Class.Embedded)
	assert.Equal(t, "169.254.0.0/16", e.Class.Range.Prefix().String())
	assert.Contains(t, e.Detail(), "169.254.169.254")
}

func TestValidateIPLiteralSkipsDNS(t *testing.T) {
	resolver := newMapResolver(nil)
	v := newTestValidator(t, Config{Resolver: resolver})
	res, err := v.Validate(context.Background(), "https://[2606:4700:4700::1111]/")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2606:4700:4700::1111")}, res.Addrs)
	assert.Empty(t, resolver.lookups)
}

func TestValidateContextCanceled(t *testing.T) {
	resolver := newMapResolver(map[string][]string{"hooks.example.info": {"93.184.215.14"}})
	v := newTestValidator(t, Config{Resolver: resolver})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := v.Validate(ctx, "https://hooks.example.info/")
	assert.ErrorIs(t, err, ErrDNSFailure)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestValidateWithoutNameservers(t *testing.T) {
	old := resolvConfPath
	resolvConfPath = "testdata/does-not-exist/resolv.conf"
	t.Cleanup(func() { resolvConfPath = old })

	v, err := New(Config{})
	require.NoError(t, err, "New must not need DNS for static checks")
	_, err = v.ValidateStatic("https://hooks.example.info/")
	assert.NoError(t, err)
	_, err = v.Validate(context.Background(), "https://hooks.example.info/")
	assert.ErrorIs(t, err, ErrDNSFailure, "full validation fails closed without nameservers")
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"port zero", Config{Ports: []uint16{0}}},
		{"tiny max length", Config{MaxLength: 5}},
		{"huge max length", Config{MaxLength: math.MaxInt}},
		{"invalid allow prefix", Config{Allow: []netip.Prefix{{}}}},
		{"invalid deny prefix", Config{Deny: []netip.Prefix{{}}}},
		{"nameserver name", Config{DNS: DNSConfig{Nameservers: []string{"dns.example.info:53"}}}},
		{"nameserver port zero", Config{DNS: DNSConfig{Nameservers: []string{"127.0.0.1:0"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			assert.Error(t, err)
		})
	}
}

func TestErrorMessages(t *testing.T) {
	v := newTestValidator(t, Config{Resolver: newMapResolver(map[string][]string{
		"private.example.info": {"10.0.0.5"},
	})})
	tests := []struct {
		in   string
		want string
	}{
		{"http://hooks.example.info/", `webhookurl: URL scheme "http" is not allowed; use https`},
		{"hooks.example.info/", "webhookurl: URL has no scheme; it must start with https://"},
		{"https://user:secret@hooks.example.info/", "webhookurl: URL must not contain a user name or password before the host"},
		{"https://localhost/", `webhookurl: host "localhost" refers to the local machine`},
		{"https://10.0.0.5/", `webhookurl: IP address "10.0.0.5" is not publicly reachable`},
		{"https://private.example.info/", `webhookurl: host "private.example.info" resolves to an IP address that is not publicly reachable`},
		{"https://nx.example.info/", `webhookurl: host "nx.example.info" was not found in DNS`},
		{"https://redis/", `webhookurl: host "redis" must be a fully qualified domain name such as hooks.example.com`},
		{"https://hooks.example.info:8888:443/", `webhookurl: invalid URL: more than one port in "hooks.example.info:8888:443"`},
		{"", "webhookurl: URL is empty; it must start with https://"},
		{"https://hooks.example.info:99999/", `webhookurl: port "99999" is not allowed: ports range from 1 to 65535`},
		{"https://münchen.example.info/", `webhookurl: host "münchen.example.info" was not found in DNS`},
		{"https://a_b.example.com/", `webhookurl: host "a_b.example.com" is invalid: only letters, digits and hyphens are allowed`},
	}
	for _, tt := range tests {
		_, err := v.Validate(context.Background(), tt.in)
		require.Error(t, err)
		assert.Equal(t, tt.want, err.Error(), "Validate(%q).Error()", tt.in)
		assert.NotContains(t, err.Error(), "secret", "a password must never be echoed")
	}
}

func TestErrorQuotesLongValuesShortly(t *testing.T) {
	v := newTestValidator(t, Config{})
	long := "https://" + strings.Repeat("é", 200) + ".example.info:99999/"
	_, err := v.ValidateStatic(long)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Less(t, len(e.Error()), 400, "the message quotes a bounded prefix")
	assert.True(t, strings.HasSuffix(e.Value, "99999") || strings.Contains(long, e.Value), "Value keeps the offending text in full")
}

func TestEveryReasonHasSentinelAndMessage(t *testing.T) {
	seen := map[error]bool{}
	for _, r := range Reasons() {
		s, ok := sentinels[r]
		require.True(t, ok, "reason %s has no sentinel", r)
		assert.False(t, seen[s], "reason %s shares a sentinel", r)
		seen[s] = true

		e := &Error{Reason: r, Value: "v"}
		assert.NotContains(t, e.Message(), "was rejected (", "reason %s has no message of its own", r)
		assert.ErrorIs(t, e, s)
		for _, other := range Reasons() {
			if other != r {
				assert.NotErrorIs(t, e, sentinels[other])
			}
		}
	}
	assert.Len(t, sentinels, len(Reasons()))
}

// TestASCIIFastPathMatchesIDNA checks that skipping IDNA for plain ASCII
// names changes nothing: such names map to themselves, or to their lower
// case, under the Lookup profile whenever checkLabels accepts them.
func TestASCIIFastPathMatchesIDNA(t *testing.T) {
	names := []string{
		"hooks.example.com", "a.b.c", "x1-2.example.info", "ab--c.example.com",
		"-a.example.com", "a-.example.com", "0x7f.example.com", "r3---sn.example.com",
		"123.example.com", "a.b-", strings.Repeat("a", 63) + ".com",
	}
	for _, name := range names {
		upper := strings.ToUpper(name[:1]) + name[1:]
		require.True(t, isPlainASCII(upper), "isPlainASCII(%q)", upper)
		if checkLabels(name, name) == nil {
			mapped, err := idna.Lookup.ToASCII(upper)
			assert.NoError(t, err, "idna.Lookup.ToASCII(%q)", upper)
			assert.Equal(t, name, mapped, "upper case maps to lower case only")
		}

		require.False(t, needsIDNA(name), "needsIDNA(%q)", name)
		if checkLabels(name, name) != nil {
			continue
		}
		mapped, err := idna.Lookup.ToASCII(name)
		assert.NoError(t, err, "idna.Lookup.ToASCII(%q)", name)
		assert.Equal(t, name, mapped, "idna.Lookup.ToASCII(%q)", name)
	}
}

func TestSuffixMemoBounded(t *testing.T) {
	for i := range suffixMemoSize + 10 {
		suffixReason(fmt.Sprintf("h%d.example.com", i))
	}
	assert.LessOrEqual(t, suffixMemoCount.Load(), int64(suffixMemoSize))
	assert.Equal(t, Reason(""), suffixReason("hooks.example.com"))
	assert.Equal(t, ReasonPublicSuffix, suffixReason("co.uk"))
	assert.Equal(t, ReasonPublicSuffix, suffixReason("co.uk"), "the memo keeps the verdict")
	assert.Equal(t, ReasonUnknownTLD, suffixReason("hooks.corp"))
	assert.Equal(t, ReasonUnknownTLD, suffixReason("hooks.corp"), "the memo keeps the verdict")
}

func TestIsPlainASCII(t *testing.T) {
	assert.True(t, isPlainASCII("Hooks.Example.COM"))
	assert.True(t, isPlainASCII("hooks_1.example.com"), "checkLabels rejects it with its own message")
	assert.False(t, isPlainASCII("XN--MNCHEN-3YA.de"), "punycode in upper case goes through IDNA")
	assert.False(t, isPlainASCII("a.Xn--b.com"))
	assert.False(t, isPlainASCII("ｈooks.example.com"))
}

// TestPlainASCIIMatchesIDNA checks that every ASCII name IDNA rejects is
// rejected by the plain path too, and every name it accepts maps the same.
func TestPlainASCIIMatchesIDNA(t *testing.T) {
	for c := 0; c < utf8.RuneSelf; c++ {
		for _, name := range []string{string(rune(c)) + "a.example.com", "a" + string(rune(c)) + "b.example.com"} {
			mapped, idnaErr := idna.Lookup.ToASCII(name)
			lower := strings.ToLower(strings.TrimSuffix(name, "."))
			plainErr := checkLabels(name, lower)
			if idnaErr != nil {
				assert.Error(t, plainErr, "IDNA rejects %q, so must checkLabels", name)
				continue
			}
			if plainErr == nil {
				assert.Equal(t, strings.TrimSuffix(mapped, "."), lower, "IDNA maps %q", name)
			}
		}
	}
}

func TestValidateNilContext(t *testing.T) {
	v := newTestValidator(t, Config{Resolver: newMapResolver(map[string][]string{"hooks.example.info": {"93.184.215.14"}})})
	_, err := v.Validate(nil, "https://hooks.example.info/") //lint:ignore SA1012 a nil context is the input under test
	assert.ErrorIs(t, err, ErrDNSFailure, "a nil context fails closed instead of panicking")
}

func TestIDNAMemoBounded(t *testing.T) {
	for i := range suffixMemoSize + 10 {
		_, err := toASCII(fmt.Sprintf("bücher%d.example.com", i))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, idnaMemoCount.Load(), int64(suffixMemoSize))
	for range 2 {
		mapped, err := toASCII("münchen.de")
		require.NoError(t, err)
		assert.Equal(t, "xn--mnchen-3ya.de", mapped)
		_, err = toASCII("xn--a.example.com")
		assert.Error(t, err, "a failed mapping is not remembered as a success")
	}
}
