package main

import (
	"bytes"
	"unicode/utf8"
)

// maxScanDepth is the deepest nesting of arrays and objects that
// scanRecord follows. A deeper record goes to encoding/json, which allows
// 10000 levels.
const maxScanDepth = 64

// scannedRecord holds the raw JSON values of the fields audit reads, each
// nil when the field is absent. The slices point into the scanned line.
type scannedRecord struct {
	id        []byte
	companyID []byte
	name      []byte
	url       []byte
	enabled   []byte
}

// scanRecord is the fast path of record decoding. It checks that raw is
// one valid JSON object and finds the fields audit reads in one pass,
// without allocating. It reports false when the record is invalid or
// when encoding/json might read it differently than a plain byte scan
// does: a key with an escape or a byte outside ASCII, which encoding/json
// may match to a field by Unicode case folding, or nesting deeper than
// maxScanDepth. Such a record must go to the slow path, which produces
// the error messages.
//
// Keys match field names case-insensitively in ASCII, and the last of
// duplicate keys wins, as with encoding/json.
func scanRecord(raw []byte) (scannedRecord, bool) {
	var rec scannedRecord
	s := scanner{data: raw}
	s.skipSpace()
	if !s.consume('{') {
		return rec, false
	}
	s.skipSpace()
	if !s.consume('}') {
		for {
			s.skipSpace()
			key, plain, ok := s.string()
			if !ok || !plain {
				return rec, false
			}
			s.skipSpace()
			if !s.consume(':') {
				return rec, false
			}
			s.skipSpace()
			start := s.i
			if !s.value(1) {
				return rec, false
			}
			rec.set(key, raw[start:s.i])

			s.skipSpace()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return rec, false
		}
	}
	s.skipSpace()
	return rec, s.i == len(raw)
}

func (rec *scannedRecord) set(key, value []byte) {
	switch {
	case asciiEqualFold(key, "id"):
		rec.id = value
	case asciiEqualFold(key, "company_id"):
		rec.companyID = value
	case asciiEqualFold(key, "name"):
		rec.name = value
	case asciiEqualFold(key, "url"):
		rec.url = value
	case asciiEqualFold(key, "enabled"):
		rec.enabled = value
	}
}

// asciiEqualFold reports whether key equals name when ASCII letters are
// compared without case. name must be lower case.
func asciiEqualFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// plainString returns the text of a JSON string value that needs no
// decoding: no escape sequence and valid UTF-8, which encoding/json would
// otherwise replace with U+FFFD. It reports false for anything else.
func plainString(value []byte) ([]byte, bool) {
	if len(value) < 2 || value[0] != '"' {
		return nil, false
	}
	text := value[1 : len(value)-1]
	if bytes.IndexByte(text, '\\') >= 0 || !utf8.Valid(text) {
		return nil, false
	}
	return text, true
}

// scanner walks one JSON text. It accepts exactly the grammar of RFC 8259,
// as encoding/json does, and leaves the decoding of values to its callers.
type scanner struct {
	data []byte
	i    int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.data) && isSpace(s.data[s.i]) {
		s.i++
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// value skips one JSON value of any type.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.data) || depth > maxScanDepth {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '"':
		_, _, ok := s.string()
		return ok
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return false
}

// string skips a JSON string and returns its content between the quotes.
// plain reports whether the content has no escape and only ASCII bytes.
func (s *scanner) string() (content []byte, plain, ok bool) {
	if !s.consume('"') {
		return nil, false, false
	}
	start := s.i
	plain = true
	for s.i < len(s.data) {
		// Skip the common bytes in a tight loop first.
		for s.i < len(s.data) && asciiStringByte[s.data[s.i]] {
			s.i++
		}
		if s.i == len(s.data) {
			break
		}
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			return s.data[start : s.i-1], plain, true
		case c == '\\':
			plain = false
			if !s.escape() {
				return nil, false, false
			}
			continue
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			plain = false
		}
		s.i++
	}
	return nil, false, false
}

// asciiStringByte marks the bytes that stand for themselves in a JSON
// string and keep it plain: printable ASCII other than quote and
// backslash.
var asciiStringByte = func() (table [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		table[c] = c != '"' && c != '\\'
	}
	return table
}()

// escape skips one escape sequence, starting at its backslash.
func (s *scanner) escape() bool {
	s.i++
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i++
		return true
	case 'u':
		if s.i+5 > len(s.data) {
			return false
		}
		for _, c := range s.data[s.i+1 : s.i+5] {
			if !isHexDigit(c) {
				return false
			}
		}
		s.i += 5
		return true
	}
	return false
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func (s *scanner) object(depth int) bool {
	s.i++ // the "{"
	s.skipSpace()
	if s.consume('}') {
		return true
	}
	for {
		s.skipSpace()
		if _, _, ok := s.string(); !ok {
			return false
		}
		s.skipSpace()
		if !s.consume(':') {
			return false
		}
		s.skipSpace()
		if !s.value(depth + 1) {
			return false
		}
		s.skipSpace()
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

func (s *scanner) array(depth int) bool {
	s.i++ // the "["
	s.skipSpace()
	if s.consume(']') {
		return true
	}
	for {
		s.skipSpace()
		if !s.value(depth + 1) {
			return false
		}
		s.skipSpace()
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

func (s *scanner) literal(word string) bool {
	if !bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// number skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.consume('-')
	switch {
	case s.consume('0'):
	case s.i < len(s.data) && '1' <= s.data[s.i] && s.data[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.consume('.') && s.digits() == 0 {
		return false
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
