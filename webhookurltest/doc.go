// Package webhookurltest provides a hermetic DNS server for tests of code
// that resolves webhook hosts, such as the tests of package webhookurl and
// of an API service that validates webhook URLs with it.
//
// Start runs a miekg/dns server on 127.0.0.1 with a random port, serving UDP
// and TCP on the same port, and stops it when the test ends. The server
// answers like a recursive resolver from an in-memory Zone: names absent
// from the zone get NXDOMAIN, a name without records of the requested type
// gets NOERROR with an empty answer (NODATA), and CNAME chains are followed.
// Tests can change records while the server runs, answer a name differently
// on each query to model DNS rebinding, inject faults such as timeouts,
// SERVFAIL and truncation, and count the queries the code under test sent.
//
// The server never sends traffic anywhere but back to the client that
// queried it, and it is never a forwarder, so a test cannot leak queries to
// a real resolver through it.
//
// A test points its resolver at Server.Addr:
//
//	func TestHook(t *testing.T) {
//		dnsServer := webhookurltest.Start(t, webhookurltest.Zone{
//			"hooks.example.com":    {webhookurltest.A("93.184.215.14")},
//			"internal.example.com": {webhookurltest.A("10.0.0.5")},
//		})
//		resolver := &net.Resolver{
//			PreferGo: true,
//			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
//				var d net.Dialer
//				return d.DialContext(ctx, network, dnsServer.Addr())
//			},
//		}
//		// Hand resolver to the code under test, then check how many
//		// queries it sent:
//		_ = dnsServer.Queries("hooks.example.com", dns.TypeA)
//	}
//
// All Server methods are safe for concurrent use.
package webhookurltest
