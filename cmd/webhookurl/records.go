package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Reason codes of records that could not be validated at all. They extend
// the webhookurl.Reason codes in audit output.
const (
	reasonMalformedRecord = "malformed_record"
	reasonMissingURL      = "missing_url"
	reasonDuplicateID     = "duplicate_id"
)

// maxRecordBytes bounds the memory one line of a JSON-lines export may
// take. A longer line is reported as malformed and skipped.
const maxRecordBytes = 1 << 20

// position locates a record in the export: a 1-based line number for JSON
// lines, or a 0-based index for a JSON array.
type position struct {
	line  int
	index int
	array bool
}

func (p position) String() string {
	if p.array {
		return "index " + strconv.Itoa(p.index)
	}
	return "line " + strconv.Itoa(p.line)
}

// subscription is one record of the export, with the fields audit needs.
// ID and CompanyID stay raw JSON text, because an export may use strings
// or numbers for them and a number may not fit in a float64.
type subscription struct {
	pos       position
	id        json.RawMessage
	companyID json.RawMessage
	name      string
	url       string
	enabled   bool

	// problemReason and problem are set when the record cannot be
	// validated: a malformed record, a missing url or a duplicated id.
	problemReason string
	problem       string
}

// wireRecord is the subscription detail format of the API. Fields audit
// does not use (events, timestamps, disabled_reason) are skipped by the
// decoder. Every field stays raw so that a wrong type is reported per
// field instead of failing the whole record.
type wireRecord struct {
	ID        json.RawMessage `json:"id"`
	CompanyID json.RawMessage `json:"company_id"`
	Name      json.RawMessage `json:"name"`
	URL       json.RawMessage `json:"url"`
	Enabled   json.RawMessage `json:"enabled"`
}

// recordReader reads subscriptions from an export in order. next returns
// io.EOF after the last one. A record that cannot be decoded comes back
// with its problem set. An error means the input cannot be read any
// further, such as after a read failure.
type recordReader struct {
	next func() (subscription, error)

	// ids holds the ids seen so far, or is nil when duplicate detection
	// is off.
	ids *idSet
}

// newRecordReader detects the format of the export from its first byte
// that is not white space: "[" starts a JSON array, anything else is read
// as JSON lines. A UTF-8 byte order mark is skipped.
func newRecordReader(r io.Reader) (*recordReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}

	first, err := firstNonSpace(br)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}

	rr := &recordReader{ids: newIDSet()}
	if first == '[' {
		rr.next = rr.arrayReader(br)
	} else {
		rr.next = rr.linesReader(br)
	}
	return rr, nil
}

// firstNonSpace returns the first byte of br that is not JSON white space,
// without consuming anything, so that line numbers stay right. It looks
// only as far as the buffer of br reaches and returns 0 when that is all
// white space, which newRecordReader reads as JSON lines.
func firstNonSpace(br *bufio.Reader) (byte, error) {
	b, err := br.Peek(br.Size())
	for _, c := range b {
		if !isSpace(c) {
			return c, nil
		}
	}
	if len(b) == br.Size() {
		return 0, nil
	}
	return 0, err
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r'
}

// linesReader reads one record per line. A blank line is not a record and
// is skipped. A line that is not one JSON object is reported as malformed,
// and reading goes on with the next line.
func (rr *recordReader) linesReader(br *bufio.Reader) func() (subscription, error) {
	lineNumber := 0
	return func() (subscription, error) {
		for {
			line, truncated, err := readLine(br, maxRecordBytes)
			if err != nil {
				return subscription{}, err
			}
			lineNumber++
			pos := position{line: lineNumber}

			if truncated {
				return malformed(pos, fmt.Sprintf("line is longer than %d bytes", maxRecordBytes)), nil
			}
			if len(bytes.TrimLeft(line, " \t\r")) == 0 {
				continue
			}
			return rr.parse(pos, line), nil
		}
	}
}

