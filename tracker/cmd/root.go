// Package cmd is porttracker's command line: one file per noun, and per verb
// an XOptions struct (flag values plus dependencies), a NewCmdX(f, runF)
// constructor that parses and validates flags, and an xRun(opts) that does
// the work. Tests pass runF to check flag parsing without running anything.
package cmd

import (
	"github.com/spf13/cobra"
)

// nouns are porttracker's top-level commands. Adding a noun is one line here.
var nouns = []func(f *Factory) *cobra.Command{
	NewCmdBatch,
	NewCmdFeature,
	NewCmdTest,
	NewCmdReport,
	NewCmdDB,
	NewCmdInventory,
	NewCmdEvidence,
	NewCmdConfig,
	NewCmdVersion,
}

const rootLong = `porttracker tracks a port of upstream Go code, function by function, in porting.db:
every upstream feature (function or method) and test, its target in this repository,
its status (deferred, stub, complete, verified, n_a), the batches that plan the work,
the evidence behind each promotion, and a hash-chained audit log of every change.

Commands that change porting.db are dry runs: they print the plan and the gate
verdicts and write nothing unless --execute is given.

Exit codes:
  0  ok
  1  refused by a gate or a rule (nothing was written), or failed
  2  usage error: bad flag, argument, ID list, status, or a missing --reason
  3  database missing, corrupt, of another application, or newer than this binary

Environment:
  PORTTRACKER_DB     default for --db (otherwise ./porting.db)
  PORTTRACKER_ACTOR  actor recorded in the audit log (otherwise $USER)`

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "porttracker <command> <subcommand> [flags]",
		Short:         "Track a function-by-function port in porting.db",
		Long:          rootLong,
		SilenceErrors: true, // Main prints errors once, with the exit code mapping
		SilenceUsage:  true,
		Args:          noArgs,
		RunE:          showHelp,
	}
	root.PersistentFlags().StringVar(&f.DBPath, "db", f.DBPath, "path to porting.db (env "+EnvDB+")")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	for _, noun := range nouns {
		root.AddCommand(noun(f))
	}
	return root
}

// newNoun builds a noun command that only groups verbs.
func newNoun(use, short string, verbs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: noArgs, RunE: showHelp}
	c.AddCommand(verbs...)
	return c
}

// showHelp makes group commands runnable, so that an unknown verb reaches
// noArgs (exit 2) instead of cobra printing help with exit 0.
func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }
