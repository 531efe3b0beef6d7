package webhookurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/idna"

	"github.com/fintoro/webhookurl/webhookurltest"
)

// The tests in this file replay hostile webhook URLs from public SSRF
// reports, and their siblings in other notations, against every layer: the
// static rules, full validation through a hermetic DNS server, and delivery
// through Deliverer, Client and Transport. A test that only validates may
// put real public addresses in its DNS records. Anything that may be dialed
// is on loopback, where 127.0.0.2 is allowed and 127.0.0.1 is a forbidden
// twin listener that must never accept a connection.

// bypassCase is one hostile or control URL and the sentinel that must
// reject it. A nil want means the URL must be accepted.
type bypassCase struct {
	name string
	url  string
	want error
}

// bypassStaticCases are judged on the URL alone: Validate must give the
// same verdict as ValidateStatic without sending a DNS query.
var bypassStaticCases = map[string][]bypassCase{
	"ipv4-alt-notation": {
		{"decimal integer", "https://2130706433/", ErrIPLiteralNotCanonical},
		{"hex integer", "https://0x7f000001/", ErrIPLiteralNotCanonical},
		{"hex integer upper case", "https://0X7F000001/", ErrIPLiteralNotCanonical},
		{"dotted hex octets", "https://0x7f.0x0.0x0.0x1/", ErrIPLiteralNotCanonical},
		{"octal first octet", "https://0177.0.0.1/", ErrIPLiteralNotCanonical},
		{"octal all octets", "https://0177.0000.0000.0001/", ErrIPLiteralNotCanonical},
		{"two-part short form", "https://127.1/", ErrIPLiteralNotCanonical},
		{"three-part short form", "https://127.0.1/", ErrIPLiteralNotCanonical},
		{"hex short form", "https://0x7F.1/", ErrIPLiteralNotCanonical},
		{"zero-padded octets", "https://127.000.000.1/", ErrIPLiteralNotCanonical},
		{"leading-zero private octet", "https://010.0.0.1/", ErrIPLiteralNotCanonical},
		{"leading-zero last octet", "https://10.0.0.01/", ErrIPLiteralNotCanonical},
		{"metadata decimal integer", "https://2852039166/", ErrIPLiteralNotCanonical},
		{"metadata mixed octal hex", "https://0251.0xfe.169.254/", ErrIPLiteralNotCanonical},
		{"empty hex", "https://0x/", ErrIPLiteralNotCanonical},
		{"integer overflow", "https://4294967297/", ErrIPLiteralNotCanonical},
		{"five parts", "https://127.0.0.0.1/", ErrIPLiteralNotCanonical},
		{"trailing dot", "https://127.0.0.1./", ErrIPLiteralNotCanonical},
		{"public trailing dot", "https://8.8.8.8./", ErrIPLiteralNotCanonical},
		{"number after names", "https://hooks.example.0x7f/", ErrIPLiteralNotCanonical},
		{"fullwidth digits", "https://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/", ErrIPLiteralNotCanonical},
	},
	"ipv4-special-range": {
		{"private 10/8", "https://10.0.0.5/", ErrPrivateAddress},
		{"private 10/8 last", "https://10.255.255.255/", ErrPrivateAddress},
		{"private 172.16/12", "https://172.16.0.1/", ErrPrivateAddress},
		{"private 172.16/12 last", "https://172.31.255.255/", ErrPrivateAddress},
		{"private 192.168/16", "https://192.168.1.1/", ErrPrivateAddress},
		{"loopback not .1", "https://127.0.0.2/", ErrPrivateAddress},
		{"loopback last", "https://127.255.255.254/", ErrPrivateAddress},
		{"shared address space", "https://100.64.0.1/", ErrPrivateAddress},
		{"shared address space last", "https://100.127.255.255/", ErrPrivateAddress},
		{"benchmarking", "https://198.18.0.1/", ErrPrivateAddress},
		{"benchmarking last", "https://198.19.255.255/", ErrPrivateAddress},
		{"multicast", "https://224.0.0.1/", ErrPrivateAddress},
		{"multicast last", "https://239.255.255.255/", ErrPrivateAddress},
		{"reserved", "https://240.0.0.1/", ErrPrivateAddress},
		{"limited broadcast", "https://255.255.255.255/", ErrPrivateAddress},
		{"TEST-NET-1", "https://192.0.2.1/", ErrPrivateAddress},
		{"TEST-NET-2", "https://198.51.100.7/", ErrPrivateAddress},
		{"TEST-NET-3", "https://203.0.113.9/", ErrPrivateAddress},
		{"IETF protocol assignments", "https://192.0.0.9/", ErrPrivateAddress},
		{"6to4 relay anycast", "https://192.88.99.1/", ErrPrivateAddress},
		{"link-local", "https://169.254.1.1/", ErrPrivateAddress},
		{"this network", "https://0.1.2.3/", ErrPrivateAddress},
		{"with port", "https://10.0.0.5:8443/", ErrPrivateAddress},
	},
	"unspecified": {
		{"IPv4 with port", "https://0.0.0.0:8080/", ErrPrivateAddress},
		{"IPv4", "https://0.0.0.0/", ErrPrivateAddress},
		{"single zero", "https://0/", ErrIPLiteralNotCanonical},
		{"zero short form", "https://0.0/", ErrIPLiteralNotCanonical},
		{"IPv6", "https://[::]/", ErrPrivateAddress},
		{"IPv6 long form", "https://[0:0:0:0:0:0:0:0]/", ErrPrivateAddress},
		{"IPv6 mapped", "https://[::ffff:0.0.0.0]/", ErrPrivateAddress},
	},
	"ipv6-literal": {
		{"loopback", "https://[::1]/", ErrPrivateAddress},
		{"loopback long form", "https://[0:0:0:0:0:0:0:1]/", ErrPrivateAddress},
		{"loopback zero-padded", "https://[0000::0001]/", ErrPrivateAddress},
		{"loopback upper case hex", "https://[::0001]:8443/", ErrPrivateAddress},
		{"link-local", "https://[fe80::1]/", ErrPrivateAddress},
		{"link-local upper case", "https://[FE80::1]/", ErrPrivateAddress},
		{"link-local edge of fe80::/10", "https://[febf:ffff::1]/", ErrPrivateAddress},
		{"site-local", "https://[fec0::1]/", ErrPrivateAddress},
		{"unique-local", "https://[fd12:3456:789a::1]/", ErrPrivateAddress},
		{"unique-local fc", "https://[fc00::1]/", ErrPrivateAddress},
		{"multicast", "https://[ff02::1]/", ErrPrivateAddress},
		{"multicast global scope", "https://[ff0e::1]/", ErrPrivateAddress},
		{"documentation", "https://[2001:db8::1]/", ErrPrivateAddress},
		{"documentation 3fff", "https://[3fff::1]/", ErrPrivateAddress},
		{"discard-only", "https://[100::1]/", ErrPrivateAddress},
		{"benchmarking", "https://[2001:2::1]/", ErrPrivateAddress},
		{"ORCHIDv2", "https://[2001:20::1]/", ErrPrivateAddress},
		{"SRv6 SIDs", "https://[5f00::1]/", ErrPrivateAddress},
		{"outside global unicast", "https://[4000::1]/", ErrPrivateAddress},
		{"bracketed IPv4", "https://[127.0.0.1]/", ErrInvalidHost},
		{"bracketed name", "https://[localhost]/", ErrInvalidHost},
		{"future address format", "https://[v1.fe80::1]/", ErrInvalidHost},
	},
	"ipv6-embedded-ipv4": {
		{"mapped loopback dotted", "https://[::ffff:127.0.0.1]/", ErrPrivateAddress},
		{"mapped loopback hex", "https://[::ffff:7f00:1]/", ErrPrivateAddress},
		{"mapped loopback long form", "https://[0:0:0:0:0:ffff:127.0.0.1]/", ErrPrivateAddress},
		{"mapped metadata hex", "https://[::ffff:a9fe:a9fe]/latest/meta-data/", ErrPrivateAddress},
		{"mapped private", "https://[::ffff:10.0.0.5]/", ErrPrivateAddress},
		{"mapped public", "https://[::ffff:8.8.8.8]/", ErrPrivateAddress},
		{"compatible loopback", "https://[::127.0.0.1]/", ErrPrivateAddress},
		{"compatible loopback hex", "https://[::7f00:1]/", ErrPrivateAddress},
		{"compatible metadata", "https://[::a9fe:a9fe]/", ErrPrivateAddress},
		{"translated loopback", "https://[::ffff:0:127.0.0.1]/", ErrPrivateAddress},
		{"NAT64 metadata", "https://[64:ff9b::a9fe:a9fe]/", ErrPrivateAddress},
		{"NAT64 metadata dotted", "https://[64:ff9b::169.254.169.254]/", ErrPrivateAddress},
		{"NAT64 loopback", "https://[64:ff9b::127.0.0.1]/", ErrPrivateAddress},
		{"NAT64 private", "https://[64:ff9b::10.0.0.5]/", ErrPrivateAddress},
		{"NAT64 Azure WireServer", "https://[64:ff9b::a83f:8110]/", ErrPrivateAddress},
		{"NAT64 local-use prefix", "https://[64:ff9b:1::808:808]/", ErrPrivateAddress},
		{"NAT64 bits outside the /96", "https://[64:ff9b:0:0:1::808:808]/", ErrPrivateAddress},
		{"6to4 metadata", "https://[2002:a9fe:a9fe::1]/", ErrPrivateAddress},
		{"6to4 loopback", "https://[2002:7f00:1::]/", ErrPrivateAddress},
		{"6to4 public", "https://[2002:808:808::1]/", ErrPrivateAddress},
		{"Teredo loopback client", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", ErrPrivateAddress},
		{"Teredo public client", "https://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/", ErrPrivateAddress},
	},
	"ipv6-zone-id": {
		{"encoded zone", "https://[fe80::1%25lo0]/", ErrInvalidHost},
		{"raw zone", "https://[fe80::1%lo0]/", ErrInvalidHost},
		{"numeric zone", "https://[fe80::1%251]/", ErrInvalidHost},
		{"zone on loopback", "https://[::1%25eth0]/", ErrInvalidHost},
		{"zone on public address", "https://[2001:4860:4860::8888%25eth0]/", ErrInvalidHost},
		{"zone with port", "https://[fe80::1%25lo0]:8443/", ErrInvalidHost},
	},
	"cloud-metadata": {
		{"IMDS", "https://169.254.169.254/latest/meta-data/iam/security-credentials/", ErrPrivateAddress},
		{"ECS task metadata", "https://169.254.170.2/v2/credentials", ErrPrivateAddress},
		{"AWS IPv6 IMDS", "https://[fd00:ec2::254]/latest/meta-data/", ErrPrivateAddress},
		{"Azure WireServer", "https://168.63.129.16/", ErrPrivateAddress},
		{"Alibaba metadata", "https://100.100.100.200/latest/meta-data/", ErrPrivateAddress},
		{"Oracle metadata", "https://192.0.0.192/latest/", ErrPrivateAddress},
		{"GCP name", "https://metadata.google.internal/computeMetadata/v1/", ErrSpecialUseHost},
		{"GCP short name", "https://metadata/computeMetadata/v1/", ErrSingleLabelHost},
		{"EC2 name", "https://instance-data.ec2.internal/", ErrSpecialUseHost},
		{"Docker host name", "https://host.docker.internal/", ErrSpecialUseHost},
		{"Kubernetes service name", "https://kubernetes.default.svc/", ErrUnknownTLD},
		{"Kubernetes cluster name", "https://kubernetes.default.svc.cluster.local/", ErrSpecialUseHost},
	},
	"hostname-localhost": {
		{"upper case", "https://LOCALHOST/", ErrLocalhost},
		{"mixed case", "https://LocalHost:8443/", ErrLocalhost},
		{"trailing dot", "https://localhost./", ErrLocalhost},
		{"trailing dot upper case", "https://LOCALHOST./", ErrLocalhost},
		{"metadata trailing dot", "https://metadata.google.internal./computeMetadata/v1/", ErrSpecialUseHost},
		{"subdomain", "https://api.localhost/", ErrLocalhost},
		{"subdomain trailing dot", "https://api.localhost./", ErrLocalhost},
		{"localdomain", "https://localhost.localdomain/", ErrLocalhost},
		{"mDNS", "https://printer.local/", ErrSpecialUseHost},
		{"mDNS trailing dot", "https://printer.local./", ErrSpecialUseHost},
		{"home network", "https://nas.home.arpa/", ErrSpecialUseHost},
		{"reverse zone", "https://1.0.0.127.in-addr.arpa/", ErrSpecialUseHost},
		{"double trailing dot", "https://localhost../", ErrInvalidHost},
		{"unknown TLD lan", "https://router.lan/", ErrUnknownTLD},
		{"unknown TLD corp", "https://intranet.corp/", ErrUnknownTLD},
	},
	"idn-unicode": {
		{"ideographic full stops", "https://127\u30020\u30020\u30021/", ErrPrivateAddress},
		{"fullwidth full stops", "https://169\uff0e254\uff0e169\uff0e254/latest/meta-data/", ErrPrivateAddress},
		{"halfwidth ideographic full stops", "https://10\uff610\uff610\uff615/", ErrPrivateAddress},
		{"fullwidth digits", "https://\uff11\uff12\uff17.0.0.1/", ErrPrivateAddress},
		{"superscript digit", "https://127.0.0.\u00b9/", ErrPrivateAddress},
		{"mathematical digits", "https://\U0001d7cf\U0001d7d0\U0001d7d5.0.0.1/", ErrPrivateAddress},
		{"trailing ideographic stop on IP", "https://127.0.0.1\u3002/", ErrIPLiteralNotCanonical},
		{"circled digits", "https://127\u24600\u24600\u24601/", ErrIPLiteralNotCanonical},
		{"fullwidth localhost", "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", ErrLocalhost},
		{"script small l", "https://\u2113ocalhost/", ErrLocalhost},
		{"ignored joiner", "https://loc\u034falhost/", ErrLocalhost},
		{"variation selector", "https://local\ufe0fhost/", ErrLocalhost},
		{"localhost ideographic stop", "https://localhost\u3002/", ErrLocalhost},
		{"fullwidth internal", "https://metadata.google.\uff49\uff4e\uff54\uff45\uff52\uff4e\uff41\uff4c/", ErrSpecialUseHost},
		{"Cyrillic homograph single label", "https://l\u043ecalhost/", ErrSingleLabelHost},
		{"fullwidth colon", "https://hooks.example.info\uff1a8443/", ErrInvalidHost},
		{"fullwidth at sign", "https://hooks.example.info\uff20127.0.0.1/", ErrInvalidHost},
		{"fullwidth solidus", "https://127.0.0.1\uff0fhooks.example.info/", ErrInvalidHost},
		{"fullwidth number sign", "https://hooks.example.info\uff03.127.0.0.1/", ErrInvalidHost},
		{"fullwidth question mark", "https://hooks.example.info\uff1f.127.0.0.1/", ErrInvalidHost},
		{"fullwidth percent", "https://127.0.0.\uff05\uff13\uff11/", ErrInvalidHost},
		{"fullwidth brackets", "https://\uff3b::1\uff3d/", ErrInvalidURL},
		{"digit full stop", "https://a.b\u2488c.com/", ErrInvalidHost},
		{"account of", "https://\u2100.example.com/", ErrInvalidHost},
		{"invalid punycode", "https://xn--localhost-.com/", ErrInvalidHost},
		{"right-to-left override", "https://\u202e1.0.0.721/", ErrInvalidURL},
		{"zero width joiner", "https://local\u200dhost/", ErrInvalidURL},
		{"soft hyphen", "https://loc\u00adalhost/", ErrInvalidURL},
	},
	"percent-encoding": {
		{"encoded digit", "https://127.0.0.%31/", ErrInvalidHost},
		{"encoded name", "https://%6c%6f%63%61%6c%68%6f%73%74/", ErrInvalidHost},
		{"encoded dot", "https://127%2e0%2e0%2e1/", ErrInvalidHost},
		{"encoded fullwidth stop", "https://127%EF%BC%8E0%EF%BC%8E0%EF%BC%8E1/", ErrInvalidHost},
		{"double encoded", "https://127.0.0.%2531/", ErrInvalidHost},
		{"encoded at sign", "https://hooks.example.info%40127.0.0.1/", ErrInvalidHost},
	},
	"parser-confusion": {
		{"userinfo decoy", "https://hooks.example.info@127.0.0.1/", ErrUserinfo},
		{"userinfo with port decoy", "https://hooks.example.info:443@127.0.0.1/", ErrUserinfo},
		{"userinfo with password", "https://user:pass@hooks.example.info/", ErrUserinfo},
		{"empty userinfo", "https://@127.0.0.1/", ErrUserinfo},
		{"two at signs", "https://a@hooks.example.info@127.0.0.1/", ErrUserinfo},
		{"backslash before at", "https://127.0.0.1\\@hooks.example.info/", ErrInvalidURL},
		{"backslash as slash", "https://127.0.0.1\\.hooks.example.info/", ErrInvalidURL},
		{"backslashes after scheme", "https:\\\\127.0.0.1/", ErrInvalidURL},
		{"fragment then at", "https://hooks.example.info#@169.254.169.254/", ErrFragment},
		{"unbracketed IPv6 with port", "https://::1:8443/", ErrInvalidHost},
		{"unbracketed IPv6", "https://::1/", ErrInvalidHost},
		{"unbracketed mapped", "https://::ffff:127.0.0.1/", ErrInvalidHost},
		{"unbracketed link-local", "https://fe80::1/", ErrInvalidHost},
		{"two ports", "https://hooks.example.info:443:8443/", ErrInvalidURL},
		{"port after bracket junk", "https://[::1]x:443/", ErrInvalidHost},
		{"scheme without slashes", "https:127.0.0.1/", ErrInvalidURL},
		{"three slashes", "https:///127.0.0.1/", ErrInvalidHost},
		{"scheme-relative", "//127.0.0.1/", ErrSchemeNotHTTPS},
		{"host without scheme", "127.0.0.1:443/", ErrSchemeNotHTTPS},
		{"semicolon in host", "https://127.0.0.1;hooks.example.info/", ErrInvalidHost},
		{"comma in host", "https://127.0.0.1,hooks.example.info/", ErrInvalidHost},
		{"underscore in host", "https://a_b.example.info/", ErrInvalidHost},
	},
	"whitespace-control": {
		{"leading space", " https://127.0.0.1/", ErrInvalidURL},
		{"leading tab", "\thttps://127.0.0.1/", ErrInvalidURL},
		{"leading NUL", "\x00https://127.0.0.1/", ErrInvalidURL},
		{"trailing newline", "https://127.0.0.1/\n", ErrInvalidURL},
		{"space in host", "https://127.0.0.1 .hooks.example.info/", ErrInvalidURL},
		{"newline in host", "https://hooks.example.info\n.127.0.0.1/", ErrInvalidURL},
		{"no-break space", "\u00a0https://hooks.example.info/", ErrInvalidURL},
		{"ideographic space", "https://hooks\u3000example.info/", ErrInvalidURL},
		{"line separator", "https://hooks.example.info\u2028/", ErrInvalidURL},
		{"byte order mark", "\ufeffhttps://hooks.example.info/", ErrInvalidURL},
		{"DEL", "https://hooks.example.info/\x7f", ErrInvalidURL},
		{"invalid UTF-8", "https://hooks.example.info/\xc0\xae", ErrInvalidURL},
	},
	"scheme": {
		{"gopher", "gopher://127.0.0.1:6379/_INFO", ErrSchemeNotHTTPS},
		{"file", "file:///etc/passwd", ErrSchemeNotHTTPS},
		{"dict", "dict://127.0.0.1:11211/stat", ErrSchemeNotHTTPS},
		{"ldap", "ldap://127.0.0.1/", ErrSchemeNotHTTPS},
		{"ftp", "ftp://hooks.example.info/", ErrSchemeNotHTTPS},
		{"wss", "wss://hooks.example.info/", ErrSchemeNotHTTPS},
		{"javascript", "javascript:fetch('//127.0.0.1')", ErrSchemeNotHTTPS},
		{"data", "data:text/plain,hi", ErrSchemeNotHTTPS},
		{"https with trailing letter", "httpss://hooks.example.info/", ErrSchemeNotHTTPS},
		{"https with plus", "https+unix://127.0.0.1/", ErrSchemeNotHTTPS},
		{"fullwidth scheme", "\uff48ttps://hooks.example.info/", ErrSchemeNotHTTPS},
	},
}

// bypassDNSCases are judged with DNS: the zone behind the test's server
// decides the verdict. The zone is shared, so names differ per case.
var bypassDNSCases = map[string][]bypassCase{
	"scheme": {
		{"plain http", "http://hooks.example.info/", ErrSchemeNotHTTPS},
		{"mixed-case http", "Http://hooks.example.info/", ErrSchemeNotHTTPS},
		{"upper-case scheme and host", "HTTPS://HOOKS.EXAMPLE.INFO/ingest", nil},
	},
	"parser-confusion": {
		{"question mark then at", "https://hooks.example.info?@169.254.169.254/", nil},
		{"slash then at", "https://hooks.example.info/@169.254.169.254/", nil},
	},
	"cloud-metadata": {
		{"GCP name answered", "https://metadata.google.internal/computeMetadata/v1/", ErrSpecialUseHost},
		{"CNAME to metadata name", "https://meta-alias.example.info/", ErrPrivateAddress},
		{"CNAME to metadata address", "https://meta-cname.example.info/", ErrPrivateAddress},
	},
	"hostname-localhost": {
		{"metadata name trailing dot", "https://metadata.google.internal./computeMetadata/v1/", ErrSpecialUseHost},
		{"CNAME to localhost", "https://to-localhost.example.info/", ErrPrivateAddress},
	},
	"idn-unicode": {
		{"Cyrillic homograph", "https://l\u043ecalhost/", ErrSingleLabelHost},
		{"Cyrillic homograph under a domain", "https://l\u043ecalhost.example.info/", ErrPrivateAddress},
		{"Greek homograph", "https://l\u03bfcalhost.example.info/", ErrPrivateAddress},
	},
	"dns-private-answer": {
		{"IP embedded in name", "https://127.0.0.1.nip.example.info/", ErrPrivateAddress},
		{"hex IP embedded in name", "https://7f000001.nip.example.info/", ErrPrivateAddress},
		{"public-looking name to loopback", "https://app.localtest.example.info/", ErrPrivateAddress},
		{"name to private", "https://private.example.info/", ErrPrivateAddress},
		{"name to metadata", "https://imds.example.info/", ErrPrivateAddress},
		{"name to shared address space", "https://cgnat.example.info/", ErrPrivateAddress},
		{"name to IPv6 loopback", "https://v6loop.example.info/", ErrPrivateAddress},
		{"name to IPv6 unique-local", "https://v6ula.example.info/", ErrPrivateAddress},
		{"name to mapped loopback", "https://v6mapped.example.info/", ErrPrivateAddress},
		{"name to compatible loopback", "https://v6compat.example.info/", ErrPrivateAddress},
		{"name to NAT64 metadata", "https://v6nat64.example.info/", ErrPrivateAddress},
		{"name to 6to4 metadata", "https://v66to4.example.info/", ErrPrivateAddress},
		{"name to Azure WireServer", "https://wireserver.example.info/", ErrPrivateAddress},
		{"single label", "https://redis/", ErrSingleLabelHost},
		{"single label trailing dot", "https://redis./", ErrSingleLabelHost},
		{"sinkhole", "https://sinkhole.example.info/", ErrPrivateAddress},
		{"this network", "https://zeronet.example.info/", ErrPrivateAddress},
		{"IPv6 unspecified", "https://v6zero.example.info/", ErrPrivateAddress},
		{"CNAME to private", "https://alias.example.info/", ErrPrivateAddress},
		{"upper-case URL, private answer", "https://PRIVATE.EXAMPLE.INFO/", ErrPrivateAddress},
	},
	"dns-mixed-answers": {
		{"public then loopback", "https://multi.example.info/", ErrPrivateAddress},
		{"loopback then public", "https://multi-rev.example.info/", ErrPrivateAddress},
		{"public then shared space", "https://multi-cgnat.example.info/", ErrPrivateAddress},
		{"A public, AAAA loopback", "https://dual.example.info/", ErrPrivateAddress},
		{"A public, AAAA link-local", "https://dual-ll.example.info/", ErrPrivateAddress},
		{"A public, AAAA mapped private", "https://dual-mapped.example.info/", ErrPrivateAddress},
		{"A loopback, AAAA public", "https://dual-rev.example.info/", ErrPrivateAddress},
	},
	"dns-failure": {
		{"NXDOMAIN", "https://nxdomain.example.info/", ErrDNSNotFound},
		{"NODATA", "https://nodata.example.info/", ErrNoAddresses},
		{"SERVFAIL", "https://servfail.example.info/", ErrDNSFailure},
		{"REFUSED", "https://refused.example.info/", ErrDNSFailure},
		{"timeout", "https://timeout.example.info/", ErrDNSFailure},
		{"lame reply", "https://lame.example.info/", ErrDNSFailure},
		{"truncated over TCP too", "https://truncated.example.info/", ErrDNSFailure},
		{"CNAME loop", "https://loop-a.example.info/", ErrDNSFailure},
		{"CNAME chain too long", "https://chain0.example.info/", ErrDNSFailure},
		{"CNAME to NXDOMAIN", "https://dangling.example.info/", ErrDNSNotFound},
	},
	"length": {
		{"one over the limit", "https://hooks.example.info/" + strings.Repeat("a", 2049-len("https://hooks.example.info/")), ErrTooLong},
		{"exactly the limit", "https://hooks.example.info/" + strings.Repeat("a", 2048-len("https://hooks.example.info/")), nil},
		{"limit after encoding", "https://hooks.example.info/" + strings.Repeat("\u00e9", 400), ErrTooLong},
		{"limit with default port dropped", "https://hooks.example.info:443/" + strings.Repeat("a", 2048-len("https://hooks.example.info/")), nil},
		{"limit with other port", "https://hooks.example.info:8443/" + strings.Repeat("a", 2048-len("https://hooks.example.info/")), ErrTooLong},
		{"four times the limit", "https://hooks.example.info/" + strings.Repeat("a", 4*2048), ErrTooLong},
		{"long label", "https://" + strings.Repeat("a", 64) + ".example.info/", ErrInvalidHost},
		{"long name", "https://" + strings.Repeat("a.", 125) + "example.info/", ErrInvalidHost},
	},
	"control-accept": {
		{"public name, both families", "https://hooks.example.info/ingest", nil},
		{"public name trailing dot", "https://hooks.example.info./ingest", nil},
		{"public name with port", "https://hooks.example.info:8443/ingest", nil},
		{"NAT64 of public IPv4", "https://[64:ff9b::808:808]/", nil},
		{"NAT64 of public IPv4 dotted", "https://[64:ff9b::8.8.8.8]/", nil},
		{"public IPv4", "https://8.8.8.8/", nil},
		{"public IPv6", "https://[2001:4860:4860::8888]/", nil},
		{"name answered through CNAME", "https://public-alias.example.info/", nil},
		{"answer owner in upper case", "https://hooks.example.info/case", nil},
	},
}

// bypassZone serves the names of bypassDNSCases. Its public records hold
// real public addresses because nothing in these tests dials them.
func bypassZone() webhookurltest.Zone {
	a, aaaa, cname := webhookurltest.A, webhookurltest.AAAA, webhookurltest.CNAME
	zone := webhookurltest.Zone{
		"hooks.example.info":                  {a("8.8.8.8"), aaaa("2001:4860:4860::8888")},
		"public-alias.example.info":           {cname("hooks.example.info")},
		"metadata.google.internal":            {a("169.254.169.254")},
		"meta-alias.example.info":             {cname("metadata.google.internal")},
		"meta-cname.example.info":             {cname("imds.example.info")},
		"to-localhost.example.info":           {cname("localhost")},
		"localhost":                           {a("127.0.0.1"), aaaa("::1")},
		"127.0.0.1.nip.example.info":          {a("127.0.0.1")},
		"7f000001.nip.example.info":           {a("127.0.0.1")},
		"app.localtest.example.info":          {a("127.0.0.1")},
		"private.example.info":                {a("10.0.0.5")},
		"imds.example.info":                   {a("169.254.169.254")},
		"cgnat.example.info":                  {a("100.64.0.1")},
		"v6loop.example.info":                 {aaaa("::1")},
		"v6ula.example.info":                  {aaaa("fd00:ec2::254")},
		"v6mapped.example.info":               {aaaa("::ffff:127.0.0.1")},
		"v6compat.example.info":               {aaaa("::7f00:1")},
		"v6nat64.example.info":                {aaaa("64:ff9b::a9fe:a9fe")},
		"v66to4.example.info":                 {aaaa("2002:a9fe:a9fe::1")},
		"wireserver.example.info":             {a("168.63.129.16")},
		"redis":                               {a("172.18.0.3")},
		"sinkhole.example.info":               {a("0.0.0.0")},
		"zeronet.example.info":                {a("0.1.2.3")},
		"v6zero.example.info":                 {aaaa("::")},
		"alias.example.info":                  {cname("private.example.info")},
		"multi.example.info":                  {a("8.8.8.8"), a("127.0.0.1")},
		"multi-rev.example.info":              {a("127.0.0.1"), a("8.8.8.8")},
		"multi-cgnat.example.info":            {a("8.8.8.8"), a("100.64.0.1")},
		"dual.example.info":                   {a("8.8.8.8"), aaaa("::1")},
		"dual-ll.example.info":                {a("8.8.8.8"), aaaa("fe80::1")},
		"dual-mapped.example.info":            {a("8.8.8.8"), aaaa("::ffff:10.0.0.5")},
		"dual-rev.example.info":               {a("127.0.0.1"), aaaa("2001:4860:4860::8888")},
		"nodata.example.info":                 {},
		"servfail.example.info":               {a("8.8.8.8")},
		"refused.example.info":                {a("8.8.8.8")},
		"timeout.example.info":                {a("8.8.8.8")},
		"lame.example.info":                   {a("8.8.8.8")},
		"truncated.example.info":              {a("8.8.8.8")},
		"loop-a.example.info":                 {cname("loop-b.example.info")},
		"loop-b.example.info":                 {cname("loop-a.example.info")},
		"dangling.example.info":               {cname("gone.example.info")},
		"upper-owner.example.info":            {a("8.8.8.8")},
		"mixed-class.example.info":            {a("8.8.8.8")},
		"foreign-owner.example.info":          {a("8.8.8.8")},
		"additional-section.example.info":     {a("8.8.8.8")},
		"a-in-aaaa.example.info":              {a("8.8.8.8")},
		"aaaa-servfail.example.info":          {a("8.8.8.8")},
		"upper-owner-private.example.info":    {a("8.8.8.8")},
		"aaaa-nxdomain.example.info":          {a("8.8.8.8")},
		"late-private-in-answer.example.info": {a("8.8.8.8")},
	}
	// Homographs of localhost under a public domain, as the punycode names
	// that the Validator resolves.
	for _, homograph := range []string{"l\u043ecalhost.example.info", "l\u03bfcalhost.example.info"} {
		name, err := idna.Lookup.ToASCII(homograph)
		if err != nil {
			panic(err)
		}
		zone[name] = []webhookurltest.Record{a("127.0.0.1")}
	}
	for i := range 12 {
		zone[fmt.Sprintf("chain%d.example.info", i)] = []webhookurltest.Record{cname(fmt.Sprintf("chain%d.example.info", i+1))}
	}
	zone["chain12.example.info"] = []webhookurltest.Record{a("8.8.8.8")}
	return zone
}

// startBypassDNS starts the DNS server of bypassZone with the faults of the
// dns-failure cases, and returns it with a Validator that resolves through
// it without a cache.
func startBypassDNS(t *testing.T) (*webhookurltest.Server, *Validator) {
	t.Helper()
	s := webhookurltest.Start(t, bypassZone())
	s.SetFault("servfail.example.info", webhookurltest.FaultServFail)
	s.SetFault("refused.example.info", webhookurltest.FaultRefused)
	s.SetFault("timeout.example.info", webhookurltest.FaultDrop)
	s.SetFault("lame.example.info", webhookurltest.FaultLame)
	s.SetFault("truncated.example.info", webhookurltest.FaultTruncateAlways)
	s.SetHook(func(req, resp *dns.Msg) {
		// The A records of the public control carry their owner name in
		// upper case, which RFC 4343 makes the same name.
		if req.Question[0].Name == "hooks.example.info." && req.Question[0].Qtype == dns.TypeA {
			for _, rr := range resp.Answer {
				rr.Header().Name = "HOOKS.Example.INFO."
			}
		}
	})
	v, err := New(Config{DNS: DNSConfig{
		Nameservers:  []string{s.Addr()},
		QueryTimeout: 300 * time.Millisecond,
		Attempts:     1,
		DisableCache: true,
	}})
	require.NoError(t, err)
	return s, v
}

// assertVerdict checks that err is the verdict want: nil, or an *Error
// matching the sentinel want.
func assertVerdict(t *testing.T, call, raw string, err, want error) {
	t.Helper()
	if want == nil {
		assert.NoError(t, err, "%s(%q)", call, raw)
		return
	}
	require.Error(t, err, "%s(%q) = nil; want %v", call, raw, want)
	assert.ErrorIs(t, err, want, "%s(%q) = %v; want %v", call, raw, err, want)
	_, ok := errors.AsType[*Error](err)
	assert.True(t, ok, "%s(%q) = %T; want an *Error", call, raw, err)
}

// assertReparses checks that the canonical URL of an accepted result is
// read by net/url and net/http as the same host and port, so that a client
// dials what was checked.
func assertReparses(t *testing.T, res Result) {
	t.Helper()
	u, err := url.Parse(res.URL)
	require.NoError(t, err, "url.Parse(%q)", res.URL)
	assert.Equal(t, "https", u.Scheme, "url.Parse(%q).Scheme", res.URL)
	assert.Empty(t, u.User, "url.Parse(%q).User", res.URL)
	assert.Equal(t, res.Host, u.Hostname(), "url.Parse(%q).Hostname()", res.URL)
	port := strconv.Itoa(int(res.Port))
	if res.Port == 443 {
		assert.Contains(t, []string{"", "443"}, u.Port(), "url.Parse(%q).Port()", res.URL)
	} else {
		assert.Equal(t, port, u.Port(), "url.Parse(%q).Port()", res.URL)
	}
	assert.Equal(t, res.URL, u.String(), "url.Parse(%q).String()", res.URL)

	req, err := http.NewRequest(http.MethodPost, res.URL, nil)
	require.NoError(t, err, "http.NewRequest(%q)", res.URL)
	assert.Equal(t, res.HostPort(), net.JoinHostPort(req.URL.Hostname(), port), "http.NewRequest(%q) host and port", res.URL)
}

func TestBypassStatic(t *testing.T) {
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{})
	v, err := New(Config{DNS: DNSConfig{Nameservers: []string{dnsServer.Addr()}, QueryTimeout: 300 * time.Millisecond, Attempts: 1}})
	require.NoError(t, err)

	for class, cases := range bypassStaticCases {
		for _, c := range cases {
			t.Run(class+"/"+c.name, func(t *testing.T) {
				dnsServer.Reset()

				res, err := v.ValidateStatic(c.url)
				assertVerdict(t, "ValidateStatic", c.url, err, c.want)

				_, err = v.Validate(t.Context(), c.url)
				assertVerdict(t, "Validate", c.url, err, c.want)
				assert.Zero(t, dnsServer.Total(), "DNS queries for %q", c.url)

				if c.want == nil {
					assertReparses(t, res)
				}
			})
		}
	}
}

