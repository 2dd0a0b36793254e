package evidence

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
)

// TextFinding is one line of a non-Go source that matches a stub pattern.
type TextFinding struct {
	File  string
	Line  int
	Match string
	Text  string // the whole line, trimmed
}

// CompileStubPatterns compiles a configured stub pattern such as
// `NotImplementedException|TODO|PLACEHOLDER` (the form a .NET port's plan
// uses). An empty pattern is an error: it would match everything.
func CompileStubPatterns(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, fmt.Errorf("evidence: empty stub pattern")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("evidence: stub pattern: %w", err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("evidence: stub pattern %q matches the empty string", pattern)
	}
	return re, nil
}

// ScanText is the stub scan for languages without a parser here: it
// reports the lines of path within [startLine, endLine] (1-based,
// inclusive; endLine <= 0 means to the end of the file) that match re.
func ScanText(path string, startLine, endLine int, re *regexp.Regexp) ([]TextFinding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return scanTextBytes(path, data, startLine, endLine, re), nil
}

func scanTextBytes(name string, data []byte, startLine, endLine int, re *regexp.Regexp) []TextFinding {
	var out []TextFinding
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), len(data)+1)
	for line := 1; sc.Scan(); line++ {
		if line < startLine {
			continue
		}
		if endLine > 0 && line > endLine {
			break
		}
		if m := re.Find(sc.Bytes()); m != nil {
			out = append(out, TextFinding{File: name, Line: line, Match: string(m), Text: string(bytes.TrimSpace(sc.Bytes()))})
		}
	}
	return out
}

// ReadLines returns lines [start, end] (1-based, inclusive) of a file: how
// the tracker hands an upstream declaration (file:start-end) to the stub
// scan.
func ReadLines(path string, start, end int) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("evidence: %w", err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if start < 1 || end < start || end > len(lines) {
		return "", fmt.Errorf("evidence: %s has no lines %d-%d", path, start, end)
	}
	return string(bytes.Join(lines[start-1:end], nil)), nil
}
