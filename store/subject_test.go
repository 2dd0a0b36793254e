package store

import (
	"slices"
	"strings"
	"testing"
)

// checkSubjectBool fails when a subject predicate gives the wrong answer.
func checkSubjectBool(t *testing.T, name string, got, want bool) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", name, got, want)
	}
}

func TestSublistValidLiteralSubjects(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{"foo", true},
		{".foo", false},
		{"foo.", false},
		{"foo..bar", false},
		{"foo.bar.*", false},
		{"foo.bar.>", false},
		{"*", false},
		{">", false},
		// Wildcard characters inside longer tokens are literals.
		{"foo*", true},
		{"foo**", true},
		{"foo.**", true},
		{"foo*bar", true},
		{"foo.*bar", true},
		{"foo*.bar", true},
		{"*bar", true},
		{"foo>", true},
		{"foo>>", true},
		{"foo.>>", true},
		{"foo>bar", true},
		{"foo.>bar", true},
		{"foo>.bar", true},
		{">bar", true},
	} {
		checkSubjectBool(t, tc.subject, IsValidLiteralSubject(tc.subject), tc.want)
	}
}

func TestSublistValidSubjects(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{"", false},
		{".", false},
		{".foo", false},
		{"foo.", false},
		{"foo..bar", false},
		{">.bar", false},
		{"foo.>.bar", false},
		{"foo", true},
		{"foo.bar.*", true},
		{"foo.bar.>", true},
		{"*", true},
		{">", true},
		{"foo*", true},
		{"foo**", true},
		{"foo.**", true},
		{"foo*bar", true},
		{"foo.*bar", true},
		{"foo*.bar", true},
		{"*bar", true},
		{"foo>", true},
		{"foo.>>", true},
		{"foo>bar", true},
		{"foo.>bar", true},
		{"foo>.bar", true},
		{">bar", true},
	} {
		checkSubjectBool(t, tc.subject, IsValidSubject(tc.subject), tc.want)
	}
	// Embedded NUL bytes are only rejected when runes are checked.
	withNul := "foo.bar.baz." + "\x00"
	checkSubjectBool(t, "nul checked", isValidSubject(withNul, true), false)
}

func TestIsValidSubjectWhitespaceAndRunes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		subject    string
		checkRunes bool
		want       bool
	}{
		{"space token", "foo. .bar", false, false},
		{"tab token", "foo.\t", false, false},
		{"newline token", "\n.foo", false, false},
		{"cr token", "a.\r", false, false},
		{"formfeed token", "a.\f", false, false},
		{"space inside token", "foo.b ar", false, false},
		{"tab inside token", "fo\to", false, false},
		{"nul unchecked", "foo.\x00", false, true},
		{"nul checked", "foo.\x00", true, false},
		{"invalid utf8 unchecked", "foo.\xff", false, true},
		{"invalid utf8 checked", "foo.\xff", true, false},
		{"valid utf8 checked", "foo.bär", true, true},
		{"plain checked", "foo.bar.>", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSubjectBool(t, tc.subject, isValidSubject(tc.subject, tc.checkRunes), tc.want)
		})
	}
}

