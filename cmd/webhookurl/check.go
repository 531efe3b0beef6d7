package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

const checkUsage = `Usage: webhookurl check [flags] [URL...]

Judges each URL and prints one line per URL: "ok", the canonical URL and
the checked addresses, or "reject", the reason code, the URL as written and
the explanation for operators, which names the rejected address and range.

With no URL arguments, check reads one URL per line from standard input.
Exactly one trailing "\n" or "\r\n" is removed from each line and nothing
else: spaces are part of the URL, and a blank line is judged as an empty
URL, which is rejected. A final newline at the end of the input does not
start another URL.

Exit status: 0 when every URL passes, 1 when any is rejected or the run is
interrupted, 2 on a usage error or when there is no URL at all.

Flags:
`

// maxLineBytes bounds the memory one input line may take. A longer line
// is cut to this length and the rest of the line is skipped. The Validator
// the flags build rejects the cut URL as too long, because it allows at
// most 2048 bytes.
const maxLineBytes = 1 << 20

func runCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hooks) int {
	fs := newFlagSet("check", checkUsage, stderr)
	var flags commonFlags
	flags.register(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}

	v, err := flags.validator(h)
	if err != nil {
		fmt.Fprintf(stderr, "webhookurl check: %v\n", err)
		return exitUsage
	}

	next := argumentSource(fs.Args())
	if fs.NArg() == 0 {
		next = lineSource(stdin)
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)

	count, rejected := 0, 0
	for {
		raw, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "webhookurl check: reading standard input: %v\n", err)
			return exitRejected
		}
		count++

		result := validate(ctx, v, raw, flags.static, flags.timeout)
		if ctx.Err() != nil {
			// A verdict reached after the interrupt may be a DNS
			// failure caused by it, so it is not printed.
			out.Flush()
			fmt.Fprintf(stderr, "webhookurl check: interrupted after %d URLs\n", count-1)
			return exitRejected
		}
		if !result.OK {
			rejected++
		}

		if flags.json {
			err = enc.Encode(result)
		} else {
			err = result.writeText(out)
		}
		if err != nil {
			fmt.Fprintf(stderr, "webhookurl check: writing output: %v\n", err)
			return exitRejected
		}
		// Flush per URL so that a slow DNS answer does not hold back
		// the verdicts already known.
		if err := out.Flush(); err != nil {
			fmt.Fprintf(stderr, "webhookurl check: writing output: %v\n", err)
			return exitRejected
		}
	}

	if count == 0 {
		fmt.Fprintln(stderr, "webhookurl check: no URL given as an argument or on standard input")
		return exitUsage
	}
	if rejected > 0 {
		return exitRejected
	}
	return exitOK
}

// argumentSource returns the URLs of args in turn, then io.EOF.
func argumentSource(args []string) func() (string, error) {
	return func() (string, error) {
		if len(args) == 0 {
			return "", io.EOF
		}
		raw := args[0]
		args = args[1:]
		return raw, nil
	}
}

// lineSource returns the lines of r in turn, then io.EOF.
func lineSource(r io.Reader) func() (string, error) {
	br := bufio.NewReader(r)
	return func() (string, error) {
		line, _, err := readLine(br, maxLineBytes)
		if err != nil {
			return "", err
		}
		return string(line), nil
	}
}

// readLine reads one line from br and removes exactly one trailing "\n" or
// "\r\n". A line longer than max bytes is cut to max bytes and the rest is
// skipped; truncated reports that. The last line of the input needs no
// newline, and io.EOF is returned only when no byte is left.
func readLine(br *bufio.Reader, max int) (line []byte, truncated bool, err error) {
	total := 0 // bytes of the line read, newline included
	for {
		chunk, err := br.ReadSlice('\n')
		total += len(chunk)
		// Keep two bytes more than max, for the "\r\n" to trim.
		if room := max + 2 - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}

		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && total == 0 {
			return nil, false, io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		break
	}

	if len(line) == total {
		line = trimNewline(line)
	}
	if len(line) > max {
		return line[:max], true, nil
	}
	return line, false, nil
}

// trimNewline removes one trailing "\n" or "\r\n". A "\r" without "\n" is
// part of the line.
func trimNewline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}
