package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// NewCmdEvidence builds `porttracker evidence ...`.
func NewCmdEvidence(f *Factory) *cobra.Command {
	return newNoun("evidence", "Run the gates (build, stub scan, tests, gut check, coverage links) and show their evidence",
		newCmdEvidenceRun(f, nil),
		newCmdEvidenceShow(f, nil),
	)
}

// evidenceGatekeeper is the Factory's Gatekeeper: the evidence gates, run in
// the Go module next to porting.db, reporting progress on stderr.
func (f *Factory) evidenceGatekeeper(d *db.DB) (tracker.Gatekeeper, error) {
	return gates.NewGatekeeper(d, gates.Options{Progress: progressPrinter(f.IOStreams)}), nil
}

// progressPrinter renders engine progress on stderr: one rewritten status
// line on a terminal, plain lines otherwise (stable for logs and scripts).
func progressPrinter(ios *iostreams.IOStreams) func(gates.Progress) {
	var mu sync.Mutex // progress arrives from parallel test runs
	tty := ios.IsStdoutTTY()
	return func(p gates.Progress) {
		mu.Lock()
		defer mu.Unlock()
		line := fmt.Sprintf("%s %d/%d: %s", p.Stage, p.Done, p.Total, p.Line)
		if p.Total == 0 {
			line = fmt.Sprintf("%s: %s", p.Stage, p.Line)
		}
		if !tty {
			fmt.Fprintln(ios.ErrOut, line)
			return
		}
		if len(line) > 120 {
			line = line[:119] + "…"
		}
		fmt.Fprintf(ios.ErrOut, "\r\033[K%s", line)
		if p.Total == 0 {
			io.WriteString(ios.ErrOut, "\n")
		}
	}
}

// parseGateList turns "build,stub" into gates (usage errors).
func parseGateList(s string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		out = append(out, part)
	}
	if len(out) == 0 {
		return nil, tracker.Usagef("--gates needs a list such as build,stub,test,gut,links")
	}
	return out, nil
}

// countStale is the Factory's report.StaleCounter: complete and verified items
// whose evidence was taken on other sources. Without the module next to
// porting.db nothing can be fingerprinted, so stale counts are left out.
func countStale(ctx context.Context, d *db.DB) (map[tracker.Kind]int64, error) {
	eng, err := gates.NewEngine(ctx, d, gates.Options{})
	if errors.Is(err, gates.ErrNoModule) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return eng.CountStale(ctx)
}