// referenceValidSubject restates isValidSubject's token rules for ASCII
// subjects: tokens non-empty, none of the five whitespace bytes, NUL only
// when runes are not checked, and ">" only as the last token.
func referenceValidSubject(subject string, checkRunes bool) bool {
	if subject == "" || strings.ContainsAny(subject, " \t\n\r\f") || (checkRunes && strings.IndexByte(subject, 0) >= 0) {
		return false
	}
	toks := strings.Split(subject, ".")
	for i, tok := range toks {
		if tok == "" || (tok == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}

// TestIsValidASCIISubjectDecidesLikeTokenRules pins the one-pass ASCII
// check used by recovery: it must decide every ASCII subject, agree with the
// token rules on all short strings over an alphabet of the bytes that
// matter, and leave non-ASCII subjects to the rune-checking walk.
func TestIsValidASCIISubjectDecidesLikeTokenRules(t *testing.T) {
	alphabet := []byte{'a', '.', '>', '*', ' ', '\t', 0, 'b'}
	var walk func(prefix []byte)
	checked := 0
	walk = func(prefix []byte) {
		if len(prefix) > 0 {
			subject := string(prefix)
			for _, checkRunes := range []bool{false, true} {
				valid, decided := isValidASCIISubject(subject, checkRunes)
				if !decided {
					t.Fatalf("%q (checkRunes %v): not decided", subject, checkRunes)
				}
				if want := referenceValidSubject(subject, checkRunes); valid != want || isValidSubject(subject, checkRunes) != want {
					t.Fatalf("%q (checkRunes %v): got %v, want %v", subject, checkRunes, valid, want)
				}
				checked++
			}
		}
		if len(prefix) == 5 {
			return
		}
		for _, c := range alphabet {
			walk(append(prefix, c))
		}
	}
	walk(nil)
	if checked == 0 {
		t.Fatal("no subjects checked")
	}
	for _, subject := range []string{"foo.bär", "foo.\xff", "\xc3"} {
		if _, decided := isValidASCIISubject(subject, true); decided {
			t.Errorf("%q: decided without the rune checks", subject)
		}
	}
}

func TestIsValidPublishSubject(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{"foo.bar", true},
		{"foo*.bar", true},
		{"foo.*", false},
		{"foo.>", false},
		{"foo..bar", false},
		{"", false},
		{"foo. ", false},
	} {
		checkSubjectBool(t, tc.subject, IsValidPublishSubject(tc.subject), tc.want)
	}
}

func TestIsValidLiteralSubjectTokens(t *testing.T) {
	checkSubjectBool(t, "literal tokens", isValidLiteralSubject(slices.Values([]string{"foo", "bar"})), true)
	checkSubjectBool(t, "pwc token", isValidLiteralSubject(slices.Values([]string{"foo", "*"})), false)
	checkSubjectBool(t, "fwc token", isValidLiteralSubject(slices.Values([]string{">"})), false)
	checkSubjectBool(t, "empty token", isValidLiteralSubject(slices.Values([]string{"a", ""})), false)
	checkSubjectBool(t, "split", isValidLiteralSubject(strings.SplitSeq("a.b.c", tsep)), true)
}

func TestSublistMatchLiterals(t *testing.T) {
	for _, tc := range []struct {
		literal, subject string
		want             bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"foo", "*", true},
		{"foo", ">", true},
		{"foo.bar", ">", true},
		{"foo.bar", "foo.>", true},
		{"foo.bar", "bar.>", false},
		{"stats.test.22", "stats.>", true},
		{"stats.test.22", "stats.*.*", true},
		{"foo.bar", "foo", false},
		{"stats.test.foos", "stats.test.foos", true},
		{"stats.test.foos", "stats.test.foo", false},
		{"stats.test", "stats.test.*", false},
		{"stats.test.foos", "stats.*", false},
		{"stats.test.foos", "stats.*.*.foos", false},
		// Wildcard characters that are not tokens of their own are literals.
		{"*bar", "*bar", true},
		{"foo*", "foo*", true},
		{"foo*bar", "foo*bar", true},
		{"foo.***.bar", "foo.***.bar", true},
		{">bar", ">bar", true},
		{"foo>", "foo>", true},
		{"foo>bar", "foo>bar", true},
		{"foo.>>>.bar", "foo.>>>.bar", true},
	} {
		checkSubjectBool(t, tc.literal+" ~ "+tc.subject, matchLiteral(tc.literal, tc.subject), tc.want)
	}
}

func TestMatchLiteralEdges(t *testing.T) {
	for _, tc := range []struct {
		literal, subject string
		want             bool
	}{
		{"foo", "*.bar", false},      // literal ends inside the "*" token
		{"foo.bar", "*.bar", true},   // leading "*" token
		{"foo.bar", "*.baz", false},  // mismatch after the "*" token
		{"foo", "foo.*", false},      // subject longer than literal
		{"a.b.c", "a.*.c", true},     // middle "*" token
		{"a.b.c", "a.>", true},       // trailing ">"
		{"a", "a.>", false},          // ">" needs at least one token
		{"", "", true},               // both empty
		{"a", "", false},             // literal left over
		{"foo.bar", "foo.b*", false}, // "*" inside a token is a literal
	} {
		checkSubjectBool(t, tc.literal+" ~ "+tc.subject, matchLiteral(tc.literal, tc.subject), tc.want)
	}
}

func TestSubjectIsLiteral(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{"foo", true},
		{"foo.bar", true},
		{"foo*.bar", true},
		{"*", false},
		{">", false},
		{"foo.*", false},
		{"foo.>", false},
		{"foo.*.>", false},
		{"foo.*.bar", false},
		{"foo.bar.>", false},
	} {
		checkSubjectBool(t, tc.subject, subjectIsLiteral(tc.subject), tc.want)
	}
}

