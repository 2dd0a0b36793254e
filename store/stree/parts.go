package stree

import "strings"

// genParts emits every wildcard part as one of these two slices, and the
// matcher recognises wildcards by that identity rather than by content.
// A literal part trimmed during matching can shrink to a lone "*" or ">"
// (from a token such as "x*" or "b>"), and a literal part can start with
// '>' (a token such as ">y"); NATS allows both in published subjects.
// Upstream v2.14.5 compares content, so its filter "*.x*" also matches
// "a.xq", "*.>y.b" matches "a.>y", and ">y" misses the subject ">y".
var (
	pwcPart = []byte{pwc}
	fwcPart = []byte{fwc}
)

// isPWCPart reports whether part is the partial wildcard genParts emitted.
func isPWCPart(part []byte) bool {
	return len(part) == 1 && &part[0] == &pwcPart[0]
}

// isFWCPart reports whether part is the full wildcard genParts emitted.
func isFWCPart(part []byte) bool {
	return len(part) == 1 && &part[0] == &fwcPart[0]
}

// genParts splits a filter subject into parts for matching: runs of
// literal text, each wildcard token on its own ("*" or a terminal ">"),
// appended to parts and returned. Literal runs keep their separators, so
// "foo.*.bar.>" becomes "foo.", "*", "bar", ">". A '*' or '>' that is not a
// whole token stays literal, and a '>' that is not the last token makes the
// rest of the filter literal (so it can only match itself).
func genParts(filter []byte, parts [][]byte) [][]byte {
	start := 0
	last := len(filter) - 1
	for i := 0; i < len(filter); i++ {
		switch c := filter[i]; {
		case c == tsep:
			next := i + 1
			switch {
			case i < last && filter[next] == pwc && (next == last || next+1 <= last && filter[next+1] == tsep):
				// ".*" followed by a separator or the end.
				if i > start {
					parts = append(parts, filter[start:next])
				}
				parts = append(parts, pwcPart)
				i = next
				if i+2 <= last {
					i++ // the separator after '*' belongs to neither part
				}
				start = i + 1
			case i < last && filter[next] == fwc && next == last:
				// A terminal ".>".
				if i > start {
					parts = append(parts, filter[start:next])
				}
				parts = append(parts, fwcPart)
				i = next
				start = i + 1
			}
		case c == pwc || c == fwc:
			// Only a whole token is a wildcard: at the start or after a
			// separator, and at the end or before one.
			if i > 0 && filter[i-1] != tsep {
				continue
			}
			if next := i + 1; next == last || next < last && filter[next] != tsep {
				continue
			}
			if c == fwc && i < last {
				// '>' before the last token: no more wildcards.
				i = len(filter)
				continue
			}
			if c == pwc {
				parts = append(parts, pwcPart)
			} else {
				parts = append(parts, fwcPart)
			}
			if i+1 <= last {
				i++ // skip the separator that follows
			}
			start = i + 1
		}
	}
	if start < len(filter) {
		if filter[start] == tsep {
			start++
		}
		parts = append(parts, filter[start:])
	}
	return parts
}

// matchParts matches parts against frag, an inner node's prefix or a
// leaf's suffix. It reports whether they agree as far as frag goes, and
// returns the parts still to be matched below frag. A literal part that
// runs past the end of frag comes back trimmed by what frag consumed.
func matchParts(parts [][]byte, frag string) ([][]byte, bool) {
	fragLen := len(frag)
	if fragLen == 0 {
		return parts, true
	}

	fi := 0 // how much of frag has been consumed
	lastPart := len(parts) - 1
	for i, part := range parts {
		if fi >= fragLen {
			return parts[i:], true
		}
		partLen := len(part)
		switch {
		case isPWCPart(part):
			sep := strings.IndexByte(frag[fi:], tsep)
			if sep < 0 {
				// The token runs on past frag: the wildcard is
				// satisfied here if it is the last part, otherwise
				// it must keep matching in the children.
				if i == lastPart {
					return nil, true
				}
				return parts[i:], true
			}
			fi += sep + 1
			continue
		case isFWCPart(part):
			return nil, true
		}
		end := min(fi+partLen, fragLen)
		if fi+partLen > end {
			part = part[:end-fi] // frag ends inside this part
		}
		if string(part) != frag[fi:end] {
			return parts, false
		}
		if end < fragLen {
			// More frag to match after this part, which must be followed
			// by a wildcard part.
			fi = end
			continue
		}
		if end < fi+partLen {
			// frag ended inside the part. Hand back a copy of parts whose
			// first entry is the unconsumed remainder; the copy goes in the
			// spare capacity after parts, saving an allocation when the
			// caller left room.
			n := len(parts)
			parts = append(parts[n:], parts[:n]...)
			parts[i] = parts[i][fragLen-fi:]
			return parts[i:], true
		}
		if i == lastPart {
			return nil, true
		}
		fi += len(part)
	}
	return parts, false
}
