package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeReference encodes res the way audit did before appendJSON, with
// json.Encoder and HTML escaping off.
func encodeReference(t *testing.T, res recordResult) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(res))
	return b.String()
}

func TestAppendJSONMatchesEncoder(t *testing.T) {
	line, index := 7, 0
	tests := []recordResult{
		{Line: &line, ID: json.RawMessage(`101`), CompanyID: json.RawMessage(`"c\"7"`), Name: "Orders", URL: "https://hooks.example.com/",
			Verdict: verdictOK, OK: true, Canonical: "https://hooks.example.com/", Addresses: []string{"93.184.215.14", "2606:2800::1"}},
		{Index: &index, Name: "<b>&amp;</b>", URL: "https://a.example.com/?q=1&r=<2>", Disabled: true,
			Verdict: verdictRejected, Reason: "private_address", Addresses: []string{}, Message: "a \"quoted\" \\ message", Detail: "10.0.0.0/8"},
		{Line: &line, Name: "ctl \x00\x01\x1f\b\f\n\r\t\x7f", URL: "bad utf-8 \xff\xc3 end", Verdict: verdictInvalid,
			Reason: reasonMalformedRecord, Message: "line sep \u2028 para sep \u2029 snowman \u2603 emoji \U0001F600"},
		{ID: json.RawMessage(`{"tenant":1}`), Addresses: nil},
		{},
	}
	for _, res := range tests {
		assert.Equal(t, encodeReference(t, res), string(res.appendJSON(nil)), "appendJSON(%+v)", res)
	}
}

// FuzzAppendJSON checks appendJSON against json.Encoder on arbitrary
// strings, which exercises every escape and invalid UTF-8.
func FuzzAppendJSON(f *testing.F) {
	f.Add("Orders", "https://hooks.example.com/", "detail \u2028", true)
	f.Add("\x00\xff<>&", "\"\\", "\xe2\x80", false)
	f.Fuzz(func(t *testing.T, name, url, detail string, disabled bool) {
		line := 3
		res := recordResult{Line: &line, ID: json.RawMessage(`"x"`), Name: name, URL: url, Disabled: disabled,
			Verdict: verdictRejected, Reason: "r", Addresses: []string{name, url}, Message: url, Detail: detail}
		require.Equal(t, encodeReference(t, res), string(res.appendJSON(nil)), "appendJSON(%+v)", res)
	})
}