// arrayReader streams the elements of a JSON array with the token API of
// json.Decoder, so that only one element is in memory at a time. An
// element of the wrong shape is reported and skipped. A syntax error ends
// the input, because the decoder cannot find the next element after it.
func (rr *recordReader) arrayReader(br *bufio.Reader) func() (subscription, error) {
	dec := json.NewDecoder(br)
	index := 0
	started, finished := false, false

	return func() (subscription, error) {
		if finished {
			return subscription{}, io.EOF
		}
		if !started {
			started = true
			if _, err := dec.Token(); err != nil { // the "[" that was peeked
				return subscription{}, err
			}
		}

		pos := position{index: index, array: true}
		if !dec.More() {
			finished = true
			return rr.finishArray(dec, pos)
		}

		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			finished = true
			return fatal(pos, dec.InputOffset(), err), nil
		}
		index++
		return rr.parse(pos, raw), nil
	}
}

// finishArray reads the closing "]" and checks that nothing but white
// space follows it.
func (rr *recordReader) finishArray(dec *json.Decoder, pos position) (subscription, error) {
	if _, err := dec.Token(); err != nil {
		return fatal(pos, dec.InputOffset(), err), nil
	}
	offset := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fatal(pos, offset, errors.New("unexpected data after the closing ]")), nil
	}
	return subscription{}, io.EOF
}

// fatal reports a syntax error that ends an array export.
func fatal(pos position, offset int64, err error) subscription {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		offset = syntax.Offset
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = errors.New("the input ends inside the array")
	}
	return malformed(pos, fmt.Sprintf("invalid JSON near byte %d: %v; the rest of the input was not read", offset, err))
}

func malformed(pos position, problem string) subscription {
	return subscription{pos: pos, enabled: true, problemReason: reasonMalformedRecord, problem: problem}
}

// parse decodes one record and applies the checks that need no
// validation: the record's shape, the type of each field and the
// uniqueness of its id, in that order. Most records take the fast path of
// parseScanned. The rest, and every record with a problem in its shape,
// are decoded again by parseSlow with encoding/json, whose error messages
// audit reports.
func (rr *recordReader) parse(pos position, raw []byte) subscription {
	if sub, ok := rr.parseScanned(pos, raw); ok {
		return sub
	}
	return rr.parseSlow(pos, raw)
}

// parseScanned decodes a record found by scanRecord whose id is a number
// or a plain string, whose name and url are plain strings, null or absent,
// and whose company_id and enabled need no decoding. It reports false for
// any other record, before it changes the id set.
func (rr *recordReader) parseScanned(pos position, raw []byte) (subscription, bool) {
	rec, ok := scanRecord(raw)
	if !ok {
		return subscription{}, false
	}

	sub := subscription{pos: pos, id: rec.id, companyID: rec.companyID, enabled: true}
	switch jsonKind(rec.companyID) {
	case "object", "array":
		return subscription{}, false // printed compacted by parseSlow
	}
	switch {
	case isNull(rec.enabled):
	case string(rec.enabled) == "true":
	case string(rec.enabled) == "false":
		sub.enabled = false
	default:
		return subscription{}, false
	}
	if !isNull(rec.name) {
		name, ok := plainString(rec.name)
		if !ok {
			return subscription{}, false
		}
		sub.name = string(name)
	}
	var url []byte
	if !isNull(rec.url) {
		if url, ok = plainString(rec.url); !ok {
			return subscription{}, false
		}
		sub.url = string(url)
	}

	var idText []byte
	switch jsonKind(rec.id) {
	case "string":
		if idText, ok = plainString(rec.id); !ok {
			return subscription{}, false
		}
	case "number":
		idText = rec.id
	default:
		return subscription{}, false
	}

	if rr.isDuplicate(&sub, rec.id[0] == '"', idText) {
		return sub, true
	}
	if isNull(rec.url) {
		return withProblem(sub, reasonMissingURL, "record has no url"), true
	}
	return sub, true
}

