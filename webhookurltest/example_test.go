package webhookurltest_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"

	"github.com/fintoro/webhookurl/webhookurltest"
)

// The server answers a rebinding name with a public address first and a
// loopback address after that, which is what a check-then-dial client must
// survive. Tests use Start instead of New, so the server stops by itself.
func Example() {
	server, err := webhookurltest.New(webhookurltest.Zone{
		"hooks.example.com": {webhookurltest.CNAME("rebind.example.com")},
	})
	if err != nil {
		panic(err)
	}
	defer server.Close()

	server.SetSequence("rebind.example.com",
		[]webhookurltest.Record{webhookurltest.A("93.184.215.14")},
		[]webhookurltest.Record{webhookurltest.A("127.0.0.1").WithTTL(0)},
	)

	// A Go resolver that sends every query to the test server.
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, server.Addr())
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for range 2 {
		addrs, err := resolver.LookupNetIP(ctx, "ip4", "hooks.example.com")
		fmt.Println(addrs, err)
	}
	fmt.Println("A queries:", server.Queries("hooks.example.com", dns.TypeA))
	// Output:
	// [93.184.215.14] <nil>
	// [127.0.0.1] <nil>
	// A queries: 2
}