func TestBypassDNS(t *testing.T) {
	_, v := startBypassDNS(t)

	for class, cases := range bypassDNSCases {
		for _, c := range cases {
			t.Run(class+"/"+c.name, func(t *testing.T) {
				res, err := v.Validate(t.Context(), c.url)

				assertVerdict(t, "Validate", c.url, err, c.want)
				if c.want != nil {
					return
				}
				assertReparses(t, res)
				require.NotEmpty(t, res.Addrs, "Validate(%q).Addrs", c.url)
				for _, a := range res.Addrs {
					assert.True(t, Classify(a).Public, "Validate(%q) accepted %s", c.url, a)
				}
			})
		}
	}
}

// TestBypassDNSReplyTricks sends replies that a hostile authoritative
// server can craft, and checks that a private address is never accepted and
// that a record the resolver ignores is one that nothing dials.
func TestBypassDNSReplyTricks(t *testing.T) {
	loopbackA := func(owner string, class uint16) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: class, Ttl: 0}, A: net.IPv4(127, 0, 0, 1)}
	}
	tests := []struct {
		name string
		host string
		hook func(req, resp *dns.Msg)
		want error
		// addrs is what an accepted lookup must return: the records that
		// the resolver ignored are not in it, so the dialer never gets them.
		addrs []netip.Addr
	}{
		{
			name: "private answer with upper-case owner",
			host: "upper-owner-private.example.info",
			hook: func(req, resp *dns.Msg) {
				if req.Question[0].Qtype == dns.TypeA {
					resp.Answer = append(resp.Answer, loopbackA("UPPER-OWNER-PRIVATE.EXAMPLE.INFO.", dns.ClassINET))
				}
			},
			want: ErrPrivateAddress,
		},
		{
			name: "private answer appended last",
			host: "late-private-in-answer.example.info",
			hook: func(req, resp *dns.Msg) {
				if req.Question[0].Qtype == dns.TypeA {
					resp.Answer = append(resp.Answer, loopbackA(req.Question[0].Name, dns.ClassINET))
				}
			},
			want: ErrPrivateAddress,
		},
		{
			name: "AAAA SERVFAIL beside public A",
			host: "aaaa-servfail.example.info",
			hook: func(req, resp *dns.Msg) {
				if req.Question[0].Qtype == dns.TypeAAAA {
					resp.Rcode = dns.RcodeServerFailure
				}
			},
			want: ErrDNSFailure,
		},
		{
			name: "AAAA NXDOMAIN beside public A",
			host: "aaaa-nxdomain.example.info",
			hook: func(req, resp *dns.Msg) {
				if req.Question[0].Qtype == dns.TypeAAAA {
					resp.Rcode = dns.RcodeNameError
				}
			},
			want: ErrDNSNotFound,
		},
		{
			name: "loopback in CHAOS class",
			host: "mixed-class.example.info",
			hook: func(req, resp *dns.Msg) {
				if req.Question[0].Qtype == dns.TypeA {
					resp.Answer = append(resp.Answer, loopbackA(req.Question[0].Name, dns.ClassCHAOS))
				}
			},
			addrs: addrList("8.8.8.8"),
		},
		{
			name: "loopback owned by another name",
			host: "foreign-owner.example.info",
			hook: func(req, resp *dns.Msg) {
				resp.Answer = append(resp.Answer, loopbackA("other.example.info.", dns.ClassINET))
			},
			addrs: addrList("8.8.8.8"),
		},
		{
			name: "loopback in additional and authority sections",
			host: "additional-section.example.info",
			hook: func(req, resp *dns.Msg) {
				resp.Extra = append(resp.Extra, loopbackA(req.Question[0].Name, dns.ClassINET))
				resp.Ns = append(resp.Ns, loopbackA(req.Question[0].Name, dns.ClassINET))
			},
			addrs: addrList("8.8.8.8"),
		},
		{
			name: "A record in the AAAA answer",
			host: "a-in-aaaa.example.info",
			hook: func(req, resp *dns.Msg) {
				if req.Question[0].Qtype == dns.TypeAAAA {
					resp.Answer = append(resp.Answer, loopbackA(req.Question[0].Name, dns.ClassINET))
				}
			},
			addrs: addrList("8.8.8.8"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dnsServer, v := startBypassDNS(t)
			dnsServer.SetHook(tt.hook)
			raw := "https://" + tt.host + "/"

			res, err := v.Validate(t.Context(), raw)

			assertVerdict(t, "Validate", raw, err, tt.want)
			if tt.want == nil {
				assert.Equal(t, tt.addrs, res.Addrs, "Validate(%q).Addrs", raw)
			}
		})
	}
}

