package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// NewCmdDB groups the database maintenance verbs. They act directly (no
// --execute): they change the file's form, never the tracked state.
func NewCmdDB(f *Factory) *cobra.Command {
	return newNoun("db", "Create, migrate, check and compact porting.db",
		newCmdDBInit(f, nil),
		newCmdDBMigrate(f, nil),
		newCmdDBCheck(f, nil),
		newCmdDBVacuum(f, nil),
	)
}

// DBOptions serve the db verbs, which share their inputs.
type DBOptions struct {
	IO       *iostreams.IOStreams
	OpenDB   func() (*db.DB, error)
	CreateDB func() (*db.DB, error)
	Path     string
	JSON     bool
}

func dbOptions(f *Factory) *DBOptions {
	return &DBOptions{IO: f.IOStreams, OpenDB: f.OpenDB, CreateDB: f.CreateDB}
}

func newCmdDBInit(f *Factory, runF func(*DBOptions) error) *cobra.Command {
	opts := dbOptions(f)
	return &cobra.Command{
		Use:   "init",
		Short: "Create a new, empty porting.db (the only command that creates a file)",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			opts.Path = f.DBPath
			if runF != nil {
				return runF(opts)
			}
			return dbInitRun(opts)
		},
	}
}

func dbInitRun(opts *DBOptions) error {
	d, err := opts.CreateDB()
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(opts.IO.Out, "created %s (schema version %d)\n", opts.Path, db.LatestVersion())
	return nil
}

func newCmdDBMigrate(f *Factory, runF func(*DBOptions) error) *cobra.Command {
	opts := dbOptions(f)
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations",
		Long: `Apply pending schema migrations. Opening the database applies them too; this
command does it explicitly and says what changed.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			opts.Path = f.DBPath
			if runF != nil {
				return runF(opts)
			}
			return dbMigrateRun(opts)
		},
	}
}

func dbMigrateRun(opts *DBOptions) error {
	// db.Open migrates; report what it found before that.
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := d.SchemaVersion(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "%s is at schema version %d (latest %d)\n", opts.Path, v, db.LatestVersion())
	return nil
}

// checkExport is the --json shape of `db check`.
type checkExport struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

func newCmdDBCheck(f *Factory, runF func(*DBOptions) error) *cobra.Command {
	opts := dbOptions(f)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify integrity, invariants, the audit hash chain and the status replay",
		Long: `Verify porting.db: SQLite's integrity and foreign-key checks, the tracker's
invariants (items in existing batches, valid statuses, n_a and overrides with
reasons, batch dependencies), the audit hash chain, and the status replay (each
item's status must be where its audit history ends). Exits 1 listing every
problem.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			opts.Path = f.DBPath
			if runF != nil {
				return runF(opts)
			}
			return dbCheckRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func dbCheckRun(opts *DBOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	problems, err := d.Check(context.Background())
	if err != nil {
		return err
	}
	if opts.JSON {
		if problems == nil {
			problems = []string{}
		}
		if err := writeJSON(opts.IO.Out, checkExport{OK: len(problems) == 0, Problems: problems}); err != nil {
			return err
		}
	} else if len(problems) == 0 {
		fmt.Fprintf(opts.IO.Out, "%s: ok\n", opts.Path)
	}
	if len(problems) > 0 {
		return &tracker.RefusedError{Msg: fmt.Sprintf("%s: %d problem(s)", opts.Path, len(problems)), Problems: problems}
	}
	return nil
}

func newCmdDBVacuum(f *Factory, runF func(*DBOptions) error) *cobra.Command {
	opts := dbOptions(f)
	return &cobra.Command{
		Use:   "vacuum",
		Short: "Checkpoint the WAL and compact porting.db so it can be committed alone",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			opts.Path = f.DBPath
			if runF != nil {
				return runF(opts)
			}
			return dbVacuumRun(opts)
		},
	}
}

func dbVacuumRun(opts *DBOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	if err := d.Vacuum(context.Background()); err != nil {
		d.Close()
		return err
	}
	// Closing the last connection removes -wal and -shm.
	if err := d.Close(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "%s: checkpointed and compacted\n", opts.Path)
	return nil
}
