package cmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/internal/seed"
)

// childCommand re-execs the test binary in a role (see TestMain).
func childCommand(role string, env []string, args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], args...)
	c.Env = append(append(os.Environ(), envRole+"="+role), env...)
	return c
}

// TestConcurrentProcesses: 8 OS processes each make 50 status updates to
// one porting.db, each update a full open-plan-write-close. Every update
// must land with its audit row, the chain must verify, and "database is
// locked" must never reach a user.
func TestConcurrentProcesses(t *testing.T) {
	path := filepath.Join(testDir(t), "porting.db")
	if err := seed.Generate(path, seed.Large{Features: 100, Tests: 10, Batches: 2}); err != nil {
		t.Fatal(err)
	}
	auditBefore := auditCount(t, path)
	const workers = 8
	type result struct {
		worker int
		err    error
		stderr string
	}
	results := make(chan result, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			// Worker w owns features w*10+1 .. w*10+5, so every update is a
			// real change; the contention is on the database itself.
			c := childCommand(roleWorker, []string{
				envWorkerArgs + "=" + path + "," + fmt.Sprint(w*10+1),
				EnvActor + "=" + fmt.Sprintf("worker-%d", w),
			})
			var stderr bytes.Buffer
			c.Stderr = &stderr
			err := c.Run()
			results <- result{w, err, stderr.String()}
		}(w)
	}
	for i := 0; i < workers; i++ {
		r := <-results
		if r.err != nil {
			t.Errorf("worker %d: %v\n%s", r.worker, r.err, r.stderr)
		}
		if strings.Contains(strings.ToLower(r.stderr), "locked") || strings.Contains(r.stderr, "SQLITE_BUSY") {
			t.Errorf("worker %d saw lock errors:\n%s", r.worker, r.stderr)
		}
	}
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		for w := 0; w < workers; w++ {
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM audit WHERE actor = ? AND action = 'status'`, fmt.Sprintf("worker-%d", w)).Scan(&n); err != nil {
				return err
			}
			if n != 50 {
				t.Errorf("worker %d: %d audit rows, want 50", w, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := auditCount(t, path) - auditBefore; got != workers*50 {
		t.Errorf("%d new audit rows, want %d", got, workers*50)
	}
	problems, err := d.Check(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatalf("db check after the concurrent run: %v %q", err, problems)
	}
}

func auditCount(t *testing.T, path string) int64 {
	t.Helper()
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int64
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		n, err = tx.AuditCount()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSIGKILLMidWrite kills a porttracker process inside the write
// transaction of a 15-ID batch-update (after its first row and audit row).
// The database must open, pass integrity_check and db check, and hold none
// of the update; rerunning it then applies all of it.
func TestSIGKILLMidWrite(t *testing.T) {
	path := filepath.Join(testDir(t), "porting.db")
	if err := seed.Generate(path, seed.Large{Features: 100, Tests: 10, Batches: 2}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, path)
	args := []string{"feature", "batch-update", "--ids", "1-15", "--set-status", "n_a", "--reason", "needs a server", "--execute", "--db", path}

	c := childCommand(roleCLI, []string{EnvPauseInWrite + "=1m"}, args...)
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	paused := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "test hook: paused inside the write transaction") {
				paused <- true
				break
			}
		}
		paused <- false
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-paused:
		if !ok {
			c.Process.Kill()
			c.Wait()
			t.Fatal("child ended without reaching the hook")
		}
	case <-time.After(2 * time.Minute):
		c.Process.Kill()
		c.Wait()
		t.Fatal("child never reached the hook")
	}
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = c.Wait()
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", err)
	}

	// The killed process left a WAL with uncommitted frames at most.
	d, err := db.Open(path)
	if err != nil {
		t.Fatalf("open after SIGKILL: %v", err)
	}
	var integrity string
	if err := d.Read(context.Background(), func(tx *db.Tx) error {
		return tx.QueryRow("PRAGMA integrity_check").Scan(&integrity)
	}); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	problems, err := d.Check(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatalf("db check after SIGKILL: %v %q", err, problems)
	}
	d.Close()
	if after := dump(t, path); after != before {
		t.Fatalf("a killed transaction left part of its write:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The same command, not killed, applies all 15.
	if r := run(t, args...); r.code != 0 {
		t.Fatalf("rerun: exit %d %s", r.code, r.stderr)
	}
	for id := int64(1); id <= 15; id++ {
		if it := itemStatus(t, path, tracker.KindFeature, id); it.Status != tracker.StatusNA {
			t.Errorf("feature %d is %s after the rerun", id, it.Status)
		}
	}
	checkDB(t, path)
}
