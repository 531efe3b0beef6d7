package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/fintoro/webhookurl"
)

const auditUsage = `Usage: webhookurl audit [flags] [FILE|-]

Re-checks every subscription of an export, so that an operator can see
which stored webhooks the current rules and DNS records would reject. FILE
is a JSON array of subscription objects or one object per line (JSON
lines); the format is detected from the first character. Without FILE, or
with "-", the export is read from standard input.

The input is streamed, so memory does not grow with the export, except
for duplicate detection, which keeps 17 to 23 bytes per id (about 20 MB
for a million ids). -no-duplicate-check turns it off, and memory then
stays flat. The Go runtime lets the heap grow to about twice what is live
before it collects garbage; set GOGC=25 or GOMEMLIMIT in the environment
to spend a little more CPU time for a lower peak.

Each record needs "id" (a string or a number) and "url" (a string).
"company_id" and "name" are printed as given, "enabled": false marks the
record as disabled, and every other field is ignored. Each record gets one
verdict:

  ok        the URL passes
  reject    the URL is rejected; the reason is a webhookurl reason code
  invalid   the record cannot be checked: malformed_record (not a JSON
            object, no id, or a field of the wrong type), missing_url, or
            duplicate_id (an id seen before; its URL is not checked;
            never reported with -no-duplicate-check)

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
	onlyRejected     bool
	noDuplicateCheck bool
	parallel         int
}

func runAudit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hooks) int {
	fs := newFlagSet("audit", auditUsage, stderr)
	var flags auditFlags
	flags.register(fs)
	fs.BoolVar(&flags.onlyRejected, "only-rejected", false, "print only rejected and invalid records; the summary still counts all")
	fs.BoolVar(&flags.noDuplicateCheck, "no-duplicate-check", false, "do not report repeated ids as duplicate_id, so that memory stays flat however\nlong the export; use it when the ids are known to be unique")
	fs.IntVar(&flags.parallel, "parallel", 8, "maximum `number` of records validated at the same time, from 1 to 1024;\nwith -static, at most GOMAXPROCS, as the work needs no network")
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

// auditor runs one audit in three stages. A reader goroutine decodes
// records in order and groups them in batches. A pool of workers validates
// the records of each batch and formats their output. The calling
// goroutine writes the batches in input order and counts the results.
type auditor struct {
	flags     auditFlags
	validator *webhookurl.Validator
	stdout    io.Writer
	stderr    io.Writer
	hooks     hooks
}

// Records per batch. A static run validates a record in microseconds, so
// batches of many records keep channel operations and goroutine switches
// off the per-record cost. A run with DNS puts each record in a batch of
// its own, so that one slow lookup holds back no other record and each
// result is written as soon as the records before it are done.
const (
	staticBatchSize = 64
	dnsBatchSize    = 1
)

// batch is a run of consecutive records on their way through the pipeline.
// Batches are reused, so a run allocates a few dozen of them at most.
type batch struct {
	subs []subscription

	// counts has one entry per record of subs, and out holds the
	// formatted output of the records that -only-rejected lets through.
	// A worker fills both.
	counts []resultCount
	out    []byte

	// done receives one value when the batch is ready to write. It has
	// room for it, so a worker never waits for the printer.
	done chan struct{}
}

// resultCount is the part of a recordResult that the summary counts.
type resultCount struct {
	verdict  string
	reason   string
	disabled bool
}

func newBatch(size int) *batch {
	return &batch{
		subs:   make([]subscription, 0, size),
		counts: make([]resultCount, 0, size),
		done:   make(chan struct{}, 1),
	}
}

func (b *batch) reset() {
	clear(b.subs) // drop references to the records' text
	b.subs = b.subs[:0]
	b.counts = b.counts[:0]
	b.out = b.out[:0]
}

func (a *auditor) run(ctx context.Context, name string, input io.Reader) int {
	counted := &countingReader{r: input}
	records, err := newRecordReader(counted)
	if err != nil {
		fmt.Fprintf(a.stderr, "webhookurl audit: reading %s: %v\n", name, err)
		return exitRejected
	}
	if a.flags.noDuplicateCheck {
		records.ids = nil
	}

	// A static run is bound by the CPU, so workers beyond GOMAXPROCS
	// would only hold more records in memory. A run with DNS waits on
	// the network and uses every worker -parallel allows.
	batchSize, workers := dnsBatchSize, a.flags.parallel
	if a.flags.static {
		batchSize, workers = staticBatchSize, min(workers, runtime.GOMAXPROCS(0))
	}

	// order carries every batch in input order to the printer; its
	// capacity is the reorder window. With the batch being filled and the
	// one being written, it bounds the records in memory to
	// (4*workers+2)*batchSize, whatever the size of the export. free
	// returns written batches to the reader for reuse.
	order := make(chan *batch, 4*workers)
	work := make(chan *batch, workers)
	free := make(chan *batch, cap(order)+2)
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		readErr = a.read(ctx, records, batchSize, order, work, free)
	}()

	var running sync.WaitGroup
	for range workers {
		running.Go(func() {
			for b := range work {
				a.checkBatch(ctx, b)
				b.done <- struct{}{}
			}
		})
	}

	progress := newProgress(a.stderr, a.hooks, counted, sizeOf(input))
	sum, writeErr := a.print(ctx, order, free, progress)
	running.Wait()
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
	if sum.Records == 0 && !failed {
		// An empty export is more often a failed dump than an empty
		// platform, so warn even though nothing was rejected.
		fmt.Fprintf(a.stderr, "webhookurl audit: warning: %s has no records\n", name)
	}
	if failed || sum.Rejected > 0 || sum.Invalid > 0 {
		return exitRejected
	}
	return exitOK
}

// read decodes records into batches of up to size records and hands each
// batch to the printer and to the workers. It stops at the end of the
// input, on a read error or when ctx is done.
func (a *auditor) read(ctx context.Context, records *recordReader, size int, order, work chan<- *batch, free <-chan *batch) error {
	var b *batch
	send := func() bool {
		order <- b
		select {
		case work <- b:
			b = nil
			return true
		case <-ctx.Done():
			// The printer writes nothing once ctx is done, so
			// this batch only has to unblock it.
			b.done <- struct{}{}
			b = nil
			return false
		}
	}

	for ctx.Err() == nil {
		sub, err := records.next()
		if err != nil {
			if b != nil {
				send()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}

		if b == nil {
			select {
			case b = <-free:
				b.reset()
			default:
				b = newBatch(size)
			}
		}
		b.subs = append(b.subs, sub)
		if len(b.subs) == size && !send() {
			return nil
		}
	}
	if b != nil {
		send()
	}
	return nil
}

// checkBatch validates the records of b and formats the output of those
// that are printed.
func (a *auditor) checkBatch(ctx context.Context, b *batch) {
	for _, sub := range b.subs {
		var res recordResult
		if sub.problemReason != "" {
			res = newInvalidResult(sub)
		} else {
			res = a.check(ctx, sub)
		}
		b.counts = append(b.counts, resultCount{verdict: res.Verdict, reason: res.Reason, disabled: res.Disabled})

		if a.flags.onlyRejected && res.Verdict == verdictOK {
			continue
		}
		if a.flags.json {
			b.out = res.appendJSON(b.out)
		} else {
			b.out = res.appendText(b.out)
		}
	}
}

// check validates the URL of one well-formed record.
func (a *auditor) check(ctx context.Context, sub subscription) recordResult {
	v := validate(ctx, a.validator, sub.url, a.flags.static, a.flags.timeout)
	return newRecordResult(sub, v)
}

// print writes the output of every batch in the order the batches arrive
// and returns the counts. After ctx is done it writes nothing more,
// because a later result may be a DNS failure caused by the interrupt,
// but it still drains order so that the reader and workers can finish.
func (a *auditor) print(ctx context.Context, order <-chan *batch, free chan<- *batch, progress *progress) (summary, error) {
	out := bufio.NewWriterSize(a.stdout, 64<<10)
	sum := newSummary()

	var writeErr error
	for b := range order {
		select {
		case <-b.done:
		default:
			// The next batch is not ready: show what is known
			// so far while its lookups run.
			if writeErr == nil {
				writeErr = out.Flush()
			}
			<-b.done
		}

		if ctx.Err() != nil {
			sum.Interrupted = true
			continue
		}
		rejected := 0
		for _, c := range b.counts {
			sum.add(c)
			if c.verdict != verdictOK {
				rejected++
			}
		}
		progress.record(len(b.counts), rejected)
		if writeErr == nil {
			_, writeErr = out.Write(b.out)
		}

		select {
		case free <- b:
		default:
		}
	}
	if writeErr != nil {
		return sum, writeErr
	}

	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
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
