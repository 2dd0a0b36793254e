package evidence

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// JUnit reports are how non-Go ports (dotnet test, pytest, surefire) hand
// their test results to the test gate.

type junitSuites struct {
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name   string       `xml:"name,attr"`
	Cases  []junitCase  `xml:"testcase"`
	Suites []junitSuite `xml:"testsuite"` // nested suites exist in the wild
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failures  []junitDetail `xml:"failure"`
	Errors    []junitDetail `xml:"error"`
	Skipped   *junitDetail  `xml:"skipped"`
	SystemOut string        `xml:"system-out"`
	SystemErr string        `xml:"system-err"`
}

type junitDetail struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// ReadJUnit parses a JUnit XML report (a <testsuites> or a single
// <testsuite> root). Each test case becomes a TestResult named
// "classname.name" (or just name without a class); a case with a failure or
// an error fails, one with <skipped> skips.
func ReadJUnit(r io.Reader) ([]TestResult, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("evidence: read junit: %w", err)
	}
	var root struct {
		XMLName xml.Name
		junitSuite
		Suites []junitSuite `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("evidence: parse junit: %w", err)
	}
	var suites []junitSuite
	switch root.XMLName.Local {
	case "testsuites":
		suites = root.Suites
	case "testsuite":
		suites = []junitSuite{root.junitSuite}
	default:
		return nil, fmt.Errorf("evidence: parse junit: root element <%s>, want <testsuites> or <testsuite>", root.XMLName.Local)
	}
	var out []TestResult
	var walk func(s junitSuite)
	walk = func(s junitSuite) {
		for _, c := range s.Cases {
			out = append(out, junitResult(c))
		}
		for _, sub := range s.Suites {
			walk(sub)
		}
	}
	for _, s := range suites {
		walk(s)
	}
	return out, nil
}

func junitResult(c junitCase) TestResult {
	name := c.Name
	if c.ClassName != "" {
		name = c.ClassName + "." + c.Name
	}
	res := TestResult{Name: name, Verdict: Pass, Detail: "passed"}
	if secs, err := strconv.ParseFloat(strings.TrimSpace(c.Time), 64); err == nil {
		res.Elapsed = time.Duration(secs * float64(time.Second))
	}
	var out strings.Builder
	problems := append(append([]junitDetail(nil), c.Failures...), c.Errors...)
	for _, p := range problems {
		fmt.Fprintf(&out, "%s %s\n%s\n", p.Type, p.Message, strings.TrimSpace(p.Text))
	}
	out.WriteString(c.SystemOut)
	out.WriteString(c.SystemErr)
	res.Output = out.String()
	switch {
	case len(c.Failures) > 0:
		res.Verdict, res.Detail = Fail, "failed: "+firstLine(c.Failures[0].Message, c.Failures[0].Text)
	case len(c.Errors) > 0:
		res.Verdict, res.Detail = Fail, "error: "+firstLine(c.Errors[0].Message, c.Errors[0].Text)
	case c.Skipped != nil:
		res.Verdict, res.Detail = Skip, "skipped"
		if c.Skipped.Message != "" {
			res.Detail += ": " + c.Skipped.Message
		}
	}
	return res
}

func firstLine(ss ...string) string {
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		line, _, _ := strings.Cut(s, "\n")
		return line
	}
	return "(no message)"
}

// MatchResults picks the results of the requested tests out of a report,
// in request order. A requested test with no result is Missing; if a name
// appears more than once, any failure wins over a skip over a pass.
func MatchResults(results []TestResult, requested []string) []TestResult {
	byName := map[string]TestResult{}
	for _, r := range results {
		prev, seen := byName[r.Name]
		if !seen || verdictRank(r.Verdict) > verdictRank(prev.Verdict) {
			byName[r.Name] = r
		}
	}
	out := make([]TestResult, len(requested))
	for i, name := range requested {
		r, ok := byName[name]
		if !ok {
			r = TestResult{Name: name, Verdict: Missing, Detail: "no result for this test in the report"}
		}
		out[i] = r
	}
	return out
}

func verdictRank(v Verdict) int {
	switch v {
	case Pass:
		return 0
	case Skip:
		return 1
	case Missing:
		return 2
	}
	return 3
}
