//go:build !unix

package evidence

import "os/exec"

// setProcessGroup keeps exec's default: the process itself is killed on
// cancellation.
func setProcessGroup(cmd *exec.Cmd) {}
