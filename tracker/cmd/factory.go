package cmd

import (
	"strings"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
	"github.com/porttracker/porttracker/tracker/report"
)

// Factory hands every command its dependencies. Nothing in this package
// reads globals or the environment except NewFactory, so tests swap the
// database, the clock, the terminal and the Gatekeeper by filling fields.
type Factory struct {
	IOStreams *iostreams.IOStreams

	// DBPath is the --db value; the root command binds its persistent flag here.
	DBPath string

	// OpenDB opens DBPath (never creating it); CreateDB creates it (db init only).
	OpenDB   func() (*db.DB, error)
	CreateDB func() (*db.DB, error)

	// Gatekeeper decides moves into complete/verified for an open database.
	// NewFactory wires the evidence gates (evidence.go); tests swap in fakes.
	Gatekeeper func(d *db.DB) (tracker.Gatekeeper, error)

	// StaleCounts, when set, lets reports count stale items (evidence
	// taken on older sources). Nil: reports leave stale out.
	StaleCounts report.StaleCounter

	Now     func() time.Time
	Actor   string   // audit actor: $PORTTRACKER_ACTOR, else $USER
	Argv    []string // audit argv: the command line as given
	Version string

	// Getenv reads the environment (swappable in tests).
	Getenv func(string) string

	// PauseInWrite is a test hook (env PORTTRACKER_TEST_PAUSE_IN_WRITE, a Go
	// duration): a status update announces itself on stderr and sleeps inside
	// its write transaction after the first row, so a test can SIGKILL it
	// there deterministically.
	PauseInWrite time.Duration
}

// Environment variables read by NewFactory.
const (
	EnvDB           = "PORTTRACKER_DB"
	EnvActor        = "PORTTRACKER_ACTOR"
	EnvPauseInWrite = "PORTTRACKER_TEST_PAUSE_IN_WRITE"
	DefaultDBPath   = "./porting.db"
)

// version is stamped by the linker (-ldflags "-X .../tracker/cmd.version=v1.2.3").
var version = "dev"

// NewFactory builds the production dependencies.
func NewFactory(ios *iostreams.IOStreams, getenv func(string) string, argv []string) *Factory {
	f := &Factory{
		IOStreams: ios,
		Now:       time.Now,
		Argv:      argv,
		Version:   version,
		Getenv:    getenv,
		DBPath:    DefaultDBPath,
	}
	if p := getenv(EnvDB); p != "" {
		f.DBPath = p
	}
	f.Actor = getenv(EnvActor)
	if f.Actor == "" {
		f.Actor = getenv("USER")
	}
	if f.Actor == "" {
		f.Actor = "unknown"
	}
	if d, err := time.ParseDuration(strings.TrimSpace(getenv(EnvPauseInWrite))); err == nil {
		f.PauseInWrite = d
	}
	f.OpenDB = func() (*db.DB, error) { return db.Open(f.DBPath, f.dbOptions()...) }
	f.CreateDB = func() (*db.DB, error) { return db.Create(f.DBPath, f.dbOptions()...) }
	f.Gatekeeper = f.evidenceGatekeeper
	f.StaleCounts = countStale
	return f
}

func (f *Factory) dbOptions() []db.Option {
	return []db.Option{db.WithClock(f.Now), db.WithActor(f.Actor), db.WithArgv(f.Argv)}
}
