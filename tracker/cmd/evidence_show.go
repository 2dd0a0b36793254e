package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// EvidenceShowOptions are the inputs of `evidence show`.
type EvidenceShowOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	Kind tracker.Kind
	ID   int64
	Gate string
	Log  bool
	JSON bool
}

// evidenceShowExport is the --json shape of `evidence show`.
type evidenceShowExport struct {
	Kind     tracker.Kind `json:"kind"`
	ID       int64        `json:"id"`
	Symbol   string       `json:"symbol"`
	Target   string       `json:"target"`
	Status   string       `json:"status"`
	Evidence []showRow    `json:"evidence"`
}

// showRow is one evidence row with its log as text.
type showRow struct {
	db.Evidence
	Log string `json:"log,omitempty"`
}

func newCmdEvidenceShow(f *Factory, runF func(*EvidenceShowOptions) error) *cobra.Command {
	opts := &EvidenceShowOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	var featureID, testID int64
	cmd := &cobra.Command{
		Use:   "show KIND ID | --feature ID | --test ID",
		Short: "Show an item's evidence history, newest first, with logs on request",
		Long: `Show the evidence rows kept for one item (policy evidence_keep per gate), newest
first: gate, verdict, when, how long, the commit and fingerprint it saw, and why.
--log adds each row's full log (the commands and their output).`,
		Example: `  porttracker evidence show feature 951
  porttracker evidence show --test 368 --gate test --log`,
		RunE: func(cmd *cobra.Command, args []string) error {
			byFlag := 0
			if cmd.Flags().Changed("feature") {
				byFlag++
				opts.Kind, opts.ID = tracker.KindFeature, featureID
			}
			if cmd.Flags().Changed("test") {
				byFlag++
				opts.Kind, opts.ID = tracker.KindTest, testID
			}
			switch {
			case byFlag == 0 && len(args) == 2:
				kind, err := tracker.ParseKind(args[0])
				if err != nil {
					return err
				}
				id, err := tracker.ParseID(args[1])
				if err != nil {
					return err
				}
				opts.Kind, opts.ID = kind, id
			case byFlag == 1 && len(args) == 0:
				if opts.ID <= 0 {
					return tracker.Usagef("IDs are positive integers")
				}
			default:
				return tracker.Usagef("%s needs KIND ID, --feature ID or --test ID", cmd.CommandPath())
			}
			if opts.Gate != "" {
				if _, err := evidence.ParseGate(opts.Gate); err != nil {
					return tracker.Usagef("%v", err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return evidenceShowRun(opts)
		},
	}
	cmd.Flags().Int64Var(&featureID, "feature", 0, "feature `ID`")
	cmd.Flags().Int64Var(&testID, "test", 0, "test `ID`")
	cmd.Flags().StringVar(&opts.Gate, "gate", "", "only this gate's rows")
	cmd.Flags().BoolVar(&opts.Log, "log", false, "print each row's log")
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func evidenceShowRun(opts *EvidenceShowOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	x := evidenceShowExport{Kind: opts.Kind, ID: opts.ID, Evidence: []showRow{}}
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		it, err := tx.GetItem(opts.Kind, opts.ID)
		if err != nil {
			return err
		}
		x.Symbol, x.Target, x.Status = it.Symbol(), it.Target, string(it.Status)
		rows, err := gates.History(tx, opts.Kind, opts.ID, opts.Gate, opts.Log || opts.JSON)
		if err != nil {
			return err
		}
		for _, r := range rows {
			x.Evidence = append(x.Evidence, showRow{Evidence: r.Evidence, Log: string(r.Log)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if opts.JSON {
		if !opts.Log {
			for i := range x.Evidence {
				x.Evidence[i].Log = ""
			}
		}
		return writeJSON(opts.IO.Out, x)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s %d  %s -> %s  (%s)\n", x.Kind, x.ID, x.Symbol, x.Target, x.Status)
	if len(x.Evidence) == 0 {
		fmt.Fprintf(w, "no evidence: run porttracker evidence run --%s %d\n", x.Kind.Plural(), x.ID)
		return nil
	}
	t := newTable(opts.IO, "EVIDENCE", "GATE", "VERDICT", "STARTED", "DURATION", "COMMIT", "FINGERPRINT", "DETAIL")
	for _, r := range x.Evidence {
		commit := shortHash(r.GitCommit)
		if r.GitDirty {
			commit += "+dirty"
		}
		t.add(fmt.Sprint(r.ID), r.Gate, r.Verdict, r.StartedAt, (time.Duration(r.DurationMS) * time.Millisecond).String(),
			commit, shortHash(r.Fingerprint), r.Detail)
	}
	if err := t.render(); err != nil {
		return err
	}
	if opts.Log {
		for _, r := range x.Evidence {
			fmt.Fprintf(w, "\n=== evidence %d: %s %s, argv %s ===\n%s", r.ID, r.Gate, r.Verdict, r.Argv, r.Log)
		}
	}
	return nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