func TestSubjectHasWildcard(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    bool
	}{
		{"foo", false},
		{"foo*.bar", false},
		{"*bar", false},
		{"bar>", false},
		{"*", true},
		{">", true},
		{"foo.*", true},
		{"*.foo", true},
		{"foo.*.bar", true},
		{"foo.>", true},
		{"föö.*", true},
	} {
		checkSubjectBool(t, tc.subject, subjectHasWildcard(tc.subject), tc.want)
	}
}

func TestSubjectToken(t *testing.T) {
	for _, tc := range []struct {
		index uint8
		want  string
	}{
		{0, ""},
		{1, "foo"},
		{2, "bar"},
		{3, "baz"},
		{4, "*"},
		{5, ""},
	} {
		if got := tokenAt("foo.bar.baz.*", tc.index); got != tc.want {
			t.Fatalf("tokenAt(%d): got %q, want %q", tc.index, got, tc.want)
		}
	}
	if got := tokenAt("single", 1); got != "single" {
		t.Fatalf("got %q", got)
	}
}

func TestNumTokens(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    int
	}{
		{"", 0},
		{"foo", 1},
		{"foo.bar", 2},
		{"foo.bar.>", 3},
		{".", 2},
		{"a..b", 3},
	} {
		if got := numTokens(tc.subject); got != tc.want {
			t.Fatalf("numTokens(%q): got %d, want %d", tc.subject, got, tc.want)
		}
	}
}

func TestTokenizeSubjectIntoSlice(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    []string
	}{
		{"foo", []string{"foo"}},
		{"foo.bar.>", []string{"foo", "bar", ">"}},
		{"", []string{""}},
		{"a..b.", []string{"a", "", "b", ""}},
	} {
		got := tokenizeSubjectIntoSlice(nil, tc.subject)
		if !slices.Equal(got, tc.want) {
			t.Fatalf("tokenize(%q): got %q, want %q", tc.subject, got, tc.want)
		}
	}
	// It appends, like append.
	got := tokenizeSubjectIntoSlice([]string{"x"}, "a.b")
	if !slices.Equal(got, []string{"x", "a", "b"}) {
		t.Fatalf("got %q", got)
	}
}

func TestAnalyzeTokens(t *testing.T) {
	for _, tc := range []struct {
		subject  string
		pwc, fwc bool
	}{
		{"foo.bar", false, false},
		{"foo.*", true, false},
		{"foo.>", false, true},
		{"*.>", true, true},
		{"foo*.>x", false, false},
		{"a..b", false, false},
	} {
		hasPWC, hasFWC := analyzeTokens(tokenizeSubjectIntoSlice(nil, tc.subject))
		if hasPWC != tc.pwc || hasFWC != tc.fwc {
			t.Fatalf("analyzeTokens(%q): got %v %v, want %v %v", tc.subject, hasPWC, hasFWC, tc.pwc, tc.fwc)
		}
	}
}

func TestTokensCanMatch(t *testing.T) {
	for _, tc := range []struct {
		t1, t2 string
		want   bool
	}{
		{"foo", "foo", true},
		{"foo", "bar", false},
		{"*", "bar", true},
		{"foo", "*", true},
		{">", "bar", true},
		{"foo", ">", true},
		{"", "foo", false},
		{"foo", "", false},
	} {
		checkSubjectBool(t, tc.t1+" vs "+tc.t2, tokensCanMatch(tc.t1, tc.t2), tc.want)
	}
}

func TestIsSubsetMatch(t *testing.T) {
	for _, tc := range []struct {
		subject, test string
		want          bool
	}{
		{"foo.bar", "foo.bar", true},
		{"foo.*", ">", true},
		{"foo.*", "*.*", true},
		{"foo.*", "foo.*", true},
		{"foo.*", "foo.bar", false},
		{"foo.>", ">", true},
		{"foo.>", "*.>", true},
		{"foo.>", "foo.>", true},
		{"foo.>", "foo.bar", false},
		{"foo..bar", "foo.*", false}, // bad subject
		{"foo.*", "foo..bar", false}, // bad test
	} {
		t.Run(tc.subject+" in "+tc.test, func(t *testing.T) {
			checkSubjectBool(t, tc.subject+" in "+tc.test, subjectIsSubsetMatch(tc.subject, tc.test), tc.want)
		})
	}
}

