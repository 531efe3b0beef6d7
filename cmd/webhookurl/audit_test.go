package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fintoro/webhookurl/webhookurltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditLine is one -json line of audit: a record or the summary.
type auditLine struct {
	recordResult
	Summary *summary `json:"summary"`
}

// runAuditJSON runs audit with -json and splits its output into the
// records and the summary, which must be the last line.
func runAuditJSON(t *testing.T, h hooks, stdin string, args ...string) (runResult, []recordResult, summary) {
	t.Helper()
	got := runCommand(t, h, stdin, append([]string{"audit", "-json"}, args...)...)
	lines := decodeLines[auditLine](t, got.stdout)
	require.NotEmpty(t, lines, "stderr: %s", got.stderr)

	last := lines[len(lines)-1]
	require.NotNil(t, last.Summary, "last line is not the summary")
	var records []recordResult
	for _, line := range lines[:len(lines)-1] {
		require.Nil(t, line.Summary, "summary before the last line")
		records = append(records, line.recordResult)
	}
	return got, records, *last.Summary
}

// outcome is the part of a result the tables compare.
type outcome struct {
	pos     string
	verdict string
	reason  string
}

func outcomes(records []recordResult) []outcome {
	var out []outcome
	for _, r := range records {
		pos := "line " + strconv.Itoa(derefOr(r.Line))
		if r.Index != nil {
			pos = "index " + strconv.Itoa(*r.Index)
		}
		out = append(out, outcome{pos, r.Verdict, r.Reason})
	}
	return out
}

