package store

import (
	"bytes"
	"iter"
	"strings"
	"unicode/utf8"
)

// Subjects are tokens separated by dots. A token that is exactly "*" matches
// any one token; a last token that is exactly ">" matches one or more. A
// wildcard character inside a longer token ("foo*") is a literal.
const (
	pwc   = '*'
	pwcs  = "*"
	fwc   = '>'
	fwcs  = ">"
	tsep  = "."
	btsep = '.'
)

// isWildcardAt reports whether subject[i], a '*' or '>', is a token of its own.
func isWildcardAt(subject string, i int) bool {
	return (i == 0 || subject[i-1] == btsep) && (i+1 == len(subject) || subject[i+1] == btsep)
}

// subjectHasWildcard reports whether any token is a wildcard. It does not
// validate the subject.
func subjectHasWildcard(subject string) bool {
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; (c == pwc || c == fwc) && isWildcardAt(subject, i) {
			return true
		}
	}
	return false
}

// subjectIsLiteral reports whether no token is a wildcard. It does not
// validate the subject.
func subjectIsLiteral(subject string) bool {
	return !subjectHasWildcard(subject)
}

// IsValidPublishSubject reports whether subject is valid and has no wildcards.
func IsValidPublishSubject(subject string) bool {
	return IsValidSubject(subject) && subjectIsLiteral(subject)
}

// IsValidSubject reports whether subject is valid: no empty tokens, no
// whitespace in tokens, and ">" only as the last token.
func IsValidSubject(subject string) bool {
	return isValidSubject(subject, false)
}

// isValidSubject is IsValidSubject; with checkRunes it also rejects NUL bytes
// and invalid UTF-8, which signal corrupt data.
func isValidSubject(subject string, checkRunes bool) bool {
	if subject == _EMPTY_ {
		return false
	}
	// One pass decides an ASCII subject (recovery checks every record's);
	// anything else takes the token walk below.
	if valid, decided := isValidASCIISubject(subject, checkRunes); decided {
		return valid
	}
	if checkRunes {
		if bytes.IndexByte(stringToBytes(subject), 0) >= 0 {
			return false
		}
		// Invalid bytes decode as RuneError; so does a literal U+FFFD, which
		// upstream rejects as well.
		for _, r := range subject {
			if r == utf8.RuneError {
				return false
			}
		}
	}
	sawFullWildcard := false
	for t := range strings.SplitSeq(subject, tsep) {
		if len(t) == 0 || sawFullWildcard {
			return false
		}
		if len(t) > 1 {
			if strings.ContainsAny(t, "\t\n\f\r ") {
				return false
			}
			continue
		}
		switch t[0] {
		case fwc:
			sawFullWildcard = true
		case ' ', '\t', '\n', '\r', '\f':
			return false
		}
	}
	return true
}

// isValidASCIISubject applies isValidSubject's rules to a non-empty subject
// in one pass over its bytes. decided is false when the subject has a
// non-ASCII byte, which needs the rune checks.
func isValidASCIISubject(subject string, checkRunes bool) (valid, decided bool) {
	tokenStart := 0
	sawFullWildcard := false
	for i := 0; i < len(subject); i++ {
		switch c := subject[i]; c {
		case btsep:
			if i == tokenStart || sawFullWildcard {
				return false, true
			}
			tokenStart = i + 1
		case ' ', '\t', '\n', '\r', '\f':
			return false, true
		case 0:
			if checkRunes {
				return false, true
			}
		case fwc:
			if i == tokenStart && (i+1 == len(subject) || subject[i+1] == btsep) {
				sawFullWildcard = true
			}
		default:
			if c >= utf8.RuneSelf {
				return false, false
			}
		}
	}
	return tokenStart < len(subject), true
}

// IsValidLiteralSubject reports whether subject has no empty tokens and no
// wildcard tokens. Whitespace is not checked, as upstream.
func IsValidLiteralSubject(subject string) bool {
	return isValidLiteralSubject(strings.SplitSeq(subject, tsep))
}

// isValidLiteralSubject is IsValidLiteralSubject over already split tokens.
func isValidLiteralSubject(tokens iter.Seq[string]) bool {
	for t := range tokens {
		if len(t) == 0 {
			return false
		}
		if len(t) == 1 && (t[0] == pwc || t[0] == fwc) {
			return false
		}
	}
	return true
}

// analyzeTokens reports whether the tokens contain "*" and ">" tokens.
func analyzeTokens(tokens []string) (hasPWC, hasFWC bool) {
	for _, t := range tokens {
		if len(t) != 1 {
			continue
		}
		switch t[0] {
		case pwc:
			hasPWC = true
		case fwc:
			hasFWC = true
		}
	}
	return hasPWC, hasFWC
}

// tokensCanMatch reports whether two tokens could match the same literal
// token: equal, or either starts with a wildcard character. An empty token
// matches nothing.
func tokensCanMatch(t1, t2 string) bool {
	if len(t1) == 0 || len(t2) == 0 {
		return false
	}
	c1, c2 := t1[0], t2[0]
	if c1 == pwc || c2 == pwc || c1 == fwc || c2 == fwc {
		return true
	}
	return t1 == t2
}

