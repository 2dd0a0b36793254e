// Package evidence runs the gates that make a porting status mean something.
//
// A status in porting.db is a claim ("this function is ported", "this test
// passes"). This package checks such claims against the code itself, with the
// go command and go/ast, and returns verdicts with the full log of what it ran:
//
//	build   go build + go vet of the target packages
//	stub    go/ast over each target symbol: missing, empty, panic-only,
//	        zero-value or constant returns, TODO/FIXME markers; for tests:
//	        no reachable assertion, unconditional t.Skip
//	test    go test -json -count=1 -run '^(A|B)$', parsed per test
//	gut     every target body becomes a zero-value return (through -overlay,
//	        never touching the tree); at least one linked test must fail
//	links   per-test coverage: which target functions each test executes
//
// Every command is an argv (never a shell string) with a timeout; a command
// that hangs is killed with its whole process group.
//
// The package knows nothing of cobra or of the tracker's database: callers
// (tracker/gates) turn the results into evidence rows. Record is the shape
// those rows take, Fingerprint says which sources a verdict saw, so a verdict
// taken on other sources is stale.
package evidence
