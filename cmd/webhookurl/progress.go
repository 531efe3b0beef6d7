package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// defaultProgressInterval is the time between two progress lines.
const defaultProgressInterval = 500 * time.Millisecond

// progress writes a status line to a terminal while an audit runs and
// stays silent when the output is not a terminal, such as a log file.
type progress struct {
	w       io.Writer
	input   *countingReader
	size    int64 // bytes in the input, or -1 when unknown
	started time.Time

	done     atomic.Int64
	rejected atomic.Int64

	quit    chan struct{}
	stopped sync.WaitGroup
}

// newProgress starts writing progress to w every interval if w is a
// terminal. size is the input's length in bytes, or -1 if unknown.
func newProgress(w io.Writer, h hooks, input *countingReader, size int64) *progress {
	p := &progress{w: w, input: input, size: size, started: time.Now()}

	isTerminal := h.isTerminal
	if isTerminal == nil {
		isTerminal = isCharDevice
	}
	if !isTerminal(w) {
		return p
	}

	interval := h.progressInterval
	if interval <= 0 {
		interval = defaultProgressInterval
	}
	p.quit = make(chan struct{})
	p.stopped.Go(func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				p.write("\r")
			case <-p.quit:
				p.write("\r")
				fmt.Fprintln(p.w)
				return
			}
		}
	})
	return p
}

// record counts finished records, of which rejected were rejected or
// invalid.
func (p *progress) record(done, rejected int) {
	p.done.Add(int64(done))
	p.rejected.Add(int64(rejected))
}

// stop writes the last progress line and waits for the writer to end.
func (p *progress) stop() {
	if p.quit == nil {
		return
	}
	close(p.quit)
	p.stopped.Wait()
}

func (p *progress) write(prefix string) {
	done := p.done.Load()
	rate := float64(done) / max(time.Since(p.started).Seconds(), 1e-9)
	line := fmt.Sprintf("%saudit: %d records done, %d rejected, %.0f records/s", prefix, done, p.rejected.Load(), rate)
	if p.size > 0 {
		line += fmt.Sprintf(", %d%% of input read", 100*p.input.n.Load()/p.size)
	}
	// Erase what is left of a longer previous line.
	fmt.Fprint(p.w, line+"\x1b[K")
}

// isCharDevice reports whether w is a terminal, or another character
// device, which is as close as the standard library gets.
func isCharDevice(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// countingReader counts the bytes read through it, for the share of the
// input shown in progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// sizeOf returns the size of r if it is a regular file, or -1.
func sizeOf(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return -1
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return -1
	}
	return info.Size()
}
