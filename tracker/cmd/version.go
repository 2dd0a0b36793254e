package cmd

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// VersionOptions are the inputs of `porttracker version`.
type VersionOptions struct {
	IO      *iostreams.IOStreams
	Version string
	JSON    bool
}

// versionExport is the --json shape of `version`.
type versionExport struct {
	Version       string `json:"version"`
	SchemaVersion int    `json:"schema_version"`
	GoVersion     string `json:"go_version"`
}

// NewCmdVersion builds `porttracker version`.
func NewCmdVersion(f *Factory) *cobra.Command { return newCmdVersion(f, nil) }

func newCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the porttracker version and the schema version it understands",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			opts.Version = f.Version
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func versionRun(opts *VersionOptions) error {
	v := versionExport{Version: opts.Version, SchemaVersion: db.LatestVersion(), GoVersion: runtime.Version()}
	if opts.JSON {
		return writeJSON(opts.IO.Out, v)
	}
	_, err := fmt.Fprintf(opts.IO.Out, "porttracker %s (schema %d, %s)\n", v.Version, v.SchemaVersion, v.GoVersion)
	return err
}
