package store

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Cron patterns for message schedules: six space-separated fields,
//
//	second minute hour day-of-month month day-of-week
//
// each a comma-separated list of ranges "a", "a-b", "*" or "?" with an
// optional "/step" ("a/step" runs from a to the field's maximum). Months
// and weekdays also take three-letter English names. As in classic cron,
// when both day fields are restricted a day matching either fires. (The
// semantics are those of robfig/cron, which upstream follows.)

// cronSearchYears bounds how far ahead parseCron looks for a match.
const cronSearchYears = 5

// parseCron returns the first time after ts (at whole seconds, in loc;
// UTC when nil) that pattern matches.
func parseCron(pattern string, loc *time.Location, ts int64) (time.Time, error) {
	fields := strings.Fields(pattern)
	if len(fields) != 6 {
		return time.Time{}, fmt.Errorf("pattern requires 6 fields, got %d", len(fields))
	}
	if loc == nil {
		loc = time.UTC
	}
	var sets [6]uint64
	for i, b := range []bounds{seconds, minutes, hours, dom, months, dow} {
		var err error
		if sets[i], err = getField(fields[i], b); err != nil {
			return time.Time{}, err
		}
	}
	second, minute, hour, dayOfMonth, month, dayOfWeek := sets[0], sets[1], sets[2], sets[3], sets[4], sets[5]

	// Walk forward from the next whole second, a field at a time from the
	// largest. A field that does not match advances (its smaller fields
	// reset to their start the first time); a wrap into the next larger
	// unit starts the walk over, since that field may no longer match.
	t := time.Unix(0, ts).In(loc).Truncate(time.Second).Add(time.Second)
	reset := false
	limit := t.Year() + cronSearchYears
	for {
		if t.Year() > limit {
			return time.Time{}, errors.New("pattern exceeds maximum range")
		}
		wrapped := false
		for !wrapped && 1<<uint(t.Month())&month == 0 {
			if !reset {
				reset = true
				t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
			}
			t = t.AddDate(0, 1, 0)
			wrapped = t.Month() == time.January
		}
		for !wrapped && !dayMatches(dayOfMonth, dayOfWeek, t) {
			if !reset {
				reset = true
				t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
			}
			t = t.AddDate(0, 0, 1)
			wrapped = t.Day() == 1
		}
		for !wrapped && 1<<uint(t.Hour())&hour == 0 {
			if !reset {
				reset = true
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
			}
			t = t.Add(time.Hour)
			wrapped = t.Hour() == 0
		}
		for !wrapped && 1<<uint(t.Minute())&minute == 0 {
			if !reset {
				reset = true
				t = t.Truncate(time.Minute)
			}
			t = t.Add(time.Minute)
			wrapped = t.Minute() == 0
		}
		for !wrapped && 1<<uint(t.Second())&second == 0 {
			if !reset {
				reset = true
				t = t.Truncate(time.Second)
			}
			t = t.Add(time.Second)
			wrapped = t.Second() == 0
		}
		if !wrapped {
			return t, nil
		}
	}
}

// getField returns the set (bit i for value i) a field denotes.
func getField(field string, r bounds) (uint64, error) {
	var bits uint64
	for _, expr := range strings.Split(field, ",") {
		if expr == "" {
			continue
		}
		b, err := getRange(expr, r)
		if err != nil {
			return bits, err
		}
		bits |= b
	}
	return bits, nil
}

// getRange returns the set one range expression denotes: "*" or "?", a
// value, or "a-b", each optionally with "/step". A bare "*" also sets
// starBit, which dayMatches needs.
func getRange(expr string, r bounds) (uint64, error) {
	rangePart, stepPart, hasStep := strings.Cut(expr, "/")
	if hasStep && strings.Contains(stepPart, "/") {
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	lowHigh := strings.Split(rangePart, "-")
	var start, end, step uint = 0, 0, 1
	var extra uint64
	var err error
	if lowHigh[0] == "*" || lowHigh[0] == "?" {
		start, end, extra = r.min, r.max, starBit
	} else {
		if start, err = parseIntOrName(lowHigh[0], r.names); err != nil {
			return 0, err
		}
		switch len(lowHigh) {
		case 1:
			end = start
		case 2:
			if end, err = parseIntOrName(lowHigh[1], r.names); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	if hasStep {
		if step, err = mustParseInt(stepPart); err != nil {
			return 0, err
		}
		if len(lowHigh) == 1 {
			end = r.max
		}
		if step > 1 {
			extra = 0
		}
	}
	switch {
	case start < r.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, r.min, expr)
	case end > r.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, r.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	return getBits(start, end, step) | extra, nil
}

// parseIntOrName parses a number, or a name of the field (any case).
func parseIntOrName(expr string, names map[string]uint) (uint, error) {
	if v, ok := names[strings.ToLower(expr)]; ok {
		return v, nil
	}
	return mustParseInt(expr)
}

// mustParseInt parses a non-negative decimal number.
func mustParseInt(expr string) (uint, error) {
	n, err := strconv.Atoi(expr)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", expr, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, expr)
	}
	return uint(n), nil
}

// getBits sets bits lo, lo+step, ... up to hi.
func getBits(lo, hi, step uint) uint64 {
	if step == 1 {
		return ^(math.MaxUint64 << (hi + 1)) & (math.MaxUint64 << lo)
	}
	var bits uint64
	for i := lo; i <= hi; i += step {
		bits |= 1 << i
	}
	return bits
}

// bounds is the range of a cron field and the names it accepts.
type bounds struct {
	min, max uint
	names    map[string]uint
}

// The cron fields.
var (
	seconds = bounds{0, 59, nil}
	minutes = bounds{0, 59, nil}
	hours   = bounds{0, 23, nil}
	dom     = bounds{1, 31, nil}
	months  = bounds{1, 12, map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dow = bounds{0, 6, map[string]uint{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

// starBit marks a field given as "*": such a day field does not restrict.
const starBit = 1 << 63

// dayMatches reports whether t's day fits the day-of-month and day-of-week
// sets: both when either is "*", else either.
func dayMatches(dayOfMonth, dayOfWeek uint64, t time.Time) bool {
	domMatch := 1<<uint(t.Day())&dayOfMonth != 0
	dowMatch := 1<<uint(t.Weekday())&dayOfWeek != 0
	if dayOfMonth&starBit != 0 || dayOfWeek&starBit != 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}
