package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// referenceLines splits input the way the check command documents it: one
// line per "\n", one "\r" before it removed, a last line without newline
// kept, and a line longer than max cut to max bytes.
func referenceLines(input []byte, max int) (lines []string, truncated []bool) {
	rest := input
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
			line = bytes.TrimSuffix(line, []byte("\r"))
		} else {
			rest = nil
		}
		cut := len(line) > max
		if cut {
			line = line[:max]
		}
		lines = append(lines, string(line))
		truncated = append(truncated, cut)
	}
	return lines, truncated
}

// FuzzReadLine compares the line splitting of the check command with
// referenceLines, through a small buffer and one-byte reads so that lines
// span buffer refills, and with a small maximum so that truncation and a
// "\r\n" at the cut are exercised.
func FuzzReadLine(f *testing.F) {
	for _, seed := range []string{
		"https://hooks.example.com/\n",
		"a\r\nb\n\nc",
		"a\rb\r\n",
		"\r\n\r\n",
		"0123456789abcdef\r\nshort\n",
		"01234567\r\n",
		"012345678\r",
		"\n",
		"",
	} {
		f.Add([]byte(seed), uint8(8))
	}

	f.Fuzz(func(t *testing.T, input []byte, maxByte uint8) {
		max := int(maxByte%64) + 1
		wantLines, wantTruncated := referenceLines(input, max)

		br := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(input)), 16)
		var gotLines []string
		var gotTruncated []bool
		for {
			line, truncated, err := readLine(br, max)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			gotLines = append(gotLines, string(line))
			gotTruncated = append(gotTruncated, truncated)
			require.LessOrEqual(t, len(gotLines), len(input), "readLine(%q) returns more lines than bytes", input)
		}
		require.Equal(t, wantLines, gotLines, "lines of %q with max %d", input, max)
		require.Equal(t, wantTruncated, gotTruncated, "truncation of %q with max %d", input, max)

		next := lineSource(bytes.NewReader(input))
		var sourced []string
		for {
			line, err := next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			sourced = append(sourced, line)
		}
		wantFull, _ := referenceLines(input, maxLineBytes)
		require.Equal(t, wantFull, sourced, "lineSource(%q)", input)
	})
}

// referenceRecord is what FuzzAuditRecords expects of one record that has
// no problem, decoded with encoding/json alone.
type referenceRecord struct {
	URL  *string `json:"url"`
	Name *string `json:"name"`
}

// FuzzAuditRecords reads arbitrary exports, in JSON lines and as a JSON
// array. Reading must end, with records in order and one record per line
// or element. Every record has a problem or a url, and the url and name of
// a record without a problem are what encoding/json decodes.
func FuzzAuditRecords(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"url":"https://hooks.example.com/","name":"a","enabled":true}` + "\n" + `{"id":"1","url":"https://10.0.0.5/"}`,
		`[{"id":1,"url":"https://hooks.example.com/"},{"id":1,"url":"x"}]`,
		"\xef\xbb\xbf" + `[{"id":2,"url":null}]`,
		`[{"id":3,"url":"https://a.example.com/"}] {"id":4}`,
		`[{"id":5,"url":"https://a.example.com/"},`,
		`{"id":{"a":1},"url":"u"}` + "\r\n\r\n" + `[1,2]` + "\n" + `"text"`,
		`{"id":"\u0041","url":"u"}` + "\n" + `{"id":"A","url":"u"}`,
		`{"id":6,"url":7,"enabled":"yes","name":[]}`,
		"  \n\t[\n]",
		"",
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, input []byte) {
		rr, err := newRecordReader(bytes.NewReader(input))
		require.NoError(t, err)

		var records []subscription
		for {
			sub, err := rr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			records = append(records, sub)
			require.LessOrEqual(t, len(records), len(input)+1, "more records than bytes in %q", input)
		}

		for i, sub := range records {
			if i > 0 {
				prev := records[i-1].pos
				require.Equal(t, prev.array, sub.pos.array, "record %d of %q", i, input)
				if sub.pos.array {
					require.Greater(t, sub.pos.index, prev.index, "record %d of %q", i, input)
				} else {
					require.Greater(t, sub.pos.line, prev.line, "record %d of %q", i, input)
				}
			}
			if sub.problemReason != "" {
				require.NotEmpty(t, sub.problem, "record %d of %q has a reason without a problem", i, input)
				continue
			}
			require.NotEmpty(t, sub.id, "record %d of %q has no id", i, input)
			requireMatchesReference(t, input, sub)
		}

		requireRecordCount(t, input, records)
	})
}

// requireMatchesReference checks a record without a problem against the
// source text of its line. Records of a JSON array are checked by count
// only, because their source text is not at hand.
func requireMatchesReference(t *testing.T, input []byte, sub subscription) {
	t.Helper()
	if sub.pos.array {
		return
	}

	lines, _ := referenceLines(bytes.TrimPrefix(input, []byte("\xef\xbb\xbf")), maxRecordBytes)
	require.LessOrEqual(t, sub.pos.line, len(lines), "line %d of %q", sub.pos.line, input)
	var want referenceRecord
	require.NoError(t, json.Unmarshal([]byte(lines[sub.pos.line-1]), &want), "line %d of %q", sub.pos.line, input)
	require.NotNil(t, want.URL, "line %d of %q has no url", sub.pos.line, input)
	require.Equal(t, *want.URL, sub.url, "url of line %d of %q", sub.pos.line, input)
	if want.Name != nil {
		require.Equal(t, *want.Name, sub.name, "name of line %d of %q", sub.pos.line, input)
	}
}

// requireRecordCount checks the number of records: one per line that is
// not blank for JSON lines, and one per element for a valid JSON array.
func requireRecordCount(t *testing.T, input []byte, records []subscription) {
	t.Helper()

	body := bytes.TrimPrefix(input, []byte("\xef\xbb\xbf"))
	if first := bytes.TrimLeft(body, " \t\r\n"); len(first) > 0 && first[0] == '[' {
		var elements []json.RawMessage
		if json.Unmarshal(body, &elements) != nil {
			return // a syntax error ends the export with one record that reports it
		}
		require.Len(t, records, len(elements), "records of the array %q", input)
		return
	}

	lines, _ := referenceLines(body, maxRecordBytes)
	nonBlank := 0
	for _, line := range lines {
		if strings.TrimLeft(line, " \t\r") != "" {
			nonBlank++
		}
	}
	require.Len(t, records, nonBlank, "records of the JSON lines %q", input)
}