func TestAuditTestdata(t *testing.T) {
	tests := []struct {
		file         string
		want         []outcome
		wantDisabled int
	}{
		{
			file: "testdata/export.jsonl",
			want: []outcome{
				{"line 1", "ok", ""},
				{"line 2", "reject", "private_address"},
				{"line 3", "reject", "scheme_not_https"},
				{"line 4", "ok", ""},
				{"line 5", "invalid", "malformed_record"},
				{"line 6", "invalid", "missing_url"},
				{"line 7", "invalid", "missing_url"},
				{"line 9", "invalid", "duplicate_id"},
				{"line 10", "reject", "private_address"},
				{"line 11", "invalid", "malformed_record"},
				{"line 12", "invalid", "malformed_record"},
				{"line 13", "ok", ""},
				{"line 14", "invalid", "malformed_record"},
			},
			wantDisabled: 1,
		},
		{
			file: "testdata/export.json",
			want: []outcome{
				{"index 0", "ok", ""},
				{"index 1", "reject", "private_address"},
				{"index 2", "ok", ""},
				{"index 3", "invalid", "missing_url"},
				{"index 4", "invalid", "malformed_record"},
				{"index 5", "ok", ""},
				{"index 6", "invalid", "duplicate_id"},
				{"index 7", "reject", "private_address"},
			},
			wantDisabled: 1,
		},
		{
			file: "testdata/export-truncated.json",
			want: []outcome{
				{"index 0", "ok", ""},
				{"index 1", "invalid", "malformed_record"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			got, records, sum := runAuditJSON(t, hooks{}, "", "-static", tt.file)
			assert.Equal(t, exitRejected, got.code)
			assert.Equal(t, tt.want, outcomes(records))
			assert.Equal(t, len(tt.want), sum.Records)
			assert.Equal(t, tt.wantDisabled, sum.Disabled)
			assert.Empty(t, got.stderr)
		})
	}
}

func TestAuditRecordFields(t *testing.T) {
	_, records, _ := runAuditJSON(t, hooks{}, "", "-static", "testdata/export.jsonl")
	require.Len(t, records, 13)

	byLine := map[int]recordResult{}
	for _, r := range records {
		byLine[derefOr(r.Line)] = r
	}

	first := byLine[1]
	assert.JSONEq(t, `101`, string(first.ID))
	assert.JSONEq(t, `7`, string(first.CompanyID))
	assert.Equal(t, "Orders", first.Name)
	assert.True(t, first.OK)
	assert.Equal(t, "https://hooks.example.com/orders", first.Canonical)

	stringID := byLine[2]
	assert.Equal(t, `"sub_102"`, string(stringID.ID))
	assert.Equal(t, []string{"169.254.169.254"}, stringID.Addresses)
	assert.Contains(t, stringID.Detail, "169.254.0.0/16")

	duplicate := byLine[9]
	assert.Equal(t, "https://hooks.example.com/orders2", duplicate.URL)
	assert.Contains(t, duplicate.Message, "already used at line 1")

	disabled := byLine[10]
	assert.True(t, disabled.Disabled)
	assert.Equal(t, "reject", disabled.Verdict)

	malformed := byLine[5]
	assert.Equal(t, "null", string(mustMarshal(t, malformed.ID)))
	assert.Contains(t, malformed.Message, "invalid JSON")

	truncated := runCommand(t, hooks{}, "", "audit", "-static", "-json", "testdata/export-truncated.json")
	assert.Contains(t, truncated.stdout, "the rest of the input was not read")
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestAuditInputs(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		wantCode int
		want     []outcome
	}{
		{"empty", "", exitOK, nil},
		{"empty array", " [ ] \n", exitOK, nil},
		{"blank lines only", "\n\n  \n", exitOK, nil},
		{"byte order mark", "\xef\xbb\xbf" + `{"id": 1, "url": "https://hooks.example.com/"}`, exitOK, []outcome{{"line 1", "ok", ""}}},
		{"crlf lines", "{\"id\": 1, \"url\": \"https://hooks.example.com/\"}\r\n{\"id\": 2, \"url\": \"https://hooks.example.com/\"}\r\n", exitOK,
			[]outcome{{"line 1", "ok", ""}, {"line 2", "ok", ""}}},
		{"missing enabled", `{"id": 1, "url": "https://hooks.example.com/"}`, exitOK, []outcome{{"line 1", "ok", ""}}},
		{"null url", `{"id": 1, "url": null}`, exitRejected, []outcome{{"line 1", "invalid", "missing_url"}}},
		{"no id", `{"url": "https://hooks.example.com/"}`, exitRejected, []outcome{{"line 1", "invalid", "malformed_record"}}},
		{"bool id", `{"id": true, "url": "https://hooks.example.com/"}`, exitRejected, []outcome{{"line 1", "invalid", "malformed_record"}}},
		{"number name", `{"id": 1, "name": 5, "url": "https://hooks.example.com/"}`, exitRejected, []outcome{{"line 1", "invalid", "malformed_record"}}},
		{"two objects on a line", `{"id": 1, "url": "https://hooks.example.com/"} {"id": 2}`, exitRejected, []outcome{{"line 1", "invalid", "malformed_record"}}},
		{"string and number ids differ", `[{"id": 1, "url": "https://hooks.example.com/"}, {"id": "1", "url": "https://hooks.example.com/"}]`, exitOK,
			[]outcome{{"index 0", "ok", ""}, {"index 1", "ok", ""}}},
		{"escaped string id", `[{"id": "A", "url": "https://hooks.example.com/"}, {"id": "\u0041", "url": "https://hooks.example.com/"}]`, exitRejected,
			[]outcome{{"index 0", "ok", ""}, {"index 1", "invalid", "duplicate_id"}}},
		{"array cut short", `[{"id": 1, "url": "https://hooks.example.com/"},`, exitRejected,
			[]outcome{{"index 0", "ok", ""}, {"index 1", "invalid", "malformed_record"}}},
		{"data after array", `[{"id": 1, "url": "https://hooks.example.com/"}] {}`, exitRejected,
			[]outcome{{"index 0", "ok", ""}, {"index 1", "invalid", "malformed_record"}}},
		{"missing comma", `[{"id": 1, "url": "https://hooks.example.com/"} {"id": 2, "url": "https://hooks.example.com/"}]`, exitRejected,
			[]outcome{{"index 0", "ok", ""}, {"index 1", "invalid", "malformed_record"}}},
		{"long line skipped", `{"id": 0, "name": "` + strings.Repeat("x", maxRecordBytes) + `"}` + "\n" + `{"id": 1, "url": "https://hooks.example.com/"}`, exitRejected,
			[]outcome{{"line 1", "invalid", "malformed_record"}, {"line 2", "ok", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, records, sum := runAuditJSON(t, hooks{}, tt.stdin, "-static")
			assert.Equal(t, tt.wantCode, got.code)
			assert.Equal(t, tt.want, outcomes(records))
			assert.Equal(t, len(tt.want), sum.Records)
		})
	}
}

func TestAuditFlags(t *testing.T) {
	t.Run("only rejected", func(t *testing.T) {
		_, records, sum := runAuditJSON(t, hooks{}, "", "-static", "-only-rejected", "testdata/export.json")
		for _, r := range records {
			assert.NotEqual(t, verdictOK, r.Verdict, "record at index %d", derefOr(r.Index))
		}
		assert.Len(t, records, 5)
		assert.Equal(t, 8, sum.Records)
		assert.Equal(t, 3, sum.OK)
	})

	t.Run("static skips resolver", func(t *testing.T) {
		resolver := &fakeResolver{}
		runAuditJSON(t, hooks{resolver: resolver}, "", "-static", "testdata/export.jsonl")
		assert.Zero(t, resolver.count())
	})

	t.Run("stdin dash", func(t *testing.T) {
		_, records, _ := runAuditJSON(t, hooks{}, `{"id": 1, "url": "https://hooks.example.com/"}`, "-static", "-")
		assert.Len(t, records, 1)
	})

	t.Run("text output", func(t *testing.T) {
		got := runCommand(t, hooks{}, "", "audit", "-static", "testdata/export.jsonl")
		assert.Equal(t, exitRejected, got.code)
		assert.Contains(t, got.stdout, `ok      line 1  id=101 company=7 name="Orders"  https://hooks.example.com/orders  (not resolved)`+"\n")
		assert.Contains(t, got.stdout, `reject  line 10  id=109 company=10 name="Loopback" disabled  private_address  "https://[::1]:8443/"`)
		assert.Contains(t, got.stdout, `invalid line 9  id=101 company=7 name="Orders again"  duplicate_id  "https://hooks.example.com/orders2"  id 101 was already used at line 1`)
		assert.Contains(t, got.stdout, "summary: 13 records, 3 ok, 3 rejected, 7 invalid, 1 disabled\n  malformed_record           4\n")
	})

	t.Run("timeout", func(t *testing.T) {
		resolver := &fakeResolver{
			addrs:  map[string][]string{"slow.example.com": {"93.184.215.14"}},
			delays: map[string]time.Duration{"slow.example.com": time.Minute},
		}
		_, records, _ := runAuditJSON(t, hooks{resolver: resolver}, `{"id": 1, "url": "https://slow.example.com/"}`, "-timeout", "20ms")
		require.Len(t, records, 1)
		assert.Equal(t, "dns_failure", records[0].Reason)
	})
}

func TestAuditUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown flag", []string{"-verbose"}, "flag provided but not defined: -verbose"},
		{"zero parallel", []string{"-parallel", "0"}, "invalid -parallel 0"},
		{"huge parallel", []string{"-parallel", "5000"}, "invalid -parallel 5000"},
		{"bad dns", []string{"-dns", "dns.example.com"}, `invalid -dns nameserver "dns.example.com"`},
		{"negative timeout", []string{"-timeout", "-1s"}, "invalid -timeout -1s"},
		{"two files", []string{"a.json", "b.json"}, "want at most one FILE, got 2 arguments"},
		{"missing file", []string{filepath.Join("testdata", "absent.json")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCommand(t, hooks{}, "", append([]string{"audit", "-static"}, tt.args...)...)
			assert.Equal(t, exitUsage, got.code)
			assert.Contains(t, got.stderr, tt.wantErr)
			assert.Empty(t, got.stdout)
		})
	}
}

