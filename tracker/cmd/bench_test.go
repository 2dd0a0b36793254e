package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker/internal/seed"
)

// The benchmark database is the size: 100,000 features, 200,000
// tests, 200 batches. It is generated once per test process.
var (
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

func benchDB(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		// PORTTRACKER_BENCH_DB reuses a database generated earlier (it is
		// created there when missing), to iterate on benchmarks quickly.
		if p := os.Getenv("PORTTRACKER_BENCH_DB"); p != "" {
			benchPath = p
			if _, err := os.Stat(p); err == nil {
				return
			}
			benchErr = seed.Generate(benchPath, seed.Large{Features: 100_000, Tests: 200_000, Batches: 200})
			return
		}
		dir, err := os.MkdirTemp("", "porttracker-bench-")
		if err != nil {
			benchErr = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		benchPath = filepath.Join(dir, "porting.db")
		start := time.Now()
		benchErr = seed.Generate(benchPath, seed.Large{Features: 100_000, Tests: 200_000, Batches: 200})
		fmt.Fprintf(os.Stderr, "generated %s in %v\n", benchPath, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

// cleanups run after all tests and benchmarks (TestMain).
var cleanups []func()

// benchCommand runs one porttracker command per iteration, in process. It
// reports wall time and the process's CPU time per command: on a shared
// machine the wall time includes waiting for a core, the CPU time does not.
func benchCommand(b *testing.B, args func(i int) []string) {
	path := benchDB(b)
	cpuBefore := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := run(b, append(args(i), "--db", path)...)
		if r.code != 0 {
			b.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	b.StopTimer()
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perOp.Microseconds())/1000, "ms/op")
	b.ReportMetric(float64((processCPU()-cpuBefore)/time.Duration(b.N))/1e6, "cpu-ms/op")
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Target: <= 20 ms.
func BenchmarkFeatureShow(b *testing.B) {
	benchCommand(b, func(i int) []string { return []string{"feature", "show", fmt.Sprint(1 + (i*7919)%100_000)} })
}

// Target: <= 20 ms. A batch holds 450 features and 900 tests.
func BenchmarkBatchShow(b *testing.B) {
	benchCommand(b, func(i int) []string { return []string{"batch", "show", fmt.Sprint(1 + i%200)} })
}

// Target: <= 20 ms.
func BenchmarkFeatureListBatch(b *testing.B) {
	benchCommand(b, func(i int) []string { return []string{"feature", "list", "--batch", fmt.Sprint(1 + i%200)} })
}

// Target: <= 20 ms. Each run moves 15 features (with 15 audit rows),
// alternating between n_a and deferred, with a reason unique to this run so
// that a reused database never turns the update into a no-op.
func BenchmarkBatchUpdateExecute15(b *testing.B) {
	nonce := time.Now().UnixNano()
	benchCommand(b, func(i int) []string {
		status := "n_a"
		if i%2 == 1 {
			status = "deferred"
		}
		first := 1 + (i%100)*15
		return []string{"feature", "batch-update", "--ids", fmt.Sprintf("%d-%d", first, first+14),
			"--set-status", status, "--reason", fmt.Sprintf("bench %d/%d", nonce, i), "--execute"}
	})
}

// Target: <= 300 ms.
func BenchmarkReportSummary(b *testing.B) {
	benchCommand(b, func(int) []string { return []string{"report", "summary"} })
}

// Target: <= 300 ms.
func BenchmarkReportGenerate(b *testing.B) {
	benchCommand(b, func(int) []string { return []string{"report", "generate"} })
}

// Target: <= 60 ms for a whole process. The test binary stands in for
// porttracker (it runs the same Run), so this includes process start,
// opening the database and printing.
func BenchmarkProcessFeatureShow(b *testing.B) {
	path := benchDB(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := childCommand(roleCLI, nil, "feature", "show", fmt.Sprint(1+(i*7919)%100_000), "--db", path)
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((b.Elapsed()/time.Duration(b.N)).Microseconds())/1000, "ms/op")
}
