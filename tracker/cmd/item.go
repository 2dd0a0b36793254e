package cmd

import (
	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
)

// NewCmdFeature builds `porttracker feature ...`.
func NewCmdFeature(f *Factory) *cobra.Command { return newCmdItem(f, tracker.KindFeature) }

// NewCmdTest builds `porttracker test ...`.
func NewCmdTest(f *Factory) *cobra.Command { return newCmdItem(f, tracker.KindTest) }

// newCmdItem wires the verbs shared by features and tests; they differ only
// in the kind they act on.
func newCmdItem(f *Factory, kind tracker.Kind) *cobra.Command {
	short := "List, show, update and map upstream features (functions and methods)"
	if kind == tracker.KindTest {
		short = "List, show, update and map upstream tests"
	}
	return newNoun(string(kind), short,
		newCmdItemList(f, kind, nil),
		newCmdItemShow(f, kind, nil),
		newCmdItemUpdate(f, kind, nil),
		newCmdItemBatchUpdate(f, kind, nil),
		newCmdItemMap(f, kind, nil),
	)
}