// TestAuditParallelOrder gives later records shorter lookups than earlier
// ones, so that workers finish out of order, and checks that the output
// still follows the input.
func TestAuditParallelOrder(t *testing.T) {
	const n = 200
	resolver := &fakeResolver{addrs: map[string][]string{}, delays: map[string]time.Duration{}}
	var input strings.Builder
	for i := range n {
		host := fmt.Sprintf("h%d.example.com", i)
		resolver.addrs[host] = []string{"93.184.215.14"}
		if i%7 == 0 {
			resolver.addrs[host] = []string{"10.0.0.7"}
		}
		resolver.delays[host] = time.Duration((i*37)%11) * time.Millisecond
		fmt.Fprintf(&input, `{"id": %d, "url": "https://%s/"}`+"\n", i, host)
	}

	for run := range 3 {
		t.Run(strconv.Itoa(run), func(t *testing.T) {
			got, records, sum := runAuditJSON(t, hooks{resolver: resolver}, input.String(), "-parallel", "8")
			assert.Equal(t, exitRejected, got.code)
			require.Len(t, records, n)
			for i, r := range records {
				assert.Equal(t, strconv.Itoa(i), string(r.ID))
			}
			assert.Equal(t, (n+6)/7, sum.Rejected)
		})
	}
}

func TestAuditDNSServer(t *testing.T) {
	server := webhookurltest.Start(t, webhookurltest.Zone{
		"hooks.example.com":    {webhookurltest.A("93.184.215.14"), webhookurltest.AAAA("2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
		"intranet.example.com": {webhookurltest.CNAME("db.corp.example.com")},
		"db.corp.example.com":  {webhookurltest.A("10.20.30.40")},
	})
	got, records, sum := runAuditJSON(t, hooks{}, "", "-dns", server.Addr(), "-parallel", "4", "testdata/export.json")
	assert.Equal(t, exitRejected, got.code)
	require.Len(t, records, 8)

	assert.Equal(t, []string{"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}, records[0].Addresses)
	assert.Equal(t, "private_address", records[2].Reason)
	assert.Equal(t, []string{"10.20.30.40"}, records[2].Addresses)
	assert.Contains(t, records[2].Detail, "10.0.0.0/8")
	assert.True(t, records[5].OK)
	assert.Equal(t, 3, sum.Rejected)
	assert.Positive(t, server.Total())
}

func TestCheckDNSServer(t *testing.T) {
	server := webhookurltest.Start(t, webhookurltest.Zone{
		"hooks.example.com": {webhookurltest.A("93.184.215.14")},
	})
	got := runCommand(t, hooks{}, "", "check", "-dns", server.Addr(), "https://hooks.example.com/", "https://gone.example.com/")
	assert.Equal(t, exitRejected, got.code)
	assert.Contains(t, got.stdout, "ok      https://hooks.example.com/  [93.184.215.14]\n")
	assert.Contains(t, got.stdout, `reject  dns_not_found  "https://gone.example.com/"`)
}

func TestAuditProgress(t *testing.T) {
	input := `{"id": 1, "url": "https://hooks.example.com/"}` + "\n" + `{"id": 2, "url": "http://hooks.example.com/"}` + "\n"
	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"terminal", true, "audit: 2 records done, 1 rejected"},
		{"not terminal", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hooks{
				isTerminal:       func(io.Writer) bool { return tt.terminal },
				progressInterval: time.Millisecond,
			}
			got := runCommand(t, h, input, "audit", "-static")
			assert.Equal(t, exitRejected, got.code)
			if tt.want == "" {
				assert.Empty(t, got.stderr)
				return
			}
			assert.Contains(t, got.stderr, tt.want)
			assert.True(t, strings.HasSuffix(got.stderr, "\n"), "progress does not end its line")
		})
	}
}

func TestAuditProgressShare(t *testing.T) {
	h := hooks{isTerminal: func(io.Writer) bool { return true }, progressInterval: time.Millisecond}
	got := runCommand(t, h, "", "audit", "-static", "testdata/export.json")
	assert.Contains(t, got.stderr, "100% of input read")
}

func TestIsCharDevice(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isCharDevice(f))
	assert.False(t, isCharDevice(&bytes.Buffer{}))
}