// TestBypassCachedAnswerPolicy checks that answers cached by one resolver
// are judged again by each Validator that shares it, so a stricter policy
// applies to a name cached under a looser one.
func TestBypassCachedAnswerPolicy(t *testing.T) {
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{"hooks.example.info": {webhookurltest.A("127.0.0.2")}})
	resolver, err := NewDNSResolver(DNSConfig{Nameservers: []string{dnsServer.Addr()}})
	require.NoError(t, err)
	loose, err := New(Config{Resolver: resolver, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	require.NoError(t, err)
	strict, err := New(Config{Resolver: resolver})
	require.NoError(t, err)
	denying, err := New(Config{Resolver: resolver,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Deny:  []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	require.NoError(t, err)
	const raw = "https://hooks.example.info/"

	_, err = loose.Validate(t.Context(), raw)
	require.NoError(t, err, "Validate(%q) with 127.0.0.2 allowed", raw)
	queries := dnsServer.Total()

	_, err = strict.Validate(t.Context(), raw)
	assertVerdict(t, "Validate without Allow", raw, err, ErrPrivateAddress)
	_, err = denying.Validate(t.Context(), raw)
	assertVerdict(t, "Validate with Deny", raw, err, ErrPrivateAddress)
	assert.Equal(t, queries, dnsServer.Total(), "DNS queries after the first lookup; want answers from the cache")
}

// TestBypassCanceledLookup checks that a lookup the context ends, before or
// during the query, rejects the URL instead of letting it through.
func TestBypassCanceledLookup(t *testing.T) {
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{"slow.example.info": {webhookurltest.A("8.8.8.8")}})
	dnsServer.SetDelay("slow.example.info", 2*time.Second)
	v, err := New(Config{DNS: DNSConfig{Nameservers: []string{dnsServer.Addr()}}})
	require.NoError(t, err)
	const raw = "https://slow.example.info/"

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := v.Validate(ctx, raw)
		assertVerdict(t, "Validate", raw, err, ErrDNSFailure)
		assert.ErrorIs(t, err, context.Canceled, "Validate(%q) = %v; want context.Canceled in the chain", raw, err)
	})

	t.Run("during", func(t *testing.T) {
		// Several callers share one cached lookup; each one's own deadline
		// must reject its URL while the lookup is still running.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(50+10*i)*time.Millisecond)
				defer cancel()
				_, errs[i] = v.Validate(ctx, raw)
			})
		}
		wg.Wait()
		for _, err := range errs {
			assertVerdict(t, "Validate", raw, err, ErrDNSFailure)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "Validate(%q) = %v; want context.DeadlineExceeded", raw, err)
		}
	})
}

