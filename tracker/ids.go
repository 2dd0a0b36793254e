package tracker

import (
	"strconv"
	"strings"
)

// maxParsedIDs bounds what ParseIDs will expand, so a typo such as "1-999999999"
// fails fast instead of allocating gigabytes. Policy limits (max_batch_ids) are
// far smaller and are checked by the caller.
const maxParsedIDs = 100_000

// ParseIDs parses an ID list such as "1,2,5-9" into IDs in the order given.
// Every element must be a positive integer or an ascending range; empty
// elements ("1,,2"), reversed ranges ("9-3") and duplicates are usage errors,
// because guessing what the user meant could update the wrong items.
func ParseIDs(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, Usagef("empty ID list")
	}
	var ids []int64
	seen := make(map[int64]bool)
	add := func(id int64) error {
		if seen[id] {
			return Usagef("invalid ID list %q: ID %d listed twice", s, id)
		}
		if len(ids) >= maxParsedIDs {
			return Usagef("invalid ID list %q: more than %d IDs", s, maxParsedIDs)
		}
		seen[id] = true
		ids = append(ids, id)
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, Usagef("invalid ID list %q: empty element", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			id, err := parseID(s, part)
			if err != nil {
				return nil, err
			}
			if err := add(id); err != nil {
				return nil, err
			}
			continue
		}
		first, err := parseID(s, strings.TrimSpace(lo))
		if err != nil {
			return nil, err
		}
		last, err := parseID(s, strings.TrimSpace(hi))
		if err != nil {
			return nil, err
		}
		if last < first {
			return nil, Usagef("invalid ID list %q: range %q runs backwards", s, part)
		}
		if last-first >= maxParsedIDs {
			return nil, Usagef("invalid ID list %q: range %q is too large", s, part)
		}
		for id := first; id <= last; id++ {
			if err := add(id); err != nil {
				return nil, err
			}
		}
	}
	return ids, nil
}

func parseID(list, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, Usagef("invalid ID list %q: %q is not a positive integer ID", list, s)
	}
	return id, nil
}

// ParseID parses a single positive integer ID (a command argument).
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, Usagef("invalid ID %q: want a positive integer", s)
	}
	return id, nil
}

// FormatIDs renders IDs compactly, collapsing runs into ranges ("1-3,7").
// The input must be sorted ascending for runs to collapse.
func FormatIDs(ids []int64) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(ids[i], 10))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(ids[j], 10))
		}
		i = j + 1
	}
	return b.String()
}
