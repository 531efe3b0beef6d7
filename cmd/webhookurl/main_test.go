package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fintoro/webhookurl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeResolver returns addresses from a map, with an optional delay per host, and
// counts lookups. Hosts absent from the map are not found.
type fakeResolver struct {
	addrs  map[string][]string
	errs   map[string]error
	delays map[string]time.Duration

	mu      sync.Mutex
	lookups int
}

func (f *fakeResolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	f.lookups++
	f.mu.Unlock()

	if d := f.delays[host]; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := f.errs[host]; err != nil {
		return nil, err
	}
	texts, ok := f.addrs[host]
	if !ok {
		return nil, fmt.Errorf("%w: %s", webhookurl.ErrDNSNotFound, host)
	}
	addrs := make([]netip.Addr, 0, len(texts))
	for _, s := range texts {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	return addrs, nil
}

func (f *fakeResolver) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

// runResult is what one run of the command left behind.
type runResult struct {
	code   int
	stdout string
	stderr string
}

func runCommand(t *testing.T, h hooks, stdin string, args ...string) runResult {
	t.Helper()
	return runCommandContext(t, context.Background(), h, strings.NewReader(stdin), args...)
}

func runCommandContext(t *testing.T, ctx context.Context, h hooks, stdin io.Reader, args ...string) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(ctx, args, stdin, &stdout, &stderr, h)
	return runResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no command", nil, exitUsage, "", "Usage:"},
		{"unknown command", []string{"verify"}, exitUsage, "", `unknown command "verify"`},
		{"help", []string{"help"}, exitOK, "webhookurl audit", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCommand(t, hooks{}, "", tt.args...)
			assert.Equal(t, tt.wantCode, got.code)
			assert.Contains(t, got.stdout, tt.wantOut)
			assert.Contains(t, got.stderr, tt.wantErr)
		})
	}
}

func TestParseNameservers(t *testing.T) {
	tests := []struct {
		value   string
		want    []string
		wantErr string
	}{
		{"127.0.0.1:5353", []string{"127.0.0.1:5353"}, ""},
		{"127.0.0.1", []string{"127.0.0.1"}, ""},
		{"127.0.0.1:53,[::1]:5353", []string{"127.0.0.1:53", "[::1]:5353"}, ""},
		{"localhost:53", nil, `"localhost:53"`},
		{"127.0.0.1:0", nil, `"127.0.0.1:0"`},
		{"127.0.0.1:99999", nil, `"127.0.0.1:99999"`},
		{"127.0.0.1:53,", nil, `""`},
		{",127.0.0.1:53", nil, `""`},
		{"::1:53", nil, ""}, // parses as the IPv6 address ::1:53, not as ::1 with port 53
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := parseNameservers(tt.value)
			if tt.wantErr == "" && tt.want == nil {
				require.NoError(t, err)
				return
			}
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
