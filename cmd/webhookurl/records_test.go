package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseBothWays parses each record with the fast path allowed and with the
// slow path only, each through its own reader, so that duplicate detection
// gets the same ids in the same order.
func parseBothWays(records []string) (fast, slow []subscription) {
	fastReader := &recordReader{ids: newIDSet()}
	slowReader := &recordReader{ids: newIDSet()}
	for i, raw := range records {
		pos := position{line: i + 1}
		fast = append(fast, fastReader.parse(pos, []byte(raw)))
		slow = append(slow, slowReader.parseSlow(pos, []byte(raw)))
	}
	return fast, slow
}

func TestParseScannedMatchesSlow(t *testing.T) {
	records := []string{
		`{"id": 1, "company_id": 7, "name": "Orders", "url": "https://hooks.example.com/", "enabled": true, "events": ["a", {"b": [1, -2.5e+3]}], "x": null}`,
		`{"id": "s1", "url": "https://hooks.example.com/", "enabled": false}`,
		`{"id": 1, "url": "https://hooks.example.com/again"}`,
		`{"id": "1", "url": "https://hooks.example.com/"}`,
		`{"id": "s1", "url": "https://hooks.example.com/"}`,
		`{"id": "\u0073\u0031", "url": "https://hooks.example.com/"}`,
		`{"ID": 2, "URL": "https://upper.example.com/", "Name": "Upper", "ENABLED": false}`,
		`{"id": 3, "url": "https://first.example.com/", "url": "https://last.example.com/"}`,
		`{"id": 4, "url": "https://a.example.com/", "url": 5}`,
		`{"id": 5, "url": null}`,
		`{"id": 6}`,
		`{"id": 7, "name": "Caf\u00e9", "url": "https://a.example.com/"}`,
		`{"id": 8, "name": "Café", "url": "https://a.example.com/"}`,
		"{\"id\": 9, \"name\": \"bad \xff utf-8\", \"url\": \"https://a.example.com/\"}",
		`{"id": 10, "company_id": {"a": 1}, "url": "https://a.example.com/"}`,
		`{"id": 11, "company_id": "c\"1", "url": "https://a.example.com/"}`,
		`{"ıd": 12, "url": "https://a.example.com/"}`,
		`{"id": 13, "url": "https://a.example.com/", "enabled": "yes"}`,
		`{"id": 14, "url": "https://a.example.com/", "name": 5}`,
		`{"id": 15, "url": "https://a.example.com/", "events": [1,]}`,
		`{"id": 16, "url": "https://a.example.com/", "n": 01}`,
		`{"id": 17, "url": "https://a.example.com/", "n": 1.}`,
		`{"id": 18, "url": "https://a.example.com/", "s": "tab	inside"}`,
		`{"id": 19, "url": "https://a.example.com/"} {"id": 20}`,
		`{"id": 1.0, "url": "https://a.example.com/"}`,
		`{"id": 1e0, "url": "https://a.example.com/"}`,
		`{"id": -0, "url": "https://a.example.com/"}`,
		`{"id": true, "url": "https://a.example.com/"}`,
		`{"id": null, "url": "https://a.example.com/"}`,
		`{"id": {"nested": 1}, "url": "https://a.example.com/"}`,
		` 	{"id": 21, "url": "https://a.example.com/"}	 `,
		`{"id": 22, "url": "https://a.example.com/", "deep": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`{}`,
		`[1, 2]`,
		`"text"`,
		`{"id": 23, "url": "https://a.example.com/"`,
		`{"id": 24, "url": "https://a.example.com/", "b": tru}`,
		`{"id": 25 "url": "https://a.example.com/"}`,
		`{"id": 26, "url": "https://a.example.com/", "u": "\u12G4"}`,
	}
	fast, slow := parseBothWays(records)
	for i, raw := range records {
		assert.Equal(t, slow[i], fast[i], "parse(%q)", raw)
	}
}

// FuzzParseScanned checks that the fast path of parse decodes every
// record exactly as encoding/json does in parseSlow, problems and
// duplicate ids included. Each input is split into lines, so that the
// fuzzer can build exports with repeated ids.
func FuzzParseScanned(f *testing.F) {
	for _, seed := range []string{
		`{"id": 1, "company_id": 7, "name": "Orders", "url": "https://hooks.example.com/", "enabled": true}`,
		`{"id": "a", "url": "u"}` + "\n" + `{"id": "\u0061", "url": "u"}` + "\n" + `{"id": "a", "url": 1}`,
		`{"Id": 1, "URL": "u", "url": null, "events": [{"x": [1.5e-3, false]}]}`,
		"{\"id\": 1, \"name\": \"\xc3\", \"url\": \"u\"}",
		`{"id": 1, "ſd": 2, "url": "u", "K": 1}`,
		`{"id": -0.0E+1, "company_id": [1, 2], "url": "u", "enabled": null}`,
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, input string) {
		records := strings.Split(input, "\n")
		fast, slow := parseBothWays(records)
		for i, raw := range records {
			require.Equal(t, slow[i], fast[i], "parse(%q) of %q", raw, input)
		}
	})
}

func TestIDSet(t *testing.T) {
	const n = idChunkSize + 5000 // enough for several doublings of the index and a second chunk
	ids := newIDSet()
	for i := range n {
		_, seen := ids.addNumber([]byte(strconv.Itoa(i)), position{line: i + 1})
		require.False(t, seen, "id %d is new", i)
	}

	for _, i := range []int{0, 1, 777, idChunkSize - 1, n - 1} {
		first, seen := ids.addNumber([]byte(strconv.Itoa(i)), position{line: n + 1})
		assert.True(t, seen, "id %d was added", i)
		assert.Equal(t, "line "+strconv.Itoa(i+1), first.String(), "first position of id %d", i)
	}

	_, seen := ids.addString([]byte("42"), position{line: n + 2})
	assert.False(t, seen, `string id "42" is not the number 42`)
	first, seen := ids.addString([]byte("42"), position{line: n + 3})
	assert.True(t, seen, `string id "42" was added`)
	assert.Equal(t, fmt.Sprintf("line %d", n+2), first.String())
}

func TestIDSetArrayIndex(t *testing.T) {
	ids := newIDSet()
	_, seen := ids.addString([]byte("a"), position{index: 0, array: true})
	require.False(t, seen)
	first, seen := ids.addString([]byte("a"), position{index: 3, array: true})
	assert.True(t, seen)
	assert.Equal(t, "index 0", first.String())
}

func TestAuditNoDuplicateCheck(t *testing.T) {
	_, records, sum := runAuditJSON(t, hooks{}, "", "-static", "-no-duplicate-check", "testdata/export.jsonl")
	require.Len(t, records, 13)
	for _, r := range records {
		assert.NotEqual(t, reasonDuplicateID, r.Reason, "line %d", derefOr(r.Line))
	}
	assert.Equal(t, 4, sum.OK, "the repeated id 101 at line 9 is checked like any other")
}

// TestAuditBatchOrder runs a static audit with batches smaller than the
// export and a reorder window of a few batches, and checks that every
// record comes out once, in input order.
func TestAuditBatchOrder(t *testing.T) {
	const n = 5*staticBatchSize + 17
	var input strings.Builder
	for i := range n {
		url := "https://hooks.example.com/"
		if i%3 == 0 {
			url = "http://hooks.example.com/"
		}
		fmt.Fprintf(&input, `{"id": %d, "url": %q}`+"\n", i, url)
	}

	for _, parallel := range []string{"1", "3"} {
		t.Run(parallel, func(t *testing.T) {
			_, records, sum := runAuditJSON(t, hooks{}, input.String(), "-static", "-parallel", parallel)
			require.Len(t, records, n)
			for i, r := range records {
				assert.Equal(t, strconv.Itoa(i), string(r.ID))
				assert.Equal(t, i+1, derefOr(r.Line))
			}
			assert.Equal(t, (n+2)/3, sum.Rejected)
		})
	}
}
