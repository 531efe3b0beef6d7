package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Verdicts of an audited record.
const (
	verdictOK       = "ok"
	verdictRejected = "reject"
	verdictInvalid  = "invalid"
)

// recordResult is the outcome of one audited record, in the shape of a
// -json line of audit.
type recordResult struct {
	// Line is the 1-based line of a JSON-lines export; Index is the
	// 0-based position in a JSON array. Exactly one is set.
	Line  *int `json:"line,omitempty"`
	Index *int `json:"index,omitempty"`

	// ID and CompanyID are the raw JSON of the record's fields, null when
	// absent.
	ID        json.RawMessage `json:"id"`
	CompanyID json.RawMessage `json:"company_id"`
	Name      string          `json:"name"`
	URL       string          `json:"url"`

	// Disabled is true when the record has "enabled": false.
	Disabled bool `json:"disabled"`

	// Verdict is "ok", "reject" or "invalid", and OK is true for "ok".
	Verdict string `json:"verdict"`
	OK      bool   `json:"ok"`

	// Reason is a webhookurl reason code for "reject", or
	// malformed_record, missing_url or duplicate_id for "invalid".
	Reason    string   `json:"reason"`
	Canonical string   `json:"canonical"`
	Addresses []string `json:"addresses"`
	Message   string   `json:"message,omitempty"`
	Detail    string   `json:"detail,omitempty"`
}

func newRecordResult(sub subscription, v verdict) recordResult {
	res := baseResult(sub)
	res.OK = v.OK
	res.Verdict = verdictRejected
	if v.OK {
		res.Verdict = verdictOK
	}
	res.Reason = v.Reason
	res.Canonical = v.Canonical
	res.Addresses = v.Addresses
	res.Message = v.Message
	res.Detail = v.Detail
	return res
}

func newInvalidResult(sub subscription) recordResult {
	res := baseResult(sub)
	res.Verdict = verdictInvalid
	res.Reason = sub.problemReason
	res.Message = sub.problem
	return res
}

func baseResult(sub subscription) recordResult {
	res := recordResult{
		ID:        sub.id,
		CompanyID: sub.companyID,
		Name:      sub.name,
		URL:       sub.url,
		Disabled:  !sub.enabled,
		Addresses: []string{},
	}
	n := sub.pos.line
	if sub.pos.array {
		n = sub.pos.index
		res.Index = &n
	} else {
		res.Line = &n
	}
	return res
}

// writeText writes res as one line of text, such as
//
//	ok      line 3  id=42 company=7 name="Orders"  https://hooks.example.com/  [192.0.2.10]
//	reject  line 4  id="s2" company=7 name="Billing" disabled  private_address  "https://..."  detail
//	invalid line 5  id=null company=null name=""  malformed_record  invalid JSON: ...
func (res recordResult) writeText(w io.Writer) error {
	pos := fmt.Sprintf("line %d", derefOr(res.Line))
	if res.Index != nil {
		pos = fmt.Sprintf("index %d", *res.Index)
	}
	record := fmt.Sprintf("id=%s company=%s name=%q", rawOrNull(res.ID), rawOrNull(res.CompanyID), res.Name)
	if res.Disabled {
		record += " disabled"
	}

	var err error
	switch res.Verdict {
	case verdictOK:
		_, err = fmt.Fprintf(w, "ok      %s  %s  %s  %s\n", pos, record, res.Canonical, formatAddresses(res.Addresses))
	case verdictRejected:
		_, err = fmt.Fprintf(w, "reject  %s  %s  %s  %q  %s\n", pos, record, res.Reason, res.URL, res.Detail)
	default:
		url := ""
		if res.URL != "" {
			url = fmt.Sprintf("  %q", res.URL)
		}
		_, err = fmt.Fprintf(w, "invalid %s  %s  %s%s  %s\n", pos, record, res.Reason, url, res.Message)
	}
	return err
}

func derefOr(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

func rawOrNull(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// summary counts the results of an audit. Records is the sum of OK,
// Rejected and Invalid; Disabled counts records of any verdict that have
// "enabled": false.
type summary struct {
	Records     int            `json:"records"`
	OK          int            `json:"ok"`
	Rejected    int            `json:"rejected"`
	Invalid     int            `json:"invalid"`
	Disabled    int            `json:"disabled"`
	Reasons     map[string]int `json:"reasons"`
	Interrupted bool           `json:"interrupted"`
}

func newSummary() summary {
	return summary{Reasons: make(map[string]int)}
}

func (s *summary) add(res resultCount) {
	s.Records++
	switch res.verdict {
	case verdictOK:
		s.OK++
	case verdictRejected:
		s.Rejected++
	default:
		s.Invalid++
	}
	if res.disabled {
		s.Disabled++
	}
	if res.reason != "" {
		s.Reasons[res.reason]++
	}
}

// writeText writes the counts and one line per reason, the most frequent
// first.
func (s summary) writeText(w io.Writer) error {
	status := ""
	if s.Interrupted {
		status = " (interrupted)"
	}
	if _, err := fmt.Fprintf(w, "summary: %d records, %d ok, %d rejected, %d invalid, %d disabled%s\n",
		s.Records, s.OK, s.Rejected, s.Invalid, s.Disabled, status); err != nil {
		return err
	}

	reasons := make([]string, 0, len(s.Reasons))
	for reason := range s.Reasons {
		reasons = append(reasons, reason)
	}
	slices.SortFunc(reasons, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.Reasons[b], s.Reasons[a]), cmp.Compare(a, b))
	})
	for _, reason := range reasons {
		if _, err := fmt.Fprintf(w, "  %-26s %d\n", reason, s.Reasons[reason]); err != nil {
			return err
		}
	}
	return nil
}