// isDuplicate records the id of sub and reports whether it was seen
// before, in which case it sets the problem of sub. It reports false when
// duplicate detection is off.
func (rr *recordReader) isDuplicate(sub *subscription, isString bool, idText []byte) bool {
	if rr.ids == nil {
		return false
	}
	var first position
	var seen bool
	if isString {
		first, seen = rr.ids.addString(idText, sub.pos)
	} else {
		first, seen = rr.ids.addNumber(idText, sub.pos)
	}
	if seen {
		*sub = withProblem(*sub, reasonDuplicateID, "id "+formatRawID(sub.id)+" was already used at "+first.String())
	}
	return seen
}

// parseSlow decodes a record with encoding/json. It handles every record,
// but at several times the cost of parseScanned.
func (rr *recordReader) parseSlow(pos position, raw []byte) subscription {
	// Only JSON white space may surround a record (RFC 8259, section 2).
	// bytes.TrimSpace would also accept U+00A0 and other Unicode spaces.
	raw = bytes.Trim(raw, " \t\r\n")
	if len(raw) == 0 || raw[0] != '{' {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return malformed(pos, "invalid JSON: "+err.Error())
		}
		return malformed(pos, "record is a JSON "+jsonKind(raw)+", not an object")
	}

	var wire wireRecord
	if err := json.Unmarshal(raw, &wire); err != nil {
		return malformed(pos, "invalid JSON: "+err.Error())
	}
	sub := subscription{pos: pos, id: compact(wire.ID), companyID: compact(wire.CompanyID), enabled: true}

	// Decode every field first, so that a record with a problem is still
	// printed with its name and url.
	nameErr := decodeOptional(wire.Name, &sub.name)
	enabledErr := decodeOptional(wire.Enabled, &sub.enabled)
	urlErr := decodeOptional(wire.URL, &sub.url)

	switch {
	case isNull(wire.ID):
		return withProblem(sub, reasonMalformedRecord, "record has no id")
	case jsonKind(wire.ID) != "string" && jsonKind(wire.ID) != "number":
		return withProblem(sub, reasonMalformedRecord, "id is a JSON "+jsonKind(wire.ID)+"; want a string or a number")
	case nameErr != nil:
		return withProblem(sub, reasonMalformedRecord, "name is a JSON "+jsonKind(wire.Name)+"; want a string")
	case enabledErr != nil:
		return withProblem(sub, reasonMalformedRecord, "enabled is a JSON "+jsonKind(wire.Enabled)+"; want true or false")
	}

	// A string id is compared after decoding, so "\u0041" and "A" are
	// the same id.
	isString := wire.ID[0] == '"'
	idText := []byte(wire.ID)
	if isString {
		var text string
		if err := json.Unmarshal(wire.ID, &text); err == nil {
			idText = []byte(text)
		}
	}
	if rr.isDuplicate(&sub, isString, idText) {
		return sub
	}

	switch {
	case isNull(wire.URL):
		return withProblem(sub, reasonMissingURL, "record has no url")
	case urlErr != nil:
		return withProblem(sub, reasonMissingURL, "url is a JSON "+jsonKind(wire.URL)+"; want a string")
	}
	return sub
}

// decodeOptional decodes raw into v unless the field is absent or null,
// which leaves v unchanged.
func decodeOptional(raw json.RawMessage, v any) error {
	if isNull(raw) {
		return nil
	}
	return json.Unmarshal(raw, v)
}

func withProblem(sub subscription, reason, problem string) subscription {
	sub.problemReason = reason
	sub.problem = problem
	return sub
}

// isNull reports whether a field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// jsonKind names the JSON type of a valid JSON value by its first byte.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// compact returns raw without insignificant white space, so that an id
// that is an object or array still prints on one line. It returns nil for
// an absent field.
func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
