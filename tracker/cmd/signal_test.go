//go:build unix

package cmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates/gatestest"
)

// hangingTest makes every test binary of the fixture's honest package write
// its PID and then hang, as a deadlocked port test would.
const hangingTest = `package honest

import (
	"os"
	"strconv"
	"time"
)

func init() {
	if f := os.Getenv("PT_HANG_PIDFILE"); f != "" {
		os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o644)
		time.Sleep(10 * time.Minute)
	}
}
`

// TestSIGTERMDuringEvidenceRun: a porttracker killed with SIGTERM while its
// gates run a (hung) test binary exits non-zero within seconds, takes that
// test binary down with it (it lives in its own process group, which the
// signal does not reach), leaves no scratch directory behind and records no
// verdict of a gate it cut short.
func TestSIGTERMDuringEvidenceRun(t *testing.T) {
	path := gatestest.New(t)
	dir := filepath.Dir(path)
	if err := os.WriteFile(filepath.Join(dir, "honest", "zz_hang_test.go"), []byte(hangingTest), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	scratch := t.TempDir()

	c := childCommand(roleCLI, []string{"PT_HANG_PIDFILE=" + pidFile, "TMPDIR=" + scratch},
		"evidence", "run", "--features", "1", "--gates", "build,links,test", "--db", path)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(2 * time.Minute)
	for pid == 0 {
		if time.Now().After(deadline) {
			c.Process.Kill()
			t.Fatalf("the hanging test never started; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			pid, _ = strconv.Atoi(string(b))
		}
	}

	sent := time.Now()
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := c.Wait()
	if took := time.Since(sent); took > 30*time.Second {
		t.Errorf("porttracker took %s to stop after SIGTERM", took)
	}
	var exitErr interface{ ExitCode() int }
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != ExitRefused {
		t.Fatalf("exit after SIGTERM: %v, want exit code %d; stderr:\n%s", err, ExitRefused, stderr.String())
	}
	if !strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr does not say the run was canceled:\n%s", stderr.String())
	}

	// The hung test binary is gone (killed, then reaped by init).
	for syscall.Kill(pid, 0) == nil {
		if time.Since(sent) > 30*time.Second {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("test binary %d still runs after porttracker exited", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left, _ := filepath.Glob(filepath.Join(scratch, "porttracker-*")); len(left) > 0 {
		t.Errorf("scratch left behind: %v", left)
	}
	// A stage that finished (the build) keeps its observation; the stages
	// the signal cut short record nothing.
	d := gatestest.Open(t, path)
	var gates []string
	if err := d.Read(context.Background(), func(tx *db.Tx) error {
		rows, err := tx.Query(`SELECT gate FROM evidence ORDER BY gate`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				return err
			}
			gates = append(gates, g)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, g := range gates {
		if g != "build" {
			t.Errorf("a canceled run recorded %s evidence (all: %v)", g, gates)
		}
	}
	checkDB(t, path)
}