func TestAuditInterrupted(t *testing.T) {
	resolver := &fakeResolver{
		addrs:  map[string][]string{"slow.example.com": {"93.184.215.14"}},
		delays: map[string]time.Duration{"slow.example.com": time.Minute},
	}
	input := strings.Repeat(`{"id": 1, "url": "https://slow.example.com/"}`+"\n", 1) +
		strings.Repeat(`{"id": 2, "url": "https://slow.example.com/"}`+"\n", 1)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)

	got := runCommandContext(t, ctx, hooks{resolver: resolver}, strings.NewReader(input), "audit", "-json")
	assert.Equal(t, exitRejected, got.code)
	assert.Contains(t, got.stderr, "interrupted after 0 records")
	assert.Contains(t, got.stdout, `"interrupted":true`)
}

// generateExport writes n JSON-lines records in the API's format, one in
// ten of them rejected.
func generateExport(w io.Writer, n int) error {
	for i := range n {
		url := fmt.Sprintf("https://hooks%d.example.com/webhooks/%d", i%1000, i)
		if i%10 == 0 {
			url = fmt.Sprintf("https://10.0.%d.%d/", (i/256)%256, i%256)
		}
		_, err := fmt.Fprintf(w, `{"id": %d, "company_id": %d, "name": "Subscription %d", "url": %q, "enabled": true, "events": ["order.created"], "last_success_at": "2026-11-30T10:00:00Z", "last_failure_at": null, "disabled_at": null, "disabled_reason": null, "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}`+"\n", i, i/50, i, url)
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkAudit runs a static audit of a generated 100,000-record export
// and reports records per second and allocations per record. The output
// goes to io.Discard, so that the growth of an output buffer is not
// counted as audit's.
func BenchmarkAudit(b *testing.B) {
	const n = 100_000
	var export bytes.Buffer
	require.NoError(b, generateExport(&export, n))

	for _, bench := range []struct {
		name string
		args []string
	}{
		{"duplicate-check", nil},
		{"no-duplicate-check", []string{"-no-duplicate-check"}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			args := append([]string{"audit", "-static", "-json", "-parallel", "8"}, bench.args...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				var stderr bytes.Buffer
				code := runWith(context.Background(), args, bytes.NewReader(export.Bytes()), io.Discard, &stderr, hooks{})
				if code != exitRejected {
					b.Fatalf("audit returned %d; want %d: %s", code, exitRejected, stderr.String())
				}
			}
			runtime.ReadMemStats(&after)
			records := float64(n * b.N)
			b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/records, "allocs/record")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/records, "B/record")
		})
	}
}

// TestGenerateExport writes the export used for memory measurements when
// WEBHOOKURL_EXPORT names a file and WEBHOOKURL_RECORDS a count.
func TestGenerateExport(t *testing.T) {
	path := os.Getenv("WEBHOOKURL_EXPORT")
	if path == "" {
		t.Skip("set WEBHOOKURL_EXPORT and WEBHOOKURL_RECORDS to write an export")
	}
	n, err := strconv.Atoi(os.Getenv("WEBHOOKURL_RECORDS"))
	require.NoError(t, err)
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, generateExport(f, n))
}

func TestAuditWarnsOnEmptyExport(t *testing.T) {
	for _, stdin := range []string{"", "[]", "\n\n"} {
		got := runCommand(t, hooks{}, stdin, "audit", "-static")
		assert.Equal(t, exitOK, got.code, "an empty export rejects nothing")
		assert.Contains(t, got.stderr, "has no records", "audit of %q warns", stdin)
	}
	got := runCommand(t, hooks{}, `{"id": 1, "url": "https://hooks.example.com/"}`, "audit", "-static")
	assert.NotContains(t, got.stderr, "has no records")
}
