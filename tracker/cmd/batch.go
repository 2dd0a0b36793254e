package cmd

import (
	"github.com/spf13/cobra"
)

// NewCmdBatch builds `porttracker batch ...`.
func NewCmdBatch(f *Factory) *cobra.Command {
	return newNoun("batch", "Plan and run the port in batches of features and tests",
		newCmdBatchList(f, nil),
		newCmdBatchShow(f, nil),
		newCmdBatchReady(f, nil),
		newCmdBatchStart(f, nil),
		newCmdBatchComplete(f, nil),
		newCmdBatchCreate(f, nil),
		newCmdBatchAssign(f, nil),
		newCmdBatchMove(f, nil),
	)
}
