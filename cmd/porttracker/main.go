// Command porttracker tracks a function-by-function port in porting.db.
// See tracker/cmd for the commands and `porttracker --help` for exit codes.
package main

import (
	"os"

	"github.com/porttracker/porttracker/tracker/cmd"
)

func main() { os.Exit(cmd.Run()) }
