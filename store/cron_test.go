package store

import (
	"strings"
	"testing"
	"time"
)

func TestParseCron(t *testing.T) {
	base := time.Date(2024, time.March, 15, 10, 30, 15, 500, time.UTC) // a Friday
	ny, err := time.LoadLocation("America/New_York")
	require_NoError(t, err)
	for _, tc := range []struct {
		name    string
		pattern string
		loc     *time.Location
		want    time.Time
	}{
		{"every-second", "* * * * * *", nil, time.Date(2024, 3, 15, 10, 30, 16, 0, time.UTC)},
		{"top-of-minute", "0 * * * * *", nil, time.Date(2024, 3, 15, 10, 31, 0, 0, time.UTC)},
		{"step", "*/20 * * * * *", nil, time.Date(2024, 3, 15, 10, 30, 20, 0, time.UTC)},
		{"start-step", "5/20 * * * * *", nil, time.Date(2024, 3, 15, 10, 30, 25, 0, time.UTC)},
		{"range-list", "0 0 8-9,12 * * *", nil, time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)},
		{"next-day", "0 0 9 * * *", nil, time.Date(2024, 3, 16, 9, 0, 0, 0, time.UTC)},
		{"month-name", "0 0 0 1 jun *", nil, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"weekday-name", "0 0 0 * * MON", nil, time.Date(2024, 3, 18, 0, 0, 0, 0, time.UTC)},
		{"dom-or-dow", "0 0 0 20 * sat", nil, time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC)},
		{"question-mark", "0 0 0 ? * sun", nil, time.Date(2024, 3, 17, 0, 0, 0, 0, time.UTC)},
		{"leap-day", "0 0 0 29 2 *", nil, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"year-wrap", "0 0 0 1 1 *", nil, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"time-zone", "0 0 9 * * *", ny, time.Date(2024, 3, 15, 9, 0, 0, 0, ny)}, // 06:30 there
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCron(tc.pattern, tc.loc, base.UnixNano())
			require_NoError(t, err)
			if !got.Equal(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"* * * * *", "requires 6 fields"},
		{"60 * * * * *", "above maximum"},
		{"* * * 0 * *", "below minimum"},
		{"* 5-2 * * * *", "beyond end"},
		{"*/0 * * * * *", "positive number"},
		{"1-2-3 * * * * *", "too many hyphens"},
		{"1/2/3 * * * * *", "too many slashes"},
		{"x * * * * *", "failed to parse int"},
		{"-1 * * * * *", "failed to parse int"},
		{"* * 1-x * * *", "failed to parse int"},
		{"* * * * * 1/y", "failed to parse int"},
		{"* * * 30 2 *", "exceeds maximum range"},
		{"* * * * foo *", "failed to parse int"},
		{"* * * * * bar", "failed to parse int"},
		{"* * 25 * * *", "above maximum"},
		{"* 61 * * * *", "above maximum"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			_, err := parseCron(tc.pattern, nil, time.Now().UnixNano())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCronFieldHelpers(t *testing.T) {
	bits, err := getField("1,3-5,,10/25", seconds)
	require_NoError(t, err)
	require_Equal(t, bits, uint64(1<<1|1<<3|1<<4|1<<5|1<<10|1<<35))
	star, err := getRange("*", dow)
	require_NoError(t, err)
	require_Equal(t, star, getBits(0, 6, 1)|starBit)
	// A step over a star is no longer "any".
	stepped, err := getRange("*/2", dow)
	require_NoError(t, err)
	require_Equal(t, stepped, uint64(1|1<<2|1<<4|1<<6))
	n, err := parseIntOrName("Dec", months.names)
	require_NoError(t, err)
	require_Equal(t, n, 12)
	n, err = mustParseInt("42")
	require_NoError(t, err)
	require_Equal(t, n, 42)
	_, err = mustParseInt("-3")
	require_True(t, err != nil && strings.Contains(err.Error(), "negative number"))
	require_Equal(t, getBits(2, 4, 1), uint64(0b11100))
	require_Equal(t, getBits(0, 9, 3), uint64(1|1<<3|1<<6|1<<9))

	fri := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)
	dom15 := uint64(1 << 15)
	domStar := getBits(1, 31, 1) | starBit
	dowMon := uint64(1 << time.Monday)
	dowStar := getBits(0, 6, 1) | starBit
	require_True(t, dayMatches(dom15, dowMon, fri))    // either
	require_False(t, dayMatches(1<<16, dowMon, fri))   // neither
	require_False(t, dayMatches(domStar, dowMon, fri)) // a star: both must match
	require_True(t, dayMatches(dom15, dowStar, fri))   // both match
	require_False(t, dayMatches(1<<16, dowStar, fri))
}
