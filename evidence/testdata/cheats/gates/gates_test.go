package gates

import (
	"os"
	"testing"
	"time"
)

func TestPass(t *testing.T) {
	if Double(2) != 4 {
		t.Fatal("double")
	}
}

func TestFail(t *testing.T) {
	t.Errorf("wanted failure: %d", Double(1))
}

func TestSkip(t *testing.T) {
	t.Skip("wanted skip")
}

// TestSubtests fails through one subtest only.
func TestSubtests(t *testing.T) {
	t.Run("good", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Error("wanted subtest failure") })
}

// TestSubtestsPass: passing subtests count toward the parent only.
func TestSubtestsPass(t *testing.T) {
	for _, n := range []string{"a", "b"} {
		t.Run(n, func(t *testing.T) {
			if Double(1) != 2 {
				t.Error("double")
			}
		})
	}
}

// TestPanics panics when GATES_PANIC is set; the tests after it then
// never run.
func TestPanics(t *testing.T) {
	if os.Getenv("GATES_PANIC") != "" {
		var m map[string]int
		m["boom"] = 1
	}
	if Double(0) != 0 {
		t.Fatal("double")
	}
}

func TestAfterPanic(t *testing.T) {
	if Double(3) != 6 {
		t.Fatal("double")
	}
}

// TestHang never returns when GATES_HANG is set.
func TestHang(t *testing.T) {
	if os.Getenv("GATES_HANG") != "" {
		select {}
	}
	time.Sleep(time.Millisecond)
	if Double(1) != 2 {
		t.Fatal("double")
	}
}

// TestExit0 leaves the process early, which -test.paniconexit0 reports.
func TestExit0(t *testing.T) {
	if os.Getenv("GATES_EXIT") != "" {
		os.Exit(0)
	}
}