// guardedDeliverer returns a Deliverer whose dialer records every address
// it connects to and refuses, without any network traffic, every address
// outside 127.0.0.0/8, so that a bypass shows up in the record instead of
// reaching a real host.
func guardedDeliverer(t *testing.T, v *Validator, opts ClientOptions) (*Deliverer, *dialRecorder) {
	t.Helper()
	opts.Transport.TLSConfig = hookClientTLS(t)
	tr, d := v.newTransport(opts.Transport)
	rec := &dialRecorder{}
	connect := d.dialAddr
	d.dialAddr = func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
		if !netip.MustParsePrefix("127.0.0.0/8").Contains(addr.Addr()) {
			return nil, fmt.Errorf("test guard: refusing to connect to %s outside loopback", addr)
		}
		return connect(ctx, network, addr)
	}
	rec.wrap(d)
	deliverer := &Deliverer{v: v, client: v.newClient(opts, tr)}
	t.Cleanup(deliverer.CloseIdleConnections)
	return deliverer, rec
}

// deliveryValidator returns a Validator that resolves through dnsServer
// without a cache, so that every dial gets the current answer, and treats
// 127.0.0.2 as public.
func deliveryValidator(t *testing.T, dnsServer *webhookurltest.Server) *Validator {
	t.Helper()
	v, err := New(Config{
		DNS:   DNSConfig{Nameservers: []string{dnsServer.Addr()}, QueryTimeout: time.Second, DisableCache: true},
		Allow: []netip.Prefix{netip.PrefixFrom(hookAddr, 32)},
	})
	require.NoError(t, err)
	return v
}

