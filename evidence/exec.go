package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DefaultTimeout bounds every command a gate runs unless the Module says
// otherwise.
const DefaultTimeout = 10 * time.Minute

// command is one process to run: an argv, never a shell string.
type command struct {
	argv    []string
	dir     string
	env     []string // added to the inherited environment
	timeout time.Duration
	// watch, when set, also bounds each test of a -test.v=test2json run.
	watch *testWatch
}

// Exec is what running one command produced. Output is captured in full.
type Exec struct {
	Argv     []string
	Dir      string
	Start    time.Time
	Duration time.Duration
	// ExitCode is the process's exit status, -1 when it was killed or did
	// not start.
	ExitCode int
	// TimedOut is set when the command ran past its timeout and was killed
	// (with its process group, so a hung test binary cannot linger).
	TimedOut bool
	// HungTest names the test that ran past its own budget when a watched
	// run was killed for it (TimedOut is set too).
	HungTest string
	Stdout   []byte
	Stderr   []byte
	// Err is set when the command could not run or was killed; a non-zero
	// exit status alone is not an error.
	Err error
}

// OK reports whether the command ran to completion with status 0.
func (e *Exec) OK() bool { return e.Err == nil && e.ExitCode == 0 }

// Log renders the command and its output the way evidence logs store it.
func (e *Exec) Log() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "$ %s\n", shellQuote(e.Argv))
	if e.Dir != "" {
		fmt.Fprintf(&b, "# dir %s\n", e.Dir)
	}
	b.Write(e.Stdout)
	if len(e.Stdout) > 0 && e.Stdout[len(e.Stdout)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.Write(e.Stderr)
	if len(e.Stderr) > 0 && e.Stderr[len(e.Stderr)-1] != '\n' {
		b.WriteByte('\n')
	}
	switch {
	case e.TimedOut:
		fmt.Fprintf(&b, "# killed after %s (timeout)\n", e.Duration.Round(time.Millisecond))
	case e.Err != nil:
		fmt.Fprintf(&b, "# error: %v (%s)\n", e.Err, e.Duration.Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "# exit status %d (%s)\n", e.ExitCode, e.Duration.Round(time.Millisecond))
	}
	return b.Bytes()
}

// shellQuote renders argv for humans reading a log; nothing ever runs it.
func shellQuote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;()<>*?[]{}!#~^") {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}

// run executes c, killing its process group when the timeout passes or ctx
// ends.
func run(ctx context.Context, c command) *Exec {
	timeout := c.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res := &Exec{Argv: c.argv, Dir: c.dir, ExitCode: -1}
	if len(c.argv) == 0 {
		res.Err = errors.New("evidence: empty command")
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The watchdog kills through its own context, so a test past its
	// budget is told apart from the run's timeout and from cancellation.
	procCtx, kill := context.WithCancel(ctx)
	defer kill()
	cmd := exec.CommandContext(procCtx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	var tw *testWatcher
	stopWatch := make(chan struct{})
	if c.watch != nil {
		tw = &testWatcher{w: c.watch}
		cmd.Stdout = io.MultiWriter(&stdout, tw)
		go watchTests(tw, stopWatch, kill)
	}
	setProcessGroup(cmd)
	// A grandchild holding the pipes open must not keep us waiting forever.
	cmd.WaitDelay = 5 * time.Second

	res.Start = time.Now()
	err := cmd.Run()
	close(stopWatch)
	res.Duration = time.Since(res.Start)
	res.Stdout = stdout.Bytes()
	res.Stderr = stderr.Bytes()
	if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	exited := cmd.ProcessState != nil && cmd.ProcessState.Exited()
	if tw != nil && ctx.Err() == nil && !exited {
		if name, late := tw.overdue(time.Now()); late {
			res.TimedOut, res.HungTest = true, name
			res.Err = fmt.Errorf("evidence: %s: killed: %s ran past its budget of %s", c.argv[0], name, c.watch.Budget[name])
			return res
		}
	}
	if ctx.Err() != nil && !exited {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.TimedOut = true
			res.Err = fmt.Errorf("evidence: %s: killed after timeout %s", c.argv[0], timeout)
		} else {
			res.Err = ctx.Err()
		}
		return res
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		res.Err = err
	} else if err != nil && !exitErr.Exited() {
		res.Err = fmt.Errorf("evidence: %s: %v", c.argv[0], err)
	}
	return res
}
