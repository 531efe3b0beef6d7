package webhookurl

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpusAccepted names the seeds of testdata/fuzz/FuzzValidateStatic that
// the zero Config accepts. Every other seed is a hostile form that must be
// rejected. The fuzz targets check their properties only on accepted
// input, so without this list a validator that rejected everything would
// pass them all.
var corpusAccepted = []string{
	"homograph-cyrillic",  // a real IDN, because the host rules do not judge look-alikes
	"host-253",            // the maximum name length, 253 characters (RFC 1035)
	"idn-circled-letters", // maps to hooks.example.com
	"idn-halfwidth-dots",  // U+FF61 maps to a dot
	"idn-punycode",
	"idn-unicode",
	"ipv4-public",
	"ipv4-public-port",
	"ipv6-public",
	"ipv6-public-uncompressed",
	"ipv6-upper",
	"length-2048",  // exactly DefaultMaxLength
	"nat64-public", // 64:ff9b::808:808 embeds the public 8.8.8.8
	"no-path-query",
	"path-then-at", // the @ is in the path, so the host is hooks.example.info
	"percent-path",
	"plain",
	"port-empty",     // an empty port means 443 (RFC 3986 Section 3.2.3)
	"private-suffix", // github.io is a private suffix under an ICANN TLD
	"query-then-at",  // the @ is in the query
	"query-unicode",
	"scheme-https-upper", // schemes and hosts are case-insensitive
	"trailing-dot",
}

// readStringSeed returns the string of a one-argument corpus file in the
// "go test fuzz v1" format.
func readStringSeed(t *testing.T, path string) string {
	t.Helper()

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 2, "corpus file %s", path)
	require.Equal(t, "go test fuzz v1", lines[0], "corpus file %s", path)
	literal, ok := strings.CutPrefix(lines[1], "string(")
	require.True(t, ok, "corpus file %s: %q", path, lines[1])
	raw, err := strconv.Unquote(strings.TrimSuffix(literal, ")"))
	require.NoError(t, err, "corpus file %s: %q", path, lines[1])
	return raw
}

// TestFuzzCorpusVerdicts pins the verdict of every named seed of the static
// corpus, so a hostile form that starts to pass, or a valid one that starts
// to fail, shows up by name.
func TestFuzzCorpusVerdicts(t *testing.T) {
	v, err := New(Config{Resolver: unusedResolver{}})
	require.NoError(t, err)
	paths, err := filepath.Glob("testdata/fuzz/FuzzValidateStatic/*")
	require.NoError(t, err)
	require.NotEmpty(t, paths)

	seen := 0
	for _, path := range paths {
		name := filepath.Base(path)
		raw := readStringSeed(t, path)
		t.Run(name, func(t *testing.T) {
			res, err := v.ValidateStatic(raw)
			if slices.Contains(corpusAccepted, name) {
				seen++
				assert.NoError(t, err, "ValidateStatic(%q)", raw)
				return
			}
			assert.Error(t, err, "ValidateStatic(%q) = %q; want rejected", raw, res.URL)
		})
	}
	assert.Equal(t, len(corpusAccepted), seen, "seeds of corpusAccepted found in the corpus")
}