// SubjectsCollide reports whether some literal subject matches both subj1 and subj2.
func SubjectsCollide(subj1, subj2 string) bool {
	if subj1 == subj2 {
		return true
	}
	var arr1, arr2 [32]string
	toks1 := tokenizeSubjectIntoSlice(arr1[:0], subj1)
	toks2 := tokenizeSubjectIntoSlice(arr2[:0], subj2)
	pwc1, fwc1 := analyzeTokens(toks1)
	pwc2, fwc2 := analyzeTokens(toks2)
	literal1, literal2 := !pwc1 && !fwc1, !pwc2 && !fwc2
	switch {
	case literal1 && literal2:
		return false // equal literals returned above
	case literal1:
		return isSubsetMatchTokenized(toks1, toks2)
	case literal2:
		return isSubsetMatchTokenized(toks2, toks1)
	}
	// Both have wildcards. Without ">" the shorter subject can not reach the
	// longer one's extra tokens.
	n1, n2 := len(toks1), len(toks2)
	if (n1 < n2 && !fwc1) || (n2 < n1 && !fwc2) {
		return false
	}
	for i := range min(n1, n2) {
		if !tokensCanMatch(toks1[i], toks2[i]) {
			return false
		}
	}
	return true
}

// numTokens returns the number of tokens in subject; zero when it is empty.
func numTokens(subject string) int {
	if len(subject) == 0 {
		return 0
	}
	return strings.Count(subject, tsep) + 1
}

// tokenAt returns the index-th token of subject, counting from 1, or "" if
// there is no such token.
func tokenAt(subject string, index uint8) string {
	current, start := uint8(1), 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == btsep {
			if current == index {
				return subject[start:i]
			}
			start = i + 1
			current++
		}
	}
	if current == index {
		return subject[start:]
	}
	return _EMPTY_
}

// tokenizeSubjectIntoSlice appends the tokens of subject to tts and returns
// the result, like append.
func tokenizeSubjectIntoSlice(tts []string, subject string) []string {
	start := 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == btsep {
			tts = append(tts, subject[start:i])
			start = i + 1
		}
	}
	return append(tts, subject[start:])
}

// SubjectMatchesFilter reports whether subject (which may have wildcards) is
// covered by filter.
func SubjectMatchesFilter(subject, filter string) bool {
	return subjectIsSubsetMatch(subject, filter)
}

// subjectIsSubsetMatch reports whether every subject matched by subject is
// also matched by test.
func subjectIsSubsetMatch(subject, test string) bool {
	var arr [32]string
	return isSubsetMatch(tokenizeSubjectIntoSlice(arr[:0], subject), test)
}

// isSubsetMatch is subjectIsSubsetMatch with the subject already tokenized.
func isSubsetMatch(tokens []string, test string) bool {
	var arr [32]string
	return isSubsetMatchTokenized(tokens, tokenizeSubjectIntoSlice(arr[:0], test))
}

// isSubsetMatchTokenized reports whether the subject given as tokens is a
// subset of test: "foo.*" is a subset of ">", "*.*" and "foo.*" but not of
// "foo.bar". Empty tokens on either side never match.
func isSubsetMatchTokenized(tokens, test []string) bool {
	for i, t2 := range test {
		if i >= len(tokens) {
			return false
		}
		if len(t2) == 0 {
			return false
		}
		if len(t2) == 1 && t2[0] == fwc {
			return true
		}
		t1 := tokens[i]
		if len(t1) == 0 || (len(t1) == 1 && t1[0] == fwc) {
			return false
		}
		if len(t1) == 1 && t1[0] == pwc {
			// A wildcard in the subject is only covered by one in the test.
			if len(t2) != 1 || t2[0] != pwc {
				return false
			}
			continue
		}
		// Upstream compares a test token starting with '*' as a wildcard,
		// even when it is longer ("*bar"); kept for identical results.
		if t2[0] != pwc && t1 != t2 {
			return false
		}
	}
	return len(tokens) == len(test)
}

// matchLiteral reports whether the literal subject is matched by subject,
// which may contain wildcards. Used on hot paths, so it walks both strings
// once without tokenizing.
func matchLiteral(literal, subject string) bool {
	li, ll, ls := 0, len(literal), len(subject)
	for i := 0; i < ls; i++ {
		if li >= ll {
			return false
		}
		switch subject[i] {
		case pwc:
			if i == 0 || subject[i-1] == btsep {
				if i == ls-1 {
					// A trailing "*" matches the rest of the literal if it
					// holds no more separators.
					for ; li < ll; li++ {
						if literal[li] == btsep {
							return false
						}
					}
					return true
				}
				if subject[i+1] == btsep {
					// Skip one literal token; the separators are compared below.
					for li < ll && literal[li] != btsep {
						li++
					}
					if li >= ll {
						return false
					}
					i++
				}
			}
		case fwc:
			if (i == 0 || subject[i-1] == btsep) && i == ls-1 {
				return true
			}
		}
		if subject[i] != literal[li] {
			return false
		}
		li++
	}
	return li >= ll
}
