package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
	record := fmt.Sprintf("id=%s company=%s name=%q", formatRawID(res.ID), formatRawID(res.CompanyID), res.Name)
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

// appendText appends res as writeText writes it.
func (res *recordResult) appendText(b []byte) []byte {
	w := bytes.NewBuffer(b)
	res.writeText(w) // writes to a bytes.Buffer do not fail
	return w.Bytes()
}

func derefOr(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// formatRawID formats the raw JSON of an id or company id for text output
// and messages. An absent id is null, and a string is quoted by Go from
// its decoded text. Anything else is printed as written, or quoted as a
// whole if strconv.IsPrint rejects one of its runes. Raw JSON may hold DEL,
// C1 controls such as U+009B (CSI), bidi overrides or U+2028 unescaped,
// which would let a record rewrite the operator's terminal line.
func formatRawID(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	if raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err == nil {
			return strconv.Quote(text)
		}
	}
	if s := string(raw); !strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return s
	}
	return strconv.Quote(string(raw))
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
	records := "records"
	if s.Records == 1 {
		records = "record"
	}
	if _, err := fmt.Fprintf(w, "summary: %d %s, %d ok, %d rejected, %d invalid, %d disabled%s\n",
		s.Records, records, s.OK, s.Rejected, s.Invalid, s.Disabled, status); err != nil {
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

// appendJSON appends res as encoding/json would encode it with HTML
// escaping off, followed by a newline, as json.Encoder writes it. It
// exists because reflection made encoding/json the largest cost of a
// static audit, above validation itself. ID and CompanyID must be compact,
// valid JSON or empty, which the record reader guarantees.
func (res *recordResult) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if res.Line != nil {
		b = append(b, `"line":`...)
		b = strconv.AppendInt(b, int64(*res.Line), 10)
		b = append(b, ',')
	}
	if res.Index != nil {
		b = append(b, `"index":`...)
		b = strconv.AppendInt(b, int64(*res.Index), 10)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendRawOrNull(b, res.ID)
	b = append(b, `,"company_id":`...)
	b = appendRawOrNull(b, res.CompanyID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, res.Name)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, res.URL)
	b = append(b, `,"disabled":`...)
	b = strconv.AppendBool(b, res.Disabled)
	b = append(b, `,"verdict":`...)
	b = appendJSONString(b, res.Verdict)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, res.OK)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, res.Reason)
	b = append(b, `,"canonical":`...)
	b = appendJSONString(b, res.Canonical)

	b = append(b, `,"addresses":`...)
	if res.Addresses == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range res.Addresses {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}

	if res.Message != "" {
		b = append(b, `,"message":`...)
		b = appendJSONString(b, res.Message)
	}
	if res.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, res.Detail)
	}
	return append(b, "}\n"...)
}

func appendRawOrNull(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping off. Quote, backslash and control characters are
// escaped, and invalid UTF-8 becomes U+FFFD. U+2028 and U+2029 are escaped
// too, because older JavaScript does not allow them in string literals.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}

		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
