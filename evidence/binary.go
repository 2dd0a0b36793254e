package evidence

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// compileTest builds pkg's test binary into out: go test -c -o out.
func (m *Module) compileTest(ctx context.Context, pkg, out string, extra ...string) *Exec {
	args := []string{"test", "-c", "-o", out}
	args = append(args, m.testBuildFlags(pkg)...)
	args = append(args, extra...)
	args = append(args, CleanPkg(pkg))
	return run(ctx, m.goCommand(args...))
}

// runBinary runs a compiled test binary in its package directory, where go
// test would run it (tests find their testdata relative to it).
func (m *Module) runBinary(ctx context.Context, bin, pkg string, env []string, timeout time.Duration, args ...string) *Exec {
	return m.runBinaryWatched(ctx, bin, pkg, env, timeout, nil, args...)
}

// runBinaryWatched is runBinary with each test of a -test.v=test2json run
// also bounded by its own budget (see testWatch).
func (m *Module) runBinaryWatched(ctx context.Context, bin, pkg string, env []string, timeout time.Duration, watch *testWatch, args ...string) *Exec {
	return run(ctx, command{
		argv:    append([]string{bin}, args...),
		dir:     m.PkgDir(pkg),
		env:     append(append([]string(nil), m.Env...), env...),
		timeout: timeout,
		watch:   watch,
	})
}

// binaryName is a file name for pkg's test binary.
func binaryName(pkg, suffix string) string {
	name := strings.Trim(strings.ReplaceAll(CleanPkg(pkg), "/", "_"), "._")
	if name == "" {
		name = "root"
	}
	return name + suffix + ".test"
}

// parallel runs fn(i) for i in [0, n) on at most jobs goroutines.
func parallel(ctx context.Context, n, jobs int, fn func(i int)) {
	if jobs < 1 {
		jobs = 1
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// tempDir makes a scratch directory for binaries and profiles.
func tempDir(prefix string) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return abs, func() { os.RemoveAll(abs) }, nil
}
