package webhookurl_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/fintoro/webhookurl"
	"github.com/fintoro/webhookurl/webhookurltest"
)

// An API handler rejects a URL with the reason code and the message, and
// stores the canonical form of an accepted one.
func ExampleValidator_Validate() {
	// A DNS server on loopback replaces the real DNS in this example.
	dnsServer, err := webhookurltest.New(webhookurltest.Zone{
		"hooks.example.com":    {webhookurltest.A("93.184.215.14")},
		"internal.example.com": {webhookurltest.A("10.0.0.5")},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dnsServer.Close()

	v, err := webhookurl.New(webhookurl.Config{
		DNS: webhookurl.DNSConfig{Nameservers: []string{dnsServer.Addr()}},
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, raw := range []string{
		"HTTPS://Hooks.Example.COM/invoices?v=2",
		"https://internal.example.com/hook",
		"http://hooks.example.com/",
	} {
		res, err := v.Validate(ctx, raw)
		var verr *webhookurl.Error
		if errors.As(err, &verr) {
			fmt.Printf("422 %s: %s\n", verr.Reason, verr.Message())
			continue
		}
		fmt.Println("store", res.URL, res.Addrs)
	}
	// Output:
	// store https://hooks.example.com/invoices?v=2 [93.184.215.14]
	// 422 private_address: host "internal.example.com" resolves to an IP address that is not publicly reachable
	// 422 scheme_not_https: URL scheme "http" is not allowed; use https
}

// ValidateStatic needs no network, so request parsing and fuzz tests can
// call it. It judges IP literals in full and names only by their syntax.
func ExampleValidator_ValidateStatic() {
	v, err := webhookurl.New(webhookurl.Config{Resolver: noResolver{}})
	if err != nil {
		log.Fatal(err)
	}
	for _, raw := range []string{
		"https://münchen.example.com./päth",
		"https://0x7f000001/",
		"https://[::ffff:169.254.169.254]/",
		"https://metadata.google.internal/",
	} {
		res, err := v.ValidateStatic(raw)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(res.URL)
	}
	// Output:
	// https://xn--mnchen-3ya.example.com/p%C3%A4th
	// webhookurl: host "0x7f000001" is a number that would be read as an IPv4 address; write IPv4 addresses as four decimal numbers like 192.0.2.1 or use a DNS name
	// webhookurl: IP address "[::ffff:169.254.169.254]" is not publicly reachable
	// webhookurl: host "metadata.google.internal" is a special-use name that is never publicly reachable
}

// Classify reports which range made an address non-public, after decoding
// any IPv4 address embedded in it.
func ExampleClassify() {
	for _, s := range []string{"8.8.8.8", "100.64.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808"} {
		fmt.Println(webhookurl.Classify(netip.MustParseAddr(s)))
	}
	// Output:
	// 8.8.8.8 is public
	// 100.64.0.1 is in 100.64.0.0/10 Shared Address Space (RFC 6598)
	// 64:ff9b::a9fe:a9fe (embeds 169.254.169.254) is in 169.254.0.0/16 Link Local (RFC 3927)
	// 64:ff9b::808:808 (embeds 8.8.8.8) is public
}

// noResolver fails every lookup. The static examples never call it.
type noResolver struct{}

func (noResolver) LookupAddrs(context.Context, string) ([]netip.Addr, error) {
	return nil, errors.New("no DNS in this example")
}
