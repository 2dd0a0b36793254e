package iostreams

import (
	"fmt"
	"os"
	"testing"
)

func TestTestStreams(t *testing.T) {
	ios, _, out, errOut := Test()
	if ios.IsStdoutTTY() {
		t.Fatal("Test streams claim to be a TTY")
	}
	fmt.Fprint(ios.Out, "hello")
	fmt.Fprint(ios.ErrOut, "oops")
	if out.String() != "hello" || errOut.String() != "oops" {
		t.Fatalf("buffers = %q, %q", out, errOut)
	}
	ios.SetStdoutTTY(true)
	if !ios.IsStdoutTTY() {
		t.Fatal("SetStdoutTTY(true) ignored")
	}
}

func TestSystemOnAFileIsNotATTY(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("a regular file reported as a terminal")
	}
	if System().Out != os.Stdout {
		t.Fatal("System does not wrap os.Stdout")
	}
}
