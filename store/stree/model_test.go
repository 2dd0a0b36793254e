package stree

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tokens chosen to share prefixes, run numeric (node10), and carry the
// awkward bytes: NULs, and '*' or '>' inside literal tokens.
var modelTokens = []string{
	"a", "b", "ab", "aab", "aaa", "ba", "foo", "foo1", "1", "12", "123", "2", "7",
	"x*", "xq", "b>", "bz", ">y", "*b", "\x00", "\x00\x00", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
}

func randomSubject(rng *rand.Rand, tokens []string) string {
	parts := make([]string, rng.IntN(5)+1)
	for i := range parts {
		parts[i] = tokens[rng.IntN(len(tokens))]
	}
	return strings.Join(parts, ".")
}

func randomFilter(rng *rand.Rand) string {
	parts := make([]string, rng.IntN(5)+1)
	for i := range parts {
		switch rng.IntN(4) {
		case 0:
			parts[i] = "*"
		default:
			parts[i] = modelTokens[rng.IntN(len(modelTokens))]
		}
	}
	if rng.IntN(3) == 0 {
		parts = append(parts, ">")
	}
	return strings.Join(parts, ".")
}

// checkAgainstModel compares every read path of st with model.
func checkAgainstModel(t *testing.T, st *SubjectTree[int], model map[string]int, filters []string) {
	t.Helper()
	require_Equal(t, st.Size(), len(model))
	keys := make([]string, 0, len(model))
	for k, v := range model {
		keys = append(keys, k)
		requireFind(t, st, k, v)
	}
	slices.Sort(keys)

	var ordered []string
	st.IterOrdered(func(subject []byte, v *int) bool {
		require_Equal(t, *v, model[string(subject)])
		ordered = append(ordered, string(subject))
		return true
	})
	if !slices.Equal(ordered, keys) {
		t.Fatalf("IterOrdered gave %q, want %q", ordered, keys)
	}
	var fast []string
	st.IterFast(func(subject []byte, _ *int) bool {
		fast = append(fast, string(subject))
		return true
	})
	slices.Sort(fast)
	if !slices.Equal(fast, keys) {
		t.Fatalf("IterFast gave %q, want %q", fast, keys)
	}

	for _, f := range filters {
		var want []string
		for _, k := range keys {
			if literalMatches(f, k) {
				want = append(want, k)
			}
		}
		var got []string
		st.Match(b(f), func(subject []byte, v *int) {
			require_Equal(t, *v, model[string(subject)])
			got = append(got, string(subject))
		})
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("Match(%q) gave %q, want %q", f, got, want)
		}
	}
}

// Not upstream's. A long random mix of inserts, updates and deletes,
// checked against a map and a reference matcher as it goes.
func TestSubjectTreeRandomOpsAgainstMap(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for round := range 20 {
		st := NewSubjectTree[int]()
		model := map[string]int{}
		for op := range 300 {
			s := randomSubject(rng, modelTokens)
			switch rng.IntN(10) {
			case 0, 1, 2, 3, 4:
				old, updated := st.Insert(b(s), op)
				prev, had := model[s]
				require_Equal(t, updated, had)
				if had {
					require_Equal(t, *old, prev)
				}
				model[s] = op
			case 5, 6, 7:
				// Delete mostly what is there.
				if len(model) > 0 && rng.IntN(4) > 0 {
					for k := range model {
						s = k
						break
					}
				}
				v, deleted := st.Delete(b(s))
				prev, had := model[s]
				require_Equal(t, deleted, had)
				if had {
					require_Equal(t, *v, prev)
				}
				delete(model, s)
			default:
				v, found := st.Find(b(s))
				prev, had := model[s]
				require_Equal(t, found, had)
				if had {
					require_Equal(t, *v, prev)
				}
			}
			require_Equal(t, st.Size(), len(model))
			if op%25 == 0 {
				filters := make([]string, 8)
				for i := range filters {
					filters[i] = randomFilter(rng)
				}
				checkAgainstModel(t, st, model, filters)
			}
		}
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
}

// validLiteral reports whether s is a subject the store would hold: no
// empty tokens, no whole-token wildcards, no DEL byte.
func validLiteral(s string) bool {
	if s == "" || strings.IndexByte(s, noPivot) >= 0 {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return false
		}
	}
	return true
}

// validFilter reports whether f is a well-formed filter.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	tokens := strings.Split(f, ".")
	for i, tok := range tokens {
		if tok == "" || (tok == ">" && i != len(tokens)-1) {
			return false
		}
	}
	return true
}

// FuzzSubjectTreeMatch: subjects (newline separated) and a filter; Match
// must agree with the reference matcher.
func FuzzSubjectTreeMatch(f *testing.F) {
	f.Add([]byte("foo.bar.A\nfoo.bar.B\nfoo.baz.A\nfoo.bar"), "foo.*.A")
	f.Add([]byte("a.x*\na.xq"), "*.x*")
	f.Add([]byte(">y\n>y.ab"), ">y")
	f.Add([]byte("STATE.GLOBAL.CELL1.7PDSGAALXNN000010.PROPERTY-A\nSTATE.GLOBAL.CELL1.7PDSGAALXNN000010.PROPERTY-B"), "STATE.GLOBAL.CELL1.7PDSGAALXNN000010.*")
	f.Add([]byte("foo.xxxxx.foo1234.zz\nfoo.yyy.foo123.zz\nfoo.yyybar789.zz\nfoo.yyy.foo123456789.zz"), "foo.*.foo123456789.*")
	f.Add([]byte("a.1\na.12\na.123\nb"), "*.>")
	f.Fuzz(func(t *testing.T, raw []byte, filter string) {
		if !validFilter(filter) {
			return
		}
		st := NewSubjectTree[int]()
		model := map[string]int{}
		for i, line := range bytes.Split(raw, []byte("\n")) {
			if !validLiteral(string(line)) {
				continue
			}
			st.Insert(line, i)
			model[string(line)] = i
		}
		checkAgainstModel(t, st, model, []string{filter})
	})
}

// FuzzSubjectTreeInsertDelete: lines starting with '-' delete, others
// insert; the tree must agree with a map after every operation.
func FuzzSubjectTreeInsertDelete(f *testing.F) {
	f.Add([]byte("foo.bar\nfoo.bar.baz\n-foo.bar\nfoo.baz"))
	f.Add([]byte("a\naa\naaa\n-aa\n-a\naaaa"))
	f.Add([]byte("a1.aaaaaaaaaaaaaaaaaaaaaa0\na2.0\na1.aaaaaaaaaaaaaaaaaaaaaa1\na2.1\n-a2.0\n-a2.1"))
	f.Add([]byte("foo.bar.baz_\x00\x00\nfoo.bar.baz_\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, script []byte) {
		st := NewSubjectTree[int]()
		model := map[string]int{}
		for i, line := range bytes.Split(script, []byte("\n")) {
			if del := bytes.HasPrefix(line, []byte("-")); del {
				s := string(line[1:])
				v, deleted := st.Delete(line[1:])
				prev, had := model[s]
				if deleted != had || (had && *v != prev) {
					t.Fatalf("Delete(%q) = %v, want %v", s, deleted, had)
				}
				delete(model, s)
				continue
			}
			if len(line) == 0 || bytes.IndexByte(line, noPivot) >= 0 {
				continue
			}
			st.Insert(line, i)
			model[string(line)] = i
			require_Equal(t, st.Size(), len(model))
		}
		checkAgainstModel(t, st, model, nil)
	})
}