func TestIsSubsetMatchTokenizedEdges(t *testing.T) {
	for _, tc := range []struct {
		subject, test string
		want          bool
	}{
		{"foo", "foo.bar", false}, // subject shorter than test
		{"foo.bar.baz", "foo.bar", false},
		{"foo.bar", "foo.*", true},
		{"*.bar", "foo.bar", false}, // a wildcard is not covered by a literal
		{"*.bar", "*.bar", true},
		{">", "*", false}, // ">" is never covered by less than ">"
		{">", ">", true},
		{"foo.bar", "*bar.bar", true}, // upstream treats a token starting with '*' as a wildcard here
	} {
		toks := tokenizeSubjectIntoSlice(nil, tc.subject)
		checkSubjectBool(t, tc.subject+" in "+tc.test, isSubsetMatch(toks, tc.test), tc.want)
		checkSubjectBool(t, tc.subject+" in "+tc.test+" (tokenized)",
			isSubsetMatchTokenized(toks, tokenizeSubjectIntoSlice(nil, tc.test)), tc.want)
	}
}

func TestSubjectMatchesFilter(t *testing.T) {
	for _, tc := range []struct {
		subject, filter string
		want            bool
	}{
		{"orders.new", "orders.*", true},
		{"orders.new", "orders.>", true},
		{"orders.new.eu", "orders.*", false},
		{"orders.new", "payments.*", false},
		{"orders.*", ">", true},
	} {
		checkSubjectBool(t, tc.subject+" ~ "+tc.filter, SubjectMatchesFilter(tc.subject, tc.filter), tc.want)
	}
}

func TestSublistSubjectCollide(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"foo.*", "foo.*.bar.>", false},
		{"foo.*.bar.>", "foo.*", false},
		{"foo.*", "foo.foo", true},
		{"foo.*", "*.foo", true},
		{"foo.bar.>", "*.bar.foo", true},
	} {
		checkSubjectBool(t, tc.a+" x "+tc.b, SubjectsCollide(tc.a, tc.b), tc.want)
	}
}

func TestSubjectsCollideCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		want bool
	}{
		{"same", "a.b", "a.b", true},
		{"different literals", "a.b", "a.c", false},
		{"literal in wildcard", "a.b", "a.*", true},
		{"wildcard over literal", "a.>", "a.b.c", true},
		{"literal outside wildcard", "b.c", "a.*", false},
		{"partials different lengths", "a.*", "*.b.c", false},
		{"fwc reaches longer", "a.>", "*.b.c", true},
		{"fwc on longer side only", "*.*.>", "a.b", false},
		{"tokens disagree", "a.*.c", "b.*.c", false},
		{"both fwc", ">", "foo.>", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSubjectBool(t, tc.a+" x "+tc.b, SubjectsCollide(tc.a, tc.b), tc.want)
			checkSubjectBool(t, tc.b+" x "+tc.a, SubjectsCollide(tc.b, tc.a), tc.want)
		})
	}
}

func TestSubjectConstants(t *testing.T) {
	// The wildcard and separator bytes are part of the subject syntax.
	if pwc != '*' || pwcs != "*" || fwc != '>' || fwcs != ">" || tsep != "." || btsep != '.' {
		t.Fatalf("subject syntax constants changed")
	}
}

func Benchmark________________SublistMatchLiteral(b *testing.B) {
	literal := "foo.foo.foo.foo.foo.foo.foo.foo.foo.foo"
	// Every pattern matches the literal: progressively more wildcards.
	var patterns []string
	toks := strings.Split(literal, tsep)
	for i := len(toks); i >= 1; i-- {
		patterns = append(patterns, strings.Join(append(slices.Clone(toks[:i-1]), fwcs), tsep))
	}
	for i := len(toks); i >= 0; i-- {
		p := slices.Clone(toks)
		for j := i; j < len(p); j++ {
			p[j] = pwcs
		}
		patterns = append(patterns, strings.Join(p, tsep))
	}
	for b.Loop() {
		for _, p := range patterns {
			if !matchLiteral(literal, p) {
				b.Fatalf("%q should match %q", p, literal)
			}
		}
	}
}

func Benchmark______________IsValidLiteralSubject(b *testing.B) {
	for b.Loop() {
		if !IsValidLiteralSubject("foo.bar.baz.22") {
			b.Fatal("literal rejected")
		}
	}
}

func Benchmark___________________subjectIsLiteral(b *testing.B) {
	for b.Loop() {
		if !subjectIsLiteral("foo.bar.baz.22") {
			b.Fatal("literal rejected")
		}
	}
}
