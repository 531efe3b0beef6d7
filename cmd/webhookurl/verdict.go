package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fintoro/webhookurl"
)

// verdict is the outcome of one URL, in the shape of a -json line of check.
type verdict struct {
	// URL is the input as written.
	URL string `json:"url"`
	OK  bool   `json:"ok"`

	// Reason is a webhookurl.Reason code, or empty when OK.
	Reason string `json:"reason"`

	// Canonical is the URL to store, or empty when rejected.
	Canonical string `json:"canonical"`

	// Addresses are the checked addresses of an accepted URL, or the
	// address that failed the policy for a rejected one. It is empty for a
	// DNS name in a -static run and never null in JSON.
	Addresses []string `json:"addresses"`

	// Message is the text a customer would see; Detail adds the address,
	// the range and the underlying cause for operators.
	Message string `json:"message,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

func newVerdict(raw string, res webhookurl.Result, err error) verdict {
	v := verdict{URL: raw, Addresses: []string{}}
	if err == nil {
		v.OK = true
		v.Canonical = res.URL
		for _, a := range res.Addrs {
			v.Addresses = append(v.Addresses, a.String())
		}
		return v
	}

	var verr *webhookurl.Error
	if !errors.As(err, &verr) {
		// The library documents that this never happens; keep the
		// message rather than lose it.
		v.Reason = "internal_error"
		v.Message = err.Error()
		v.Detail = err.Error()
		return v
	}
	v.Reason = string(verr.Reason)
	v.Message = verr.Message()
	v.Detail = strings.TrimPrefix(verr.Detail(), "webhookurl: ")
	if verr.Addr.IsValid() {
		v.Addresses = append(v.Addresses, verr.Addr.String())
	}
	return v
}

// writeText writes v as one line of text:
//
//	ok      https://hooks.example.com/  [192.0.2.10]
//	reject  private_address  "https://intranet.example.com/"  host ... [detail]
func (v verdict) writeText(w io.Writer) error {
	if v.OK {
		_, err := fmt.Fprintf(w, "ok      %s  %s\n", v.Canonical, formatAddresses(v.Addresses))
		return err
	}
	_, err := fmt.Fprintf(w, "reject  %s  %q  %s\n", v.Reason, v.URL, v.Detail)
	return err
}

// formatAddresses lists addrs in brackets, or notes that nothing was
// resolved, which only happens for a DNS name in a -static run.
func formatAddresses(addrs []string) string {
	if len(addrs) == 0 {
		return "(not resolved)"
	}
	return "[" + strings.Join(addrs, " ") + "]"
}
