package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/fintoro/webhookurl"
)

const auditUsage = `Usage: webhookurl audit [flags] [FILE|-]

Re-checks every subscription of an export, so that an operator can see
which stored webhooks the current rules and DNS records would reject. FILE
is a JSON array of subscription objects or one object per line (JSON
lines); the format is detected from the first character. Without FILE, or
with "-", the export is read from standard input. The input is streamed,
so its size is not limited by memory, except for duplicate detection, which
keeps about 20 to 40 bytes per id.

Each record needs "id" (a string or a number) and "url" (a string).
"company_id" and "name" are printed as given, "enabled": false marks the
record as disabled, and every other field is ignored. Each record gets one
verdict:

  ok        the URL passes
  reject    the URL is rejected; the reason is a webhookurl reason code
  invalid   the record cannot be checked: malformed_record (not a JSON
            object, no id, or a field of the wrong type), missing_url, or
            duplicate_id (an id seen before; its URL is not checked)

Disabled subscriptions are checked like the others and marked "disabled".
A malformed line of JSON lines is reported and skipped. A syntax error
inside a JSON array is reported with the array index and byte offset, and
nothing after it is read. Records are printed in input order, even with
-parallel, and a summary by reason follows them. With -json, every record
is one JSON object per line and the summary is a last line of the form
{"summary": {...}}.

When standard error is a terminal, progress is shown there: records done,
rejected so far, records per second, and the share of the input read when
it is a regular file.

Exit status: 0 when every record passes, 1 when any is rejected or invalid,
the input cannot be read to its end, or the run is interrupted, 2 on a
usage error or when FILE cannot be opened.

Flags:
`

// maxParallel bounds -parallel. Each worker holds at most one lookup in
// flight, so this also bounds the DNS queries in flight.
const maxParallel = 1024

type auditFlags struct {
	commonFlags
	onlyRejected bool
	parallel     int
}

func runAudit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hooks) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage)
		fs.PrintDefaults()
	}
	var flags auditFlags
	flags.register(fs)
	fs.BoolVar(&flags.onlyRejected, "only-rejected", false, "print only rejected and invalid records; the summary still counts all")
	fs.IntVar(&flags.parallel, "parallel", 8, "`number` of records validated at the same time")
	if code, done := parseFlags(fs, args); done {
		return code
	}

	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "webhookurl audit: want at most one FILE, got %d arguments\n", fs.NArg())
		return exitUsage
	}
	if flags.parallel < 1 || flags.parallel > maxParallel {
		fmt.Fprintf(stderr, "webhookurl audit: invalid -parallel %d: it must be from 1 to %d\n", flags.parallel, maxParallel)
		return exitUsage
	}
	v, err := flags.validator(h)
	if err != nil {
		fmt.Fprintf(stderr, "webhookurl audit: %v\n", err)
		return exitUsage
	}

	name := fs.Arg(0)
	input := stdin
	if name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "webhookurl audit: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		input = f
	} else {
		name = "standard input"
	}

	a := &auditor{flags: flags, validator: v, stdout: stdout, stderr: stderr, hooks: h}
	return a.run(ctx, name, input)
}

// auditor runs one audit: a reader goroutine that decodes records in order,
// a pool of workers that validate them, and the calling goroutine, which
// prints results in input order and counts them.
type auditor struct {
	flags     auditFlags
	validator *webhookurl.Validator
	stdout    io.Writer
	stderr    io.Writer
	hooks     hooks
}

// job is one record on its way through the pipeline. done receives its
// result exactly once and has room for it, so a worker never waits for
// the printer.
type job struct {
	sub  subscription
	done chan recordResult
}

func (a *auditor) run(ctx context.Context, name string, input io.Reader) int {
	counted := &countingReader{r: input}
	records, err := newRecordReader(counted)
	if err != nil {
		fmt.Fprintf(a.stderr, "webhookurl audit: reading %s: %v\n", name, err)
		return exitRejected
	}

	// order carries every job in input order to the printer; its capacity
	// is the reorder window. With the jobs held by workers, it bounds the
	// records in memory, whatever the size of the export.
	order := make(chan *job, 4*a.flags.parallel)
	work := make(chan *job)
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		readErr = a.read(ctx, records, order, work)
	}()

	var workers sync.WaitGroup
	for range a.flags.parallel {
		workers.Go(func() {
			for j := range work {
				j.done <- a.check(ctx, j.sub)
			}
		})
	}

	progress := newProgress(a.stderr, a.hooks, counted, sizeOf(input))
	sum, writeErr := a.print(ctx, order, progress)
	workers.Wait()
	progress.stop()

	// readErr is safe to read: the reader goroutine wrote it before
	// closing order, and print returned only after order was closed.
	failed := false
	if readErr != nil {
		fmt.Fprintf(a.stderr, "webhookurl audit: reading %s: %v\n", name, readErr)
		failed = true
	}
	if writeErr != nil {
		fmt.Fprintf(a.stderr, "webhookurl audit: writing output: %v\n", writeErr)
		return exitRejected
	}
	if sum.Interrupted {
		fmt.Fprintf(a.stderr, "webhookurl audit: interrupted after %d records\n", sum.Records)
		failed = true
	}
	if failed || sum.Rejected > 0 || sum.Invalid > 0 {
		return exitRejected
	}
	return exitOK
}

// read decodes records and hands each to the printer, and to the workers
// unless the record is invalid. It stops at the end of the input, on a
// read error or when ctx is done.
func (a *auditor) read(ctx context.Context, records *recordReader, order, work chan<- *job) error {
	for ctx.Err() == nil {
		sub, err := records.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}

		j := &job{sub: sub, done: make(chan recordResult, 1)}
		order <- j
		if sub.problemReason != "" {
			j.done <- newInvalidResult(sub)
			continue
		}
		select {
		case work <- j:
		case <-ctx.Done():
			// The printer drops results once ctx is done, so
			// this one only has to unblock it.
			j.done <- newInvalidResult(sub)
			return nil
		}
	}
	return nil
}

// check validates the URL of one well-formed record.
func (a *auditor) check(ctx context.Context, sub subscription) recordResult {
	v := validate(ctx, a.validator, sub.url, a.flags.static, a.flags.timeout)
	return newRecordResult(sub, v)
}

// print writes the result of every job in the order the jobs arrive and
// returns the counts. After ctx is done it prints nothing more, because
// a later result may be a DNS failure caused by the interrupt, but it
// still drains order so that the reader and workers can finish.
func (a *auditor) print(ctx context.Context, order <-chan *job, progress *progress) (summary, error) {
	out := bufio.NewWriterSize(a.stdout, 64<<10)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	sum := newSummary()

	var writeErr error
	for j := range order {
		var res recordResult
		select {
		case res = <-j.done:
		default:
			// The next result is not ready: show what is
			// known so far while the lookup runs.
			if writeErr == nil {
				writeErr = out.Flush()
			}
			res = <-j.done
		}

		if ctx.Err() != nil {
			sum.Interrupted = true
			continue
		}
		sum.add(res)
		progress.record(res.Verdict != verdictOK)

		if writeErr != nil || (a.flags.onlyRejected && res.Verdict == verdictOK) {
			continue
		}
		if a.flags.json {
			writeErr = enc.Encode(res)
		} else {
			writeErr = res.writeText(out)
		}
	}
	if writeErr != nil {
		return sum, writeErr
	}

	if a.flags.json {
		writeErr = enc.Encode(struct {
			Summary summary `json:"summary"`
		}{sum})
	} else {
		writeErr = sum.writeText(out)
	}
	if writeErr != nil {
		return sum, writeErr
	}
	return sum, out.Flush()
}