// assertOnlyHookDialed checks that every connect went to the test server
// on 127.0.0.2 and none reached the forbidden twin on 127.0.0.1.
func assertOnlyHookDialed(t *testing.T, s *hookServer, rec *dialRecorder) {
	t.Helper()
	for _, a := range rec.dialed() {
		assert.Equal(t, netip.AddrPortFrom(hookAddr, s.port), a, "address dialed")
	}
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
}

func TestBypassDeliveryRebinding(t *testing.T) {
	a := webhookurltest.A
	tests := []struct {
		name    string
		private webhookurltest.Record
	}{
		{"to metadata", a("169.254.169.254").WithTTL(0)},
		{"to loopback twin", a("127.0.0.1").WithTTL(0)},
		{"to private", a("10.0.0.5").WithTTL(0)},
		{"to IPv6 loopback", webhookurltest.AAAA("::1").WithTTL(0)},
		{"to mapped loopback", webhookurltest.AAAA("::ffff:127.0.0.1").WithTTL(0)},
		{"to unspecified", a("0.0.0.0").WithTTL(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startHookServer(t, okHandler())
			dnsServer := webhookurltest.Start(t, webhookurltest.Zone{})
			v := deliveryValidator(t, dnsServer)
			d, rec := guardedDeliverer(t, v, ClientOptions{})

			t.Run("second lookup", func(t *testing.T) {
				// The first lookup, at subscription, gets the public
				// address with a TTL of 0; every later one the private.
				dnsServer.SetSequence("rebind.example.info",
					[]webhookurltest.Record{a("127.0.0.2").WithTTL(0)},
					[]webhookurltest.Record{tt.private})
				raw := s.url("rebind.example.info", "/hook")
				_, err := v.Validate(t.Context(), raw)
				require.NoError(t, err, "Validate(%q) at subscription", raw)

				_, err = d.Deliver(t.Context(), raw, []byte("{}"), nil)

				assertDeliveryRejected(t, raw, err, StageAddress, ErrPrivateAddress)
			})

			t.Run("record changed later", func(t *testing.T) {
				dnsServer.Set("late.example.info", a("127.0.0.2"))
				raw := s.url("late.example.info", "/hook")
				_, err := v.Validate(t.Context(), raw)
				require.NoError(t, err, "Validate(%q) at subscription", raw)
				dnsServer.Set("late.example.info", tt.private)

				_, err = d.Deliver(t.Context(), raw, []byte("{}"), nil)

				assertDeliveryRejected(t, raw, err, StageAddress, ErrPrivateAddress)
			})

			t.Run("mixed with public", func(t *testing.T) {
				dnsServer.Set("mixed.example.info", a("127.0.0.2"), tt.private)
				raw := s.url("mixed.example.info", "/hook")

				_, err := d.Deliver(t.Context(), raw, []byte("{}"), nil)

				assertDeliveryRejected(t, raw, err, StageAddress, ErrPrivateAddress)
			})

			assert.Empty(t, rec.dialed(), "addresses dialed")
			assert.Zero(t, s.requests.Load(), "requests to the server")
			assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
		})
	}
}

