package inventory

import (
	"context"
	"strings"
	"testing"
)

const callsSrc = `package server

import (
	"strings"
	nc "example.com/nats.go"
)

type fileStore struct{ blks []*msgBlock; lmb *msgBlock }
type msgBlock struct{}
type consumerFileStore struct{ fs *fileStore }
type StreamStore interface{ State() int; Stop() }

func newFileStore() (*fileStore, error) { return &fileStore{}, nil }
func (fs *fileStore) State() int         { return 1 }
func (fs *fileStore) Stop()              { fs.lmb.compact() }
func (fs *fileStore) ConsumerStore() *consumerFileStore { return &consumerFileStore{fs: fs} }
func (mb *msgBlock) compact()            {}
func (mb *msgBlock) State() int          { return 2 }
func (o *consumerFileStore) State() int  { return 3 }
func (o *consumerFileStore) Stop()       { o.fs.Stop() }
func helper() int                        { return 0 }
`

const callsTestSrc = `package server

import "testing"

func TestTyped(t *testing.T) {
	fs, _ := newFileStore()
	fs.State()
	o := fs.ConsumerStore()
	o.Stop()
	for _, mb := range fs.blks {
		mb.compact()
	}
}

func TestInterface(t *testing.T) {
	var s StreamStore
	s.State()
}

func TestUnknownAndShadowed(t *testing.T) {
	x := mystery()
	x.State()
	helper := func() {}
	helper()
	c, _ := nc.Connect("url")
	c.Stop()
	strings.ToUpper("a")
}

func TestThroughHelper(t *testing.T) { setup(t) }

func setup(t *testing.T) { newFileStore() }
`

func TestCallGraphResolution(t *testing.T) {
	root := writeTree(t, map[string]string{"server/s.go": callsSrc, "server/s_test.go": strings.Replace(callsTestSrc,
		`import "testing"`, "import (\n\t\"strings\"\n\t\"testing\"\n\n\tnc \"example.com/nats.go\"\n)", 1)})
	g, err := BuildCallGraph(context.Background(), root, []string{"server"})
	if err != nil {
		t.Fatal(err)
	}
	calls := func(name string) (string, *Func) {
		for _, f := range g.Funcs {
			if f.Name == name && f.Receiver == "" {
				var out []string
				for _, c := range f.Calls {
					out = append(out, c.String())
				}
				return strings.Join(out, " "), f
			}
		}
		t.Fatalf("%s not in the graph", name)
		return "", nil
	}
	tests := []struct {
		name, fn, want string
	}{
		{"typed locals, results, range over a field", "TestTyped",
			"newFileStore (*fileStore).State (*fileStore).ConsumerStore (*msgBlock).compact (*consumerFileStore).Stop"},
		{"interface: types with every interface method", "TestInterface", "(*fileStore).State (*consumerFileStore).State"},
		{"unknown type matches by name; locals and imports do not", "TestUnknownAndShadowed",
			"(*fileStore).State (*msgBlock).State (*consumerFileStore).State"},
		{"test helpers are nodes too", "TestThroughHelper", "setup"},
		{"field chain", "Stop", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fn == "Stop" {
				f := g.Lookup("server/s.go", 15)
				if f == nil || f.String() != "(*fileStore).Stop" || len(f.Calls) != 1 || f.Calls[0].String() != "(*msgBlock).compact" {
					t.Fatalf("(*fileStore).Stop at s.go:15 should call (*msgBlock).compact via fs.lmb, got %+v", f)
				}
				return
			}
			got, _ := calls(tc.fn)
			// Calls are sorted by location; compare as sets.
			if !sameWords(got, tc.want) {
				t.Errorf("%s calls %q, want %q", tc.fn, got, tc.want)
			}
		})
	}
	_, f := calls("TestUnknownAndShadowed")
	if strings.Join(f.External, ",") != "nc.Connect,strings.ToUpper" {
		t.Errorf("external calls %v, want nc.Connect and strings.ToUpper", f.External)
	}
	if _, f := calls("TestInterface"); !f.Test || strings.Join(f.TypeRefs, ",") != "StreamStore" {
		t.Errorf("TestInterface: test=%v typerefs %v", f.Test, f.TypeRefs)
	}
}

func sameWords(a, b string) bool {
	set := map[string]int{}
	for _, w := range strings.Fields(a) {
		set[w]++
	}
	for _, w := range strings.Fields(b) {
		set[w]--
	}
	for _, n := range set {
		if n != 0 {
			return false
		}
	}
	return true
}
