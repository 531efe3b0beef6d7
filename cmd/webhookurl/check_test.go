package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fintoro/webhookurl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckStatic(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{
			name:     "public literal",
			args:     []string{"https://93.184.215.14/hook"},
			wantCode: exitOK,
			wantOut:  "ok      https://93.184.215.14/hook  [93.184.215.14]\n",
		},
		{
			name:     "dns name not resolved",
			args:     []string{"https://Hooks.Example.com"},
			wantCode: exitOK,
			wantOut:  "ok      https://hooks.example.com/  (not resolved)\n",
		},
		{
			name:     "private literal",
			args:     []string{"https://10.1.2.3/"},
			wantCode: exitRejected,
			wantOut:  `reject  private_address  "https://10.1.2.3/"  IP address "10.1.2.3" is not publicly reachable [10.1.2.3 is in 10.0.0.0/8 Private-Use (RFC 1918)]` + "\n",
		},
		{
			name:     "one of two rejected",
			args:     []string{"https://hooks.example.com/", "http://hooks.example.com/"},
			wantCode: exitRejected,
			wantOut: "ok      https://hooks.example.com/  (not resolved)\n" +
				`reject  scheme_not_https  "http://hooks.example.com/"  URL scheme "http" is not allowed; use https` + "\n",
		},
		{
			name:     "localhost",
			args:     []string{"https://localhost/"},
			wantCode: exitRejected,
			wantOut:  `reject  localhost  "https://localhost/"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"check", "-static"}, tt.args...)
			got := runCommand(t, hooks{}, "", args...)
			assert.Equal(t, tt.wantCode, got.code)
			assert.Contains(t, got.stdout, tt.wantOut)
			assert.Empty(t, got.stderr)
		})
	}
}

func TestCheckStdinLines(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		want  []string // the URLs judged, as written
	}{
		{"trailing newline", "https://a.example.com/\n", []string{"https://a.example.com/"}},
		{"no trailing newline", "https://a.example.com/", []string{"https://a.example.com/"}},
		{"crlf", "https://a.example.com/\r\nhttps://b.example.com/\r\n", []string{"https://a.example.com/", "https://b.example.com/"}},
		{"blank line is a URL", "https://a.example.com/\n\nhttps://b.example.com/\n", []string{"https://a.example.com/", "", "https://b.example.com/"}},
		{"spaces kept", " https://a.example.com/ \n", []string{" https://a.example.com/ "}},
		{"lone cr kept", "https://a.example.com/\r", []string{"https://a.example.com/\r"}},
		{"one crlf removed", "https://a.example.com/\r\r\n", []string{"https://a.example.com/\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCommand(t, hooks{}, tt.stdin, "check", "-static", "-json")
			var urls []string
			for _, v := range decodeLines[verdict](t, got.stdout) {
				urls = append(urls, v.URL)
			}
			assert.Equal(t, tt.want, urls)
		})
	}
}

func TestCheckJSON(t *testing.T) {
	resolver := &fakeResolver{addrs: map[string][]string{
		"hooks.example.com":    {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"intranet.example.com": {"93.184.215.14", "10.0.0.5"},
	}}
	got := runCommand(t, hooks{resolver: resolver}, "",
		"check", "-json", "https://hooks.example.com/a", "https://intranet.example.com/")
	require.Equal(t, exitRejected, got.code)

	lines := decodeLines[verdict](t, got.stdout)
	require.Len(t, lines, 2)

	ok := lines[0]
	assert.Equal(t, "https://hooks.example.com/a", ok.URL)
	assert.True(t, ok.OK)
	assert.Empty(t, ok.Reason)
	assert.Equal(t, "https://hooks.example.com/a", ok.Canonical)
	assert.Equal(t, []string{"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}, ok.Addresses)
	assert.Empty(t, ok.Message)

	rejected := lines[1]
	assert.False(t, rejected.OK)
	assert.Equal(t, "private_address", rejected.Reason)
	assert.Empty(t, rejected.Canonical)
	assert.Equal(t, []string{"10.0.0.5"}, rejected.Addresses)
	assert.NotContains(t, rejected.Message, "10.0.0.5")
	assert.Contains(t, rejected.Detail, "10.0.0.5")
	assert.Contains(t, rejected.Detail, "Private-Use")
}

func TestCheckJSONKeys(t *testing.T) {
	got := runCommand(t, hooks{}, "", "check", "-static", "-json", "https://hooks.example.com/")
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(got.stdout), &fields))
	for _, key := range []string{"url", "ok", "reason", "canonical", "addresses"} {
		assert.Contains(t, fields, key)
	}
	assert.Equal(t, []any{}, fields["addresses"])
}

func TestCheckResolver(t *testing.T) {
	resolver := &fakeResolver{
		addrs: map[string][]string{
			"hooks.example.com":  {"93.184.215.14"},
			"rebind.example.com": {"169.254.169.254"},
			"mapped.example.com": {"::ffff:127.0.0.1"},
			"empty.example.com":  {},
		},
		errs: map[string]error{
			"broken.example.com": errors.New("SERVFAIL from 127.0.0.1:53"),
		},
	}
	tests := []struct {
		url        string
		wantCode   int
		wantReason string
	}{
		{"https://hooks.example.com/", exitOK, ""},
		{"https://rebind.example.com/", exitRejected, "private_address"},
		{"https://mapped.example.com/", exitRejected, "private_address"},
		{"https://empty.example.com/", exitRejected, "no_addresses"},
		{"https://missing.example.com/", exitRejected, "dns_not_found"},
		{"https://broken.example.com/", exitRejected, "dns_failure"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got := runCommand(t, hooks{resolver: resolver}, "", "check", "-json", tt.url)
			assert.Equal(t, tt.wantCode, got.code)
			lines := decodeLines[verdict](t, got.stdout)
			require.Len(t, lines, 1)
			assert.Equal(t, tt.wantReason, lines[0].Reason)
		})
	}
}

func TestCheckStaticSkipsResolver(t *testing.T) {
	resolver := &fakeResolver{}
	got := runCommand(t, hooks{resolver: resolver}, "", "check", "-static", "https://hooks.example.com/")
	assert.Equal(t, exitOK, got.code)
	assert.Zero(t, resolver.count())
}

func TestCheckUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
	}{
		{"unknown flag", []string{"-strict", "https://a.example.com/"}, "", "flag provided but not defined: -strict"},
		{"bad dns", []string{"-dns", "resolver.example.com:53", "https://a.example.com/"}, "", `invalid -dns nameserver "resolver.example.com:53"`},
		{"empty dns element", []string{"-dns", "127.0.0.1:53,", "https://a.example.com/"}, "", `invalid -dns nameserver ""`},
		{"empty dns", []string{"-dns", "", "https://a.example.com/"}, "", `invalid -dns ""`},
		{"blank dns", []string{"-dns", " ", "https://a.example.com/"}, "", `invalid -dns ""`},
		{"dns with static", []string{"-static", "-dns", "127.0.0.1:53", "https://a.example.com/"}, "", "-dns and -static cannot be used together"},
		{"bad timeout", []string{"-timeout", "0s", "https://a.example.com/"}, "", "invalid -timeout 0s"},
		{"no urls", []string{"-static"}, "", "no URL given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCommand(t, hooks{}, tt.stdin, append([]string{"check"}, tt.args...)...)
			assert.Equal(t, exitUsage, got.code)
			assert.Contains(t, got.stderr, tt.wantErr)
			assert.Empty(t, got.stdout)
		})
	}
}

func TestCheckHelp(t *testing.T) {
	got := runCommand(t, hooks{}, "", "check", "-h")
	assert.Equal(t, exitOK, got.code)
	assert.Contains(t, got.stderr, "-timeout duration")
}

func TestCheckTimeout(t *testing.T) {
	resolver := &fakeResolver{
		addrs:  map[string][]string{"slow.example.com": {"93.184.215.14"}},
		delays: map[string]time.Duration{"slow.example.com": time.Minute},
	}
	got := runCommand(t, hooks{resolver: resolver}, "", "check", "-json", "-timeout", "20ms", "https://slow.example.com/")
	assert.Equal(t, exitRejected, got.code)
	lines := decodeLines[verdict](t, got.stdout)
	require.Len(t, lines, 1)
	assert.Equal(t, "dns_failure", lines[0].Reason)
	assert.Contains(t, lines[0].Detail, "deadline exceeded")
}

func TestCheckInterrupted(t *testing.T) {
	resolver := &fakeResolver{
		addrs:  map[string][]string{"slow.example.com": {"93.184.215.14"}},
		delays: map[string]time.Duration{"slow.example.com": time.Minute},
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)

	got := runCommandContext(t, ctx, hooks{resolver: resolver}, strings.NewReader(""),
		"check", "https://slow.example.com/", "https://slow.example.com/")
	assert.Equal(t, exitRejected, got.code)
	assert.Empty(t, got.stdout)
	assert.Contains(t, got.stderr, "interrupted after 0 URLs")
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		name          string
		input         string
		max           int
		wantLines     []string
		wantTruncated []bool
	}{
		{"short", "ab\ncd", 4, []string{"ab", "cd"}, []bool{false, false}},
		{"exactly max", "abcd\r\n", 4, []string{"abcd"}, []bool{false}},
		{"one over max", "abcde\n", 4, []string{"abcd"}, []bool{true}},
		{"over max at eof", "abcdef", 4, []string{"abcd"}, []bool{true}},
		{"rest skipped", strings.Repeat("x", 100) + "\nnext\n", 4, []string{"xxxx", "next"}, []bool{true, false}},
		{"empty lines", "\n\n", 4, []string{"", ""}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The smallest buffer bufio allows, so that long lines
			// arrive in several chunks.
			br := bufio.NewReaderSize(strings.NewReader(tt.input), 16)
			var lines []string
			var truncated []bool
			for {
				line, cut, err := readLine(br, tt.max)
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				lines = append(lines, string(line))
				truncated = append(truncated, cut)
			}
			assert.Equal(t, tt.wantLines, lines)
			assert.Equal(t, tt.wantTruncated, truncated)
		})
	}
}

func TestCheckLongLine(t *testing.T) {
	long := "https://hooks.example.com/" + strings.Repeat("a", 2*maxLineBytes)
	got := runCommand(t, hooks{}, long+"\nhttps://hooks.example.com/\n", "check", "-static", "-json")
	lines := decodeLines[verdict](t, got.stdout)
	require.Len(t, lines, 2)
	assert.Equal(t, string(webhookurl.ReasonTooLong), lines[0].Reason)
	assert.True(t, lines[1].OK)
}

// decodeLines decodes every line of out as a T.
func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var values []T
	for line := range strings.Lines(out) {
		var v T
		require.NoError(t, json.Unmarshal([]byte(line), &v), "line %q", line)
		values = append(values, v)
	}
	return values
}
