package webhookurl

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Stage names the step of a delivery that failed.
type Stage string

// The stages of a delivery, in the order they run.
const (
	// StageURL: the stored URL no longer passes the URL or host rules,
	// for example because the policy changed since it was stored.
	StageURL Stage = "url"

	// StageDNS: the host could not be resolved (ReasonDNSNotFound,
	// ReasonNoAddresses or ReasonDNSFailure).
	StageDNS Stage = "dns"

	// StageAddress: the URL names, the host resolved to, or the
	// connection was about to reach an address or port that the policy
	// rejects (ReasonPrivateAddress or ReasonPortNotAllowed).
	StageAddress Stage = "address"

	// StageRedirect: the endpoint redirected to a URL that failed
	// validation. The *Error in the chain gives the reason.
	StageRedirect Stage = "redirect"

	// StageNetwork: connecting, the TLS handshake, writing the request or
	// reading the response headers failed or timed out, or the context
	// ended after the name was resolved.
	StageNetwork Stage = "network"
)

// DeliveryError is the error of Deliverer.Deliver. Err is the cause with
// net/http's *url.Error removed; for every stage but StageNetwork it wraps
// an *Error, so errors.Is(err, ErrPrivateAddress) and errors.As on an
// *Error work through a DeliveryError.
//
// Error includes network details such as a peer address. Show a customer
// the Message of the *Error in the chain, or a generic text for
// StageNetwork.
type DeliveryError struct {
	// Stage is the step that failed.
	Stage Stage

	// URL is the URL as passed to Deliver.
	URL string

	// Err is the cause: an *Error, a rejected redirect wrapping one, or
	// a network error such as a *net.OpError or a timeout.
	Err error
}

// Error returns the URL, the stage and the cause, for logs. An address
// rejection names only the host; errors.As to *Error and its Detail give
// the address and the range.
func (e *DeliveryError) Error() string {
	// The cause's own package prefix would repeat this one.
	cause := strings.TrimPrefix(e.Err.Error(), "webhookurl: ")
	return "webhookurl: delivery to " + quote(e.URL) + " failed at the " + string(e.Stage) + " stage: " + cause
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// errNilContext rejects a nil context, which net.Dialer and net/http
// would dereference.
var errNilContext = errors.New("webhookurl: nil context; pass context.Background() or a request's context")

// Deliverer posts webhook payloads to stored URLs through a Client of its
// Validator. Build one per worker with NewDeliverer and share it: it is
// safe for concurrent use and keeps connections alive between deliveries.
type Deliverer struct {
	v      *Validator
	client *http.Client
}

// NewDeliverer returns a Deliverer that sends requests through
// v.Client(opts).
func (v *Validator) NewDeliverer(opts ClientOptions) *Deliverer {
	return &Deliverer{v: v, client: v.Client(opts)}
}

// Deliver sends body to rawURL in a POST request with header, and returns
// the response, whatever its status, or a *DeliveryError. The caller must
// close the response body.
//
// rawURL is checked again with ValidateStatic before anything is sent, so
// that a URL stored under an older policy is rejected, and its canonical
// form is requested. The name is then resolved and checked when the
// connection is made, so the addresses dialed are the ones checked,
// whatever the DNS returned when the URL was stored.
func (d *Deliverer) Deliver(ctx context.Context, rawURL string, body []byte, header http.Header) (*http.Response, error) {
	res, err := d.v.ValidateStatic(rawURL)
	if err != nil {
		return nil, newDeliveryError(rawURL, err)
	}

	if ctx == nil {
		return nil, &DeliveryError{Stage: StageNetwork, URL: rawURL, Err: errNilContext}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, res.URL, bytes.NewReader(body))
	if err != nil {
		// Not expected: a canonical URL always parses.
		return nil, &DeliveryError{Stage: StageURL, URL: rawURL,
			Err: &Error{Reason: ReasonInvalidURL, Value: rawURL, Err: err, detail: "net/http cannot build a request for it"}}
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}

	resp, err := d.client.Do(req)
	if err != nil {
		return nil, newDeliveryError(rawURL, err)
	}
	return resp, nil
}

// CloseIdleConnections closes the kept-alive connections that carry no
// request, so that the next delivery to each host resolves and dials
// again.
func (d *Deliverer) CloseIdleConnections() {
	d.client.CloseIdleConnections()
}

// newDeliveryError assigns a failed request to its stage.
func newDeliveryError(rawURL string, err error) *DeliveryError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}

	stage := StageNetwork
	var e *Error
	switch {
	case isRedirectError(err):
		stage = StageRedirect
	case !errors.As(err, &e):
	case e.Reason == ReasonDNSNotFound || e.Reason == ReasonNoAddresses || e.Reason == ReasonDNSFailure:
		stage = StageDNS
	case e.Reason == ReasonPrivateAddress || e.Reason == ReasonPortNotAllowed:
		stage = StageAddress
	default:
		stage = StageURL
	}
	return &DeliveryError{Stage: stage, URL: rawURL, Err: err}
}
