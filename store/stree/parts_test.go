package stree

import (
	"fmt"
	"testing"
)

// partsString renders parts for comparison, marking wildcard parts that
// genParts emitted as <*> and <>>, so literal "*" or ">" text stays apart.
func partsString(parts [][]byte) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		switch {
		case isPWCPart(p):
			out[i] = "<*>"
		case isFWCPart(p):
			out[i] = "<>>"
		default:
			out[i] = fmt.Sprintf("%q", p)
		}
	}
	return fmt.Sprint(out)
}

func TestMatchPartsEdgeCases(t *testing.T) {
	parts := genParts(b("foo.*.bar.>"), nil)
	require_Equal(t, partsString(parts), `["foo." <*> "bar." <>>]`)
	// "foo.test" consumes "foo." and the '*' token, leaving "bar" and '>'.
	rest, matched := matchParts(parts, "foo.test")
	require_True(t, matched)
	require_Equal(t, partsString(rest), `[<*> "bar." <>>]`)
	rest, matched = matchParts(parts, "foo.test.")
	require_True(t, matched)
	require_Equal(t, partsString(rest), `["bar." <>>]`)
}

func TestMatchPartsMoreEdgeCases(t *testing.T) {
	parts := genParts(b("foo.*"), nil)
	rest, matched := matchParts(parts, "")
	require_True(t, matched)
	require_Equal(t, len(rest), len(parts))
}

// Not upstream's. How filters break into parts, including the forms that
// are not wildcards.
func TestGenParts(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   string
	}{
		{"foo", `["foo"]`},
		{"foo.bar", `["foo.bar"]`},
		{"*", `[<*>]`},
		{">", `[<>>]`},
		{"foo.*", `["foo." <*>]`},
		{"foo.>", `["foo." <>>]`},
		{"*.foo", `[<*> "foo"]`},
		{"*.*.foo", `[<*> <*> "foo"]`},
		{"foo.*.bar.*.baz", `["foo." <*> "bar." <*> "baz"]`},
		{"foo.*.*.>", `["foo." <*> <*> <>>]`},
		{"*.>", `[<*> <>>]`},
		// Not whole tokens: literal text.
		{"foo.*bar", `["foo.*bar"]`},
		{"foo.bar*", `["foo.bar*"]`},
		{"foo.>bar", `["foo.>bar"]`},
		{"x*.y", `["x*.y"]`},
		// '>' that is not last makes the rest literal.
		{"foo.>.bar", `["foo.>.bar"]`},
		{">.foo", `[">.foo"]`},
		{"*.>.foo", `[<*> ">.foo"]`},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			require_Equal(t, partsString(genParts(b(tc.filter), nil)), tc.want)
		})
	}
}

// Not upstream's. matchParts against prefixes and suffixes.
func TestMatchParts(t *testing.T) {
	for _, tc := range []struct {
		filter  string
		frag    string
		matched bool
		rest    string
	}{
		{"foo.bar", "foo.bar", true, `[]`},
		{"foo.bar", "foo.", true, `["bar"]`},         // frag ends inside the part
		{"foo.bar", "foo.baz", false, `["foo.bar"]`}, // mismatch returns the parts as given
		{"foo.bar", "fox", false, `["foo.bar"]`},
		{"foo.*", "foo.ab", true, `[]`},          // a final '*' is satisfied by a partial token
		{"foo.*.x", "foo.ab", true, `[<*> "x"]`}, // an inner one must go on below
		{"foo.*.x", "foo.ab.x", true, `[]`},
		{"foo.>", "foo.a.b", true, `[]`},
		{"foo.>", "foo", true, `["." <>>]`},
		{"*", "", true, `[<*>]`},
	} {
		t.Run(tc.filter+"|"+tc.frag, func(t *testing.T) {
			rest, matched := matchParts(genParts(b(tc.filter), nil), tc.frag)
			require_Equal(t, matched, tc.matched)
			require_Equal(t, partsString(rest), tc.rest)
		})
	}
}

// matchParts must not write the trimmed part into the caller's slice when
// frag ends inside a part: the caller's parts are reused for siblings.
func TestMatchPartsLeavesCallerPartsIntact(t *testing.T) {
	parts := genParts(b("foo.bar.*"), make([][]byte, 0, 8))
	before := partsString(parts)
	rest, matched := matchParts(parts, "foo.b")
	require_True(t, matched)
	require_Equal(t, partsString(rest), `["ar." <*>]`)
	require_Equal(t, partsString(parts), before)
}

func TestWildcardPartIdentity(t *testing.T) {
	require_True(t, isPWCPart(pwcPart))
	require_True(t, isFWCPart(fwcPart))
	// Same content, different memory: literal text, not a wildcard.
	require_False(t, isPWCPart([]byte{pwc}))
	require_False(t, isFWCPart([]byte{fwc}))
	require_False(t, isPWCPart(fwcPart))
	require_False(t, isFWCPart(pwcPart))
	require_False(t, isPWCPart(nil))
	require_False(t, isFWCPart(nil))
}

// Upstream v2.14.5 told wildcards from literal text by content, so a
// literal token starting with '>' or ending in '*' or '>' could act as a
// wildcard: "*.x*" matched "a.xq", "*.>y.b" matched "a.>y", and ">y"
// missed ">y" when ">y.ab" was also stored. NATS allows such tokens in
// published subjects, and these filters count them for consumers.
func TestSubjectTreeMatchLiteralTokensWithWildcardBytes(t *testing.T) {
	for _, tc := range []struct {
		subjects []string
		filter   string
		want     []string
	}{
		{[]string{"a.x*", "a.xq"}, "*.x*", []string{"a.x*"}},
		{[]string{"x.b>", "x.bz"}, "*.b>", []string{"x.b>"}},
		{[]string{">y", ">y.ab"}, ">y", []string{">y"}},
		{[]string{"a.>y", "a.b"}, "*.>y.b", nil},
		{[]string{"a.>y.b", "a.b"}, "*.>y.b", []string{"a.>y.b"}},
		{[]string{"a.x*.c", "a.xq.c", "a.x"}, "a.x*.*", []string{"a.x*.c"}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			st := NewSubjectTree[int]()
			insertAll(t, st, tc.subjects...)
			var got []string
			st.Match(b(tc.filter), func(subject []byte, _ *int) { got = append(got, string(subject)) })
			require_Equal(t, fmt.Sprint(got), fmt.Sprint(tc.want))
		})
	}
}
