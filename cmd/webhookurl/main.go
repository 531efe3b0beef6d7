// Command webhookurl checks webhook URLs with package webhookurl, the same
// rules an API applies before it stores a subscription.
//
// Usage:
//
//	webhookurl check [-dns HOST:PORT,...] [-static] [-json] [-timeout D] [URL...]
//	webhookurl audit [-dns HOST:PORT,...] [-static] [-json] [-timeout D]
//	                 [-only-rejected] [-no-duplicate-check] [-parallel N] [FILE|-]
//
// check judges URLs given as arguments, or one per line on standard input.
// audit re-checks an export of stored subscriptions, so that an operator can
// see which of them the current rules and DNS records would reject.
//
// Exit status: 0 when every URL or record passes, 1 when any is rejected or
// malformed or the run is interrupted, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/fintoro/webhookurl"
)

// Exit statuses.
const (
	exitOK       = 0
	exitRejected = 1
	exitUsage    = 2
)

// defaultTimeout bounds the validation of one URL, DNS queries included.
// The built-in resolver tries each nameserver twice for up to 2s a query,
// so 10s leaves room for two nameservers before a URL is given up on.
const defaultTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// hooks holds what tests replace: the resolver behind the Validator that
// the flags describe, and the terminal check that turns progress on.
type hooks struct {
	// resolver, when set, replaces the DNS resolver built from -dns.
	resolver webhookurl.Resolver

	// isTerminal reports whether progress may be written to w.
	// Nil means a check of the file mode of w.
	isTerminal func(w io.Writer) bool

	// progressInterval is the time between two progress lines.
	// Zero means defaultProgressInterval.
	progressInterval time.Duration
}

// run is main without the process: it parses args, runs the subcommand and
// returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdin, stdout, stderr, hooks{})
}

func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, h hooks) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}

	switch args[0] {
	case "check":
		return runCheck(ctx, args[1:], stdin, stdout, stderr, h)
	case "audit":
		return runAudit(ctx, args[1:], stdin, stdout, stderr, h)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "webhookurl: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

const usage = `Usage:
  webhookurl check [flags] [URL...]
  webhookurl audit [flags] [FILE|-]

Commands:
  check   judge each URL given as an argument, or one URL per line on
          standard input when there is none
  audit   re-check every subscription of an export (a JSON array or JSON
          lines) and list the ones the current rules reject

Run "webhookurl check -h" or "webhookurl audit -h" for the flags.
Exit status: 0 when all pass, 1 when any is rejected or malformed,
2 on a usage error.
`

// commonFlags are the flags of both commands that build the Validator and
// choose the output format.
type commonFlags struct {
	dns     string
	dnsSet  bool // -dns was given, even if empty
	static  bool
	json    bool
	timeout time.Duration
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.Func("dns", "comma-separated `HOST:PORT` list of recursive nameservers, IP addresses only;\nport 53 when omitted (default: the nameserver lines of /etc/resolv.conf)", func(value string) error {
		c.dns, c.dnsSet = value, true
		return nil
	})
	fs.BoolVar(&c.static, "static", false, "apply only the rules that need no network; DNS names are not resolved")
	fs.BoolVar(&c.json, "json", false, "write one JSON object per line instead of text")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "maximum `duration` of the validation of one URL, DNS queries included")
}

// newFlagSet returns the flag set of a command, which prints usage and
// then the flags to stderr, and reports errors instead of exiting.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and reports the exit status to return
// right away, if any: exitOK after -h, exitUsage after a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, true
	}
	if err != nil {
		return exitUsage, true
	}
	return 0, false
}

// validator builds the Validator the flags describe.
func (c *commonFlags) validator(h hooks) (*webhookurl.Validator, error) {
	if c.timeout <= 0 {
		return nil, fmt.Errorf("invalid -timeout %s: it must be positive", c.timeout)
	}
	var cfg webhookurl.Config
	if c.dnsSet {
		if strings.TrimSpace(c.dns) == "" {
			// An unset shell variable must not fall back to
			// /etc/resolv.conf.
			return nil, errors.New(`invalid -dns "": name at least one nameserver, or leave out -dns to use /etc/resolv.conf`)
		}
		servers, err := parseNameservers(c.dns)
		if err != nil {
			return nil, err
		}
		if c.static {
			return nil, errors.New("-dns and -static cannot be used together: -static never queries DNS")
		}
		cfg.DNS.Nameservers = servers
	}

	switch {
	case h.resolver != nil:
		cfg.Resolver = h.resolver
	case c.static:
		// No lookup happens in a static run, so do not read
		// /etc/resolv.conf either.
		cfg.Resolver = noResolver{}
	}
	return webhookurl.New(cfg)
}

// parseNameservers splits the value of -dns. Each element must be an IP
// address with an optional port, because a nameserver given by name would
// need another resolver to find it.
func parseNameservers(value string) ([]string, error) {
	var servers []string
	for _, s := range strings.Split(value, ",") {
		if _, err := netip.ParseAddr(s); err == nil {
			servers = append(servers, s)
			continue
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("invalid -dns nameserver %q: want an IP address with an optional port, such as 127.0.0.1:5353 or [::1]:53", s)
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// noResolver is the resolver of a -static run, which never resolves.
type noResolver struct{}

func (noResolver) LookupAddrs(context.Context, string) ([]netip.Addr, error) {
	return nil, errors.New("DNS lookups are disabled by -static")
}

// validate judges raw with v, statically or fully, within timeout.
func validate(ctx context.Context, v *webhookurl.Validator, raw string, static bool, timeout time.Duration) verdict {
	if static {
		res, err := v.ValidateStatic(raw)
		return newVerdict(raw, res, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := v.Validate(ctx, raw)
	return newVerdict(raw, res, err)
}
