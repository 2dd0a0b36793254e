package evidence

import (
	"context"
	"testing"
	"time"
)

func TestRunTests(t *testing.T) {
	m := cheatsModule(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		env    []string
		tests  []string
		want   []Verdict
		detail []string
	}{
		{
			name:   "pass fail skip missing",
			tests:  []string{"TestPass", "TestFail", "TestSkip", "TestNoSuchTest"},
			want:   []Verdict{Pass, Fail, Skip, Missing},
			detail: []string{"passed", "wanted failure", "wanted skip", "matched nothing"},
		},
		{
			name:   "subtests count toward their parent",
			tests:  []string{"TestSubtests", "TestSubtestsPass"},
			want:   []Verdict{Fail, Pass},
			detail: []string{"failed", "passed"},
		},
		{
			name:   "a panic fails its test and the ones that never ran",
			env:    []string{"GATES_PANIC=1"},
			tests:  []string{"TestPass", "TestPanics", "TestAfterPanic"},
			want:   []Verdict{Pass, Fail, Fail},
			detail: []string{"passed", "failed", "did not run"},
		},
		{
			name:   "os.Exit(0) in a test is not a pass",
			env:    []string{"GATES_EXIT=1"},
			tests:  []string{"TestExit0"},
			want:   []Verdict{Fail},
			detail: []string{""},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mm := *m
			mm.Env = c.env
			var refs []TestRef
			for _, n := range c.tests {
				refs = append(refs, TestRef{Pkg: "./gates", Name: n})
			}
			runs, err := mm.RunTests(ctx, refs)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 {
				t.Fatalf("%d runs, want 1 per package", len(runs))
			}
			run := runs[0]
			for i, r := range run.Results {
				if r.Name != c.tests[i] || r.Pkg != "./gates" {
					t.Errorf("result %d is %s %s", i, r.Pkg, r.Name)
				}
				if r.Verdict != c.want[i] {
					t.Errorf("%s: %s (%s), want %s\n%s", r.Name, r.Verdict, r.Detail, c.want[i], run.Exec.Log())
				}
				mustContain(t, r.Name+" detail", r.Detail, c.detail[i])
			}
			want := []string{"go", "test", "-json", "-count=1"}
			for i, a := range want {
				if run.Exec.Argv[i] != a {
					t.Fatalf("argv = %q, want prefix %q", run.Exec.Argv, want)
				}
			}
		})
	}
}

func TestRunTestsBuildFailure(t *testing.T) {
	m := cheatsModule(t)
	runs, err := m.RunTests(context.Background(), []TestRef{{Pkg: "./broken", Name: "TestValue"}, {Pkg: "./broken", Name: "TestOther"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs[0].Results {
		if r.Verdict != Fail {
			t.Errorf("%s: %s (%s), want fail on a build failure", r.Name, r.Verdict, r.Detail)
		}
		mustContain(t, "detail", r.Detail, "build failed")
	}
}

func TestRunTestsHangIsKilled(t *testing.T) {
	m := cheatsModule(t)
	m.Env = []string{"GATES_HANG=1"}
	m.Timeout = 4 * time.Second // go test's own -timeout fires first, at 3.6s
	start := time.Now()
	runs, err := m.RunTests(context.Background(), []TestRef{{Pkg: "./gates", Name: "TestPass"}, {Pkg: "./gates", Name: "TestHang"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s", d)
	}
	res := runs[0].Results
	t.Logf("TestHang: %s", res[1].Detail)
	if res[0].Verdict != Pass {
		t.Errorf("TestPass: %s (%s)", res[0].Verdict, res[0].Detail)
	}
	if res[1].Verdict != Fail {
		t.Errorf("TestHang: %s (%s), want fail\n%s", res[1].Verdict, res[1].Detail, runs[0].Exec.Log())
	}
}

func TestTestVResults(t *testing.T) {
	out := "\x16=== RUN   TestA\n" +
		"\x16=== RUN   TestA/sub\n" +
		"hello\n--- FAIL: TestFake (0.00s)\n" +
		"\x16--- PASS: TestA/sub (0.00s)\n" +
		"\x16=== NAME  TestA\n" +
		"\x16--- PASS: TestA (0.01s)\n" +
		"\x16=== RUN   TestB\n" +
		"    b_test.go:4: boom\n" +
		"\x16--- FAIL: TestB (0.00s)\n" +
		"\x16=== RUN   TestC\n" +
		"\x16--- SKIP: TestC (0.00s)\n" +
		"\x16=== RUN   TestD\n" +
		"\x16--- FAIL: TestD (0.00s)panic: assignment to entry in nil map\n" +
		"goroutine 1 [running]:\n"
	ex := &Exec{Stdout: []byte(out), ExitCode: 2}
	res := testVResults(ex, []string{"TestA", "TestB", "TestC", "TestD", "TestE"})
	want := []Verdict{Pass, Fail, Skip, Fail, Fail}
	for i, r := range res {
		if r.Verdict != want[i] {
			t.Errorf("%s: %s (%s), want %s", r.Name, r.Verdict, r.Detail, want[i])
		}
	}
	mustContain(t, "TestA output", res[0].Output, "--- FAIL: TestFake") // printed text, not a result
	mustContain(t, "TestB detail", res[1].Detail, "boom")
	mustContain(t, "TestD output", res[3].Output, "panic: assignment")
	if res[0].Elapsed != 10*time.Millisecond {
		t.Errorf("TestA elapsed %s", res[0].Elapsed)
	}
}