// assertDeliveryRejected checks that Deliver failed at stage with an *Error
// matching want.
func assertDeliveryRejected(t *testing.T, raw string, err error, stage Stage, want error) {
	t.Helper()
	require.Error(t, err, "Deliver(%q) = nil; want %v", raw, want)
	assert.ErrorIs(t, err, want, "Deliver(%q) = %v; want %v", raw, err, want)
	de, ok := errors.AsType[*DeliveryError](err)
	require.True(t, ok, "Deliver(%q) = %T; want *DeliveryError", raw, err)
	assert.Equal(t, stage, de.Stage, "Deliver(%q) stage", raw)
}

func TestBypassDeliveryRebindingAlternating(t *testing.T) {
	// Every delivery resolves again, and half of the answers are the
	// forbidden twin: each of those must be rejected before a connect.
	s := startHookServer(t, okHandler())
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{})
	answers := make([][]webhookurltest.Record, 16)
	for i := range answers {
		ip := "127.0.0.2"
		if i%2 == 1 {
			ip = "127.0.0.1"
		}
		answers[i] = []webhookurltest.Record{webhookurltest.A(ip).WithTTL(0)}
	}
	dnsServer.SetSequence("flip.example.info", answers...)
	v := deliveryValidator(t, dnsServer)
	d, rec := guardedDeliverer(t, v, ClientOptions{})
	raw := s.url("flip.example.info", "/")

	delivered := 0
	for range len(answers) {
		resp, err := d.Deliver(t.Context(), raw, nil, nil)
		if err != nil {
			assert.ErrorIs(t, err, ErrPrivateAddress, "Deliver(%q) = %v; want %v", raw, err, ErrPrivateAddress)
		} else {
			resp.Body.Close()
			delivered++
		}
		d.CloseIdleConnections()
	}

	// A query retried after a timeout on a loaded machine moves the
	// sequence on by one answer, so the split is close to half, not
	// exact. What must hold exactly is that 127.0.0.1 is never dialed.
	assert.Positive(t, delivered, "deliveries to 127.0.0.2")
	assert.Less(t, delivered, len(answers), "deliveries to 127.0.0.2; some answers were 127.0.0.1")
	assertOnlyHookDialed(t, s, rec)
}

