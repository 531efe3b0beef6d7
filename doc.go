// Package webhookurl decides whether a webhook URL is safe to store and
// safe to dial: the URL is https, at most 2048 characters, and its host
// names only public IP addresses. It enforces that one promise in the three
// places a webhook platform needs it, with one address table and one host
// policy:
//
//   - an API service, on subscription create and update, where each
//     rejection carries a stable [Reason] code fit for a 422 response;
//   - fuzz tests, through [Validator.ValidateStatic], which needs no network;
//   - delivery workers, right before they dial, through [Validator.DialContext]
//     and the transport and client built on it, so that DNS rebinding,
//     redirects and proxy variables cannot route a request around the check.
//
// The attacker is assumed to control the URL and the DNS zone behind it.
// Every rule fails closed: an input the validator cannot judge is rejected
// with a reason, never allowed. Unlike a check on the IP address alone, the
// validator also parses the URL the way HTTP clients do, rejects the
// notations on which parsers disagree (numeric IPv4 forms, userinfo,
// backslashes, percent-encoded hosts, unbracketed IPv6), and resolves names
// itself, judging every address of every answer.
//
// Not in scope: authenticating the endpoint (use TLS and signed payloads),
// rate limiting, and deciding which public hosts a customer may use.
//
// # An API service
//
// Build one Validator at start-up and share it:
//
//	v, err := webhookurl.New(webhookurl.Config{})
//	...
//	res, err := v.Validate(ctx, req.URL)
//	var verr *webhookurl.Error
//	if errors.As(err, &verr) {
//		// 422 with verr.Reason as the code and verr.Message() as the
//		// text; log verr.Detail(), which names the address and range.
//	}
//	store(res.URL) // the canonical form
//
// # A delivery worker
//
// Deliver with the Validator's client, which resolves, checks and dials in
// one step and never follows redirects or proxy variables on its own:
//
//	client := v.Client(webhookurl.ClientOptions{})
//	resp, err := client.Do(req)
//
// The zero Config reads its nameservers from /etc/resolv.conf and ignores
// the search domains there: only absolute names are queried.
package webhookurl
