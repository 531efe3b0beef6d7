package webhookurl_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/fintoro/webhookurl"
)

// loopbackResolver resolves every name to one address. It replaces
// DNS so that the example runs without a network.
type loopbackResolver netip.Addr

func (r loopbackResolver) LookupAddrs(context.Context, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.Addr(r)}, nil
}

// A delivery worker: one Deliverer shared by every delivery, and a
// decision per failure between retrying later and disabling the webhook.
func ExampleDeliverer_Deliver() {
	// The customer's endpoint. Here it is a test server on loopback, and
	// the Validator treats its address as public and resolves every name
	// to it. A real worker uses webhookurl.Config{} and the system roots.
	endpoint := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer endpoint.Close()
	addr := netip.MustParseAddrPort(endpoint.Listener.Addr().String())
	v, err := webhookurl.New(webhookurl.Config{
		Allow:    []netip.Prefix{netip.PrefixFrom(addr.Addr(), 32)},
		Resolver: loopbackResolver(addr.Addr()),
	})
	if err != nil {
		panic(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(endpoint.Certificate())

	deliverer := v.NewDeliverer(webhookurl.ClientOptions{
		Transport: webhookurl.TransportOptions{TLSConfig: &tls.Config{RootCAs: roots}},
	})

	// URLs as they were stored when customers registered them. The second
	// was accepted under an older policy.
	stored := []string{
		fmt.Sprintf("https://hooks.example.com:%d/events", addr.Port()),
		"https://10.0.0.5/events",
	}
	for _, url := range stored {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := deliverer.Deliver(ctx, url, []byte(`{"event":"invoice.paid"}`),
			http.Header{"Content-Type": {"application/json"}})
		cancel()

		var deliveryErr *webhookurl.DeliveryError
		var rejected *webhookurl.Error
		switch {
		case err == nil:
			resp.Body.Close()
			fmt.Println("delivered:", resp.Status)
		case errors.As(err, &deliveryErr) && (deliveryErr.Stage == webhookurl.StageNetwork || deliveryErr.Stage == webhookurl.StageDNS):
			fmt.Println("retry later:", err)
		case errors.As(err, &rejected):
			// Log err in full; show the customer only the Message,
			// which names no internal address.
			fmt.Println("disable the webhook:", rejected.Message())
		default:
			fmt.Println("retry later:", err)
		}
	}
	// Output:
	// delivered: 204 No Content
	// disable the webhook: IP address "10.0.0.5" is not publicly reachable
}