func TestBypassDeliveryRedirects(t *testing.T) {
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{
		"redir.example.info":   {webhookurltest.A("127.0.0.2")},
		"private.example.info": {webhookurltest.A("127.0.0.1")},
	})
	locations := map[string]string{}
	var mu sync.Mutex
	s := startHookServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		loc, ok := locations[r.URL.Path]
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusOK)
			return
		}
		status, err := strconv.Atoi(r.URL.Query().Get("status"))
		if err != nil {
			status = http.StatusFound
		}
		// Set the header directly: http.Redirect would clean the target.
		w.Header().Set("Location", loc)
		w.WriteHeader(status)
	}))
	// After the first hop, the rebinding name points to the twin, so a
	// redirect target that passes CheckRedirect is judged again at dial.
	dnsServer.SetSequence("redir-rebind.example.info",
		[]webhookurltest.Record{webhookurltest.A("127.0.0.2").WithTTL(0)},
		[]webhookurltest.Record{webhookurltest.A("127.0.0.1").WithTTL(0)})
	port := strconv.Itoa(int(s.port))
	tests := []struct {
		name     string
		location string
		want     error
	}{
		{"http metadata", "http://169.254.169.254/latest/meta-data/", ErrSchemeNotHTTPS},
		{"https private keeping the body", "https://10.0.0.5/admin", ErrPrivateAddress},
		{"loopback twin", "https://127.0.0.1:" + port + "/", ErrPrivateAddress},
		{"decimal integer", "https://2130706433:" + port + "/", ErrIPLiteralNotCanonical},
		{"hex integer", "https://0x7f000001:" + port + "/", ErrIPLiteralNotCanonical},
		{"short form", "https://127.1:" + port + "/", ErrIPLiteralNotCanonical},
		{"trailing dot", "https://127.0.0.1.:" + port + "/", ErrIPLiteralNotCanonical},
		{"mapped loopback", "https://[::ffff:127.0.0.1]:" + port + "/", ErrPrivateAddress},
		{"IPv6 loopback", "https://[::1]:" + port + "/", ErrPrivateAddress},
		{"zone", "https://[fe80::1%25lo]:" + port + "/", ErrInvalidHost},
		{"localhost", "https://localhost:" + port + "/", ErrLocalhost},
		{"localhost trailing dot", "https://LOCALHOST.:" + port + "/", ErrLocalhost},
		{"ideographic full stops", "https://127\u30020\u30020\u30021:" + port + "/", ErrPrivateAddress},
		{"percent-encoded full stops", "https://127%E3%80%820%E3%80%820%E3%80%821:" + port + "/", ErrPrivateAddress},
		{"fragment hiding the host", "https://127.0.0.1:" + port + "/#@redir.example.info", ErrPrivateAddress},
		{"scheme-relative", "//127.0.0.1:" + port + "/", ErrPrivateAddress},
		{"userinfo decoy", "https://redir.example.info:" + port + "@127.0.0.1:" + port + "/", ErrUserinfo},
		{"name to twin", "https://private.example.info:" + port + "/", ErrPrivateAddress},
		{"name rebinding after check", "https://redir-rebind.example.info:" + port + "/", ErrPrivateAddress},
		{"gopher", "gopher://127.0.0.1:6379/_INFO", ErrSchemeNotHTTPS},
		{"chain through a valid hop", "/r/chain-next", ErrPrivateAddress},
	}
	locations["/r/chain-next"] = "https://127.0.0.1:" + port + "/"

	for _, tt := range tests {
		path := "/r/" + strings.ReplaceAll(tt.name, " ", "-")
		mu.Lock()
		locations[path] = tt.location
		mu.Unlock()
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, status), func(t *testing.T) {
				v := deliveryValidator(t, dnsServer)
				raw := s.url("redir.example.info", path+"?status="+strconv.Itoa(status))
				dnsServer.SetSequence("redir-rebind.example.info",
					[]webhookurltest.Record{webhookurltest.A("127.0.0.2").WithTTL(0)},
					[]webhookurltest.Record{webhookurltest.A("127.0.0.1").WithTTL(0)})

				t.Run("not followed", func(t *testing.T) {
					d, rec := guardedDeliverer(t, v, ClientOptions{})

					resp, err := d.Deliver(t.Context(), raw, []byte("{}"), nil)

					require.NoError(t, err, "Deliver(%q)", raw)
					resp.Body.Close()
					assert.Equal(t, status, resp.StatusCode, "Deliver(%q) status", raw)
					assert.Len(t, rec.dialed(), 1, "addresses dialed")
					assertOnlyHookDialed(t, s, rec)
				})

				t.Run("followed", func(t *testing.T) {
					d, rec := guardedDeliverer(t, v, ClientOptions{MaxRedirects: 5})

					_, err := d.Deliver(t.Context(), raw, []byte("{}"), nil)

					if tt.name == "name rebinding after check" {
						// CheckRedirect saw 127.0.0.2; the dialer saw the twin.
						assertDeliveryRejected(t, raw, err, StageAddress, tt.want)
					} else {
						assertDeliveryRejected(t, raw, err, StageRedirect, tt.want)
					}
					assertOnlyHookDialed(t, s, rec)
				})
			})
		}
	}
}

