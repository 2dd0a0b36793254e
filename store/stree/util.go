package stree

// Subject syntax bytes, fixed by the NATS subject format.
const (
	pwc  = '*' // partial wildcard: exactly one token
	fwc  = '>' // full wildcard: one or more trailing tokens
	tsep = '.' // token separator
)

// commonPrefixLen returns how many leading bytes s1 and s2 share.
func commonPrefixLen(s1, s2 []byte) int {
	limit := min(len(s1), len(s2))
	i := 0
	for i < limit && s1[i] == s2[i] {
		i++
	}
	return i
}

// position is any integer type a subject offset is held in.
type position interface{ int | uint16 }

// noPivot keys the child whose path ends exactly at its parent's prefix.
// It is DEL (127), a byte that never occurs in a subject: Insert refuses
// subjects containing it. (A zero key was used once, and subjects holding
// NUL bytes then recursed forever.)
const noPivot = byte(127)

// pivot returns the byte at pos that selects a child, or noPivot when the
// subject ends before pos.
func pivot[N position](subject []byte, pos N) byte {
	if int(pos) >= len(subject) {
		return noPivot
	}
	return subject[pos]
}
