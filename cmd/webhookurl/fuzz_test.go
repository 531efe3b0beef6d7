package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
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

// requirePrintableText fails if out has a rune that a terminal may act on
// or that changes how the line reads. These are C0 controls other than the
// line feed, DEL, C1 controls such as U+009B (CSI), format characters such
// as the bidi override U+202E, and the Unicode line and paragraph
// separators.
// The commands quote untrusted text with %q so that an input such as
// "\x1b]0;title\x07" cannot rewrite the operator's terminal.
func requirePrintableText(t *testing.T, input []byte, out string) {
	t.Helper()
	for i, r := range out {
		unsafe := unicode.IsControl(r) && r != '\n' || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
		require.False(t, unsafe, "output for %q has %U at byte %d: %q", input, r, i, out)
	}
}

// FuzzCommandOutput runs check -static and audit -static on arbitrary
// input, in text and JSON mode. Text output must be printable, with one
// line per input line for check, and every line of JSON output must
// decode, with check echoing each input line as its url.
func FuzzCommandOutput(f *testing.F) {
	for _, seed := range []string{
		"https://hooks.example.com/\nhttps://127.0.0.1/\n",
		"https://hooks.example.com/\x1b]0;owned\x07\n",
		"https://hooks\x7f.example.com/\r\n\xc2\x9b31m",
		`{"id":"\u001b[2J","url":"https://10.0.0.5/","name":"\u009b"}`,
		`[{"id":1,"url":"https://hooks.example.com/\u0000"}]`,
		`{"id":"\u007f","company_id":"\u0085","url":"https://a.example.com/"}`,
		"{\"id\":\"\x7f\",\"company_id\":\"\xc2\x9b2J\",\"url\":\"https://a.example.com/\"}",
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, input []byte) {
		h := hooks{resolver: noResolver{}, isTerminal: func(io.Writer) bool { return false }}
		for _, command := range []string{"check", "audit"} {
			for _, asJSON := range []bool{false, true} {
				args := []string{command, "-static"}
				if asJSON {
					args = append(args, "-json")
				}
				var stdout, stderr bytes.Buffer
				runWith(t.Context(), args, bytes.NewReader(input), &stdout, &stderr, h)

				out := stdout.String()
				if !asJSON {
					requirePrintableText(t, input, out)
					requirePrintableText(t, input, stderr.String())
				}
				if command == "check" {
					requireCheckLines(t, input, out, asJSON)
				}
				if asJSON && out != "" {
					for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
						require.True(t, json.Valid([]byte(line)), "%s -json output line %q for %q", command, line, input)
					}
				}
			}
		}
	})
}

// requireCheckLines checks that check wrote one verdict per input line
// and, in JSON mode, echoed each line that is valid UTF-8 as its url.
func requireCheckLines(t *testing.T, input []byte, out string, asJSON bool) {
	t.Helper()

	lines, _ := referenceLines(input, maxLineBytes)
	if len(lines) == 0 {
		require.Empty(t, out, "check output for %q", input)
		return
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, got, len(lines), "check output lines for %q: %q", input, out)
	if !asJSON {
		return
	}
	for i, line := range got {
		var v verdict
		require.NoError(t, json.Unmarshal([]byte(line), &v), "check -json line %q", line)
		if utf8.ValidString(lines[i]) {
			require.Equal(t, lines[i], v.URL, "check -json url of input line %d of %q", i+1, input)
		}
	}
}

// TestAuditRecordsJSONWhiteSpaceOnly checks that a JSON-lines record is
// read as JSON is. Only space, tab, CR and LF may surround the object (RFC
// 8259 Section 2), so a line wrapped in other white space is malformed.
func TestAuditRecordsJSONWhiteSpaceOnly(t *testing.T) {
	const record = `{"id":1,"url":"https://hooks.example.com/"}`
	for _, space := range []string{"\u0085", "\u00a0", "\u1680", "\u2000", "\u2028", "\u3000", "\v", "\f"} {
		for _, line := range []string{space + record, record + space} {
			t.Run(strconv.QuoteToASCII(line), func(t *testing.T) {
				rr, err := newRecordReader(strings.NewReader(line + "\n"))
				require.NoError(t, err)
				sub, err := rr.next()
				require.NoError(t, err)

				assert.False(t, json.Valid([]byte(line)))
				assert.Equal(t, reasonMalformedRecord, sub.problemReason, "record %q", line)
				assert.Empty(t, sub.url, "record %q", line)
			})
		}
	}
}

// TestAuditTextEscapesRecordIDs checks that audit's text output never
// copies a terminal control or a bidi override from an id or company_id.
// JSON allows DEL, C1 controls and format characters unescaped inside a
// string, so printing the raw JSON text of an id is not enough.
func TestAuditTextEscapesRecordIDs(t *testing.T) {
	h := hooks{resolver: noResolver{}, isTerminal: func(io.Writer) bool { return false }}
	for _, char := range []string{"\x7f", "\u009b", "\u202e", "\u2028", "\u0085"} {
		for _, field := range []string{"id", "company_id"} {
			record := `{"` + field + `":"a` + char + `b","url":"https://hooks.example.com/"}`
			if field == "company_id" {
				record = `{"id":1,"company_id":"a` + char + `b","url":"https://hooks.example.com/"}`
			}
			t.Run(field+" "+strconv.QuoteToASCII(char), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				runWith(t.Context(), []string{"audit", "-static"}, strings.NewReader(record), &stdout, &stderr, h)

				assert.NotContains(t, stdout.String(), char, "audit output for %q", record)
				assert.Contains(t, stdout.String(), "hooks.example.com", "audit output for %q", record)
			})
		}
	}
}