func TestBypassDeliveryProxyEnv(t *testing.T) {
	s := startHookServer(t, okHandler())
	// The proxy is a recording listener on a forbidden address: any
	// connection to it means the environment was obeyed.
	proxy, err := listenRecording(netip.AddrPortFrom(twinAddr, 0))
	require.NoError(t, err)
	t.Cleanup(proxy.close)
	proxyPort := proxy.ln.Addr().(*net.TCPAddr).Port
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{
		"hooks.example.info":        {webhookurltest.A("127.0.0.2")},
		"internal-app.example.info": {webhookurltest.A("10.0.0.5")},
		"egress-proxy.example.info": {webhookurltest.A("127.0.0.1")},
	})
	proxies := []string{
		"http://127.0.0.1:" + strconv.Itoa(proxyPort),
		"http://egress-proxy.example.info:" + strconv.Itoa(proxyPort),
		"socks5://127.0.0.1:" + strconv.Itoa(proxyPort),
	}
	for _, proxyURL := range proxies {
		t.Run(proxyURL, func(t *testing.T) {
			for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"} {
				t.Setenv(name, proxyURL)
			}
			t.Setenv("NO_PROXY", "")
			t.Setenv("no_proxy", "")
			v := deliveryValidator(t, dnsServer)
			d, rec := guardedDeliverer(t, v, ClientOptions{})

			t.Run("internal target", func(t *testing.T) {
				raw := s.url("internal-app.example.info", "/hook")
				_, err := d.Deliver(t.Context(), raw, []byte("{}"), nil)
				assertDeliveryRejected(t, raw, err, StageAddress, ErrPrivateAddress)
			})

			t.Run("public target", func(t *testing.T) {
				raw := s.url("hooks.example.info", "/hook")
				resp, err := d.Deliver(t.Context(), raw, []byte("{}"), nil)
				require.NoError(t, err, "Deliver(%q)", raw)
				resp.Body.Close()
			})

			t.Run("public client", func(t *testing.T) {
				client := v.Client(ClientOptions{Transport: TransportOptions{TLSConfig: hookClientTLS(t)}})
				raw := s.url("hooks.example.info", "/hook")
				resp, err := client.Get(raw)
				require.NoError(t, err, "Get(%q)", raw)
				resp.Body.Close()
			})

			assertOnlyHookDialed(t, s, rec)
			assert.Zero(t, proxy.accepted.Load(), "connections to the proxy")
		})
	}
}

// TestBypassTransportNotations sends requests straight through Transport
// for URLs that net/http reads as the forbidden twin, bypassing the
// Validator's URL rules, so that only the dialer can stop them.
func TestBypassTransportNotations(t *testing.T) {
	s := startHookServer(t, okHandler())
	dnsServer := webhookurltest.Start(t, webhookurltest.Zone{"twin.example.info": {webhookurltest.A("127.0.0.1")}})
	v := deliveryValidator(t, dnsServer)
	tr, d := v.newTransport(TransportOptions{TLSConfig: hookClientTLS(t)})
	var rec dialRecorder
	rec.wrap(d)
	t.Cleanup(tr.CloseIdleConnections)
	port := strconv.Itoa(int(s.port))
	urls := []string{
		"https://127.0.0.1:" + port + "/",
		"https://127.0.0.1.:" + port + "/",
		"https://127.1:" + port + "/",
		"https://0x7f000001:" + port + "/",
		"https://2130706433:" + port + "/",
		"https://0177.0.0.1:" + port + "/",
		"https://127.000.000.001:" + port + "/",
		"https://[::ffff:127.0.0.1]:" + port + "/",
		"https://[::ffff:7f00:1]:" + port + "/",
		"https://[::1]:" + port + "/",
		"https://localhost:" + port + "/",
		"https://LocalHost.:" + port + "/",
		"https://127\u30020\u30020\u30021:" + port + "/",
		"https://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1:" + port + "/",
		"https://twin.example.info:" + port + "/",
		"http://127.0.0.1:" + port + "/",
		"https://[fe80::1%25lo]:" + port + "/",
	}
	for _, raw := range urls {
		t.Run(raw, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, raw, nil)
			if err != nil {
				return // net/http cannot send it, so it cannot reach anything
			}

			resp, err := tr.RoundTrip(req)

			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "RoundTrip(%q) = nil; want a rejection", raw)
			_, ok := errors.AsType[*Error](err)
			assert.True(t, ok, "RoundTrip(%q) = %v; want an *Error in the chain", raw, err)
		})
	}
	assert.Empty(t, rec.dialed(), "addresses dialed")
	assert.Zero(t, s.twin.accepted.Load(), "connections to 127.0.0.1")
	assert.Zero(t, s.requests.Load(), "requests to the server")
}

// TestBypassControlContext checks the connect-time check on its own, for a
// dialer that resolved the name again behind the Validator's back.
func TestBypassControlContext(t *testing.T) {
	v := newTestValidator(t, Config{Allow: []netip.Prefix{netip.PrefixFrom(hookAddr, 32)}})
	tests := []struct {
		network, address string
		want             error
	}{
		{"tcp", "127.0.0.1:443", ErrPrivateAddress},
		{"tcp4", "169.254.169.254:80", ErrPrivateAddress},
		{"tcp6", "[::1]:443", ErrPrivateAddress},
		{"tcp6", "[::ffff:127.0.0.2]:443", ErrPrivateAddress},
		{"tcp6", "[fe80::1%lo]:443", ErrPrivateAddress},
		{"tcp6", "[64:ff9b::7f00:2]:443", ErrPrivateAddress},
		{"tcp", "127.0.0.2:0", ErrPortNotAllowed},
		{"tcp", "localhost:443", ErrInvalidHost},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.address, func(t *testing.T) {
			err := v.ControlContext(t.Context(), tt.network, tt.address, nil)
			assertVerdict(t, "ControlContext", tt.address, err, tt.want)
		})
	}
	for _, network := range []string{"udp", "unix", "ip4:icmp"} {
		t.Run(network, func(t *testing.T) {
			assert.Error(t, v.ControlContext(t.Context(), network, "127.0.0.2:443", nil), "ControlContext(%q)", network)
		})
	}
}
