package evidence

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// BuildResult is the build gate's outcome for a set of packages.
type BuildResult struct {
	Verdict Verdict // Pass, Fail or Error
	Detail  string
	Execs   []*Exec // go build, then go vet
}

// Commands lists the argvs that ran.
func (r *BuildResult) Commands() [][]string {
	out := make([][]string, len(r.Execs))
	for i, e := range r.Execs {
		out[i] = e.Argv
	}
	return out
}

// Log concatenates the logs of the commands.
func (r *BuildResult) Log() []byte {
	var b bytes.Buffer
	for _, e := range r.Execs {
		b.Write(e.Log())
	}
	return b.Bytes()
}

// Start and Duration span all commands.
func (r *BuildResult) Start() time.Time {
	if len(r.Execs) == 0 {
		return time.Time{}
	}
	return r.Execs[0].Start
}

func (r *BuildResult) Duration() time.Duration {
	var d time.Duration
	for _, e := range r.Execs {
		d += e.Duration
	}
	return d
}

// Build is the build gate: go build, then go vet (which also type-checks
// the test files), over the given package dirs or patterns. Both run even
// when the first fails, so the log shows everything.
func (m *Module) Build(ctx context.Context, pkgs []string) *BuildResult {
	res := &BuildResult{Verdict: Pass}
	if len(pkgs) == 0 {
		return &BuildResult{Verdict: Error, Detail: "no packages to build"}
	}
	var problems []string
	for _, tool := range []string{"build", "vet"} {
		args := append([]string{tool}, m.BuildFlags...)
		args = append(args, pkgs...)
		ex := run(ctx, m.goCommand(args...))
		res.Execs = append(res.Execs, ex)
		switch {
		case ex.Err != nil && !ex.TimedOut:
			res.Verdict = Error
			problems = append(problems, fmt.Sprintf("go %s: %v", tool, ex.Err))
		case ex.TimedOut:
			res.Verdict = Fail
			problems = append(problems, fmt.Sprintf("go %s: killed after timeout", tool))
		case ex.ExitCode != 0:
			if res.Verdict == Pass {
				res.Verdict = Fail
			}
			msg := fmt.Sprintf("go %s failed", tool)
			if line := firstDiagnostic(ex.Stderr); line != "" {
				msg += ": " + line
			}
			problems = append(problems, msg)
		}
	}
	if len(problems) == 0 {
		res.Detail = "go build and go vet clean"
	} else {
		res.Detail = strings.Join(problems, "; ")
	}
	return res
}

// firstDiagnostic is the first line of compiler or vet output that is not a
// "# package" header.
func firstDiagnostic(out []byte) string {
	for line := range strings.SplitSeq(string(out), "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		return truncate(l, 200)
	}
	return ""
}
