package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker/iostreams"
)

// addJSONFlag is the one helper that gives a read command --json. The JSON
// shape of each command is fixed by its export struct's tags, and
// TestJSONFields pins every command's field list so scripts don't break
// silently.
func addJSONFlag(cmd *cobra.Command, enabled *bool) {
	cmd.Flags().BoolVar(enabled, "json", false, "print JSON instead of text")
}

// writeJSON prints v as indented JSON with a trailing newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table prints rows as a bordered table on a terminal and as tab-separated
// lines without a header when piped, which is stable and easy to cut/awk.
type table struct {
	ios    *iostreams.IOStreams
	header []string
	rows   [][]string
}

func newTable(ios *iostreams.IOStreams, header ...string) *table {
	return &table{ios: ios, header: header}
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render() error {
	if !t.ios.IsStdoutTTY() {
		var b strings.Builder
		for _, r := range t.rows {
			b.WriteString(strings.Join(r, "\t"))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(t.ios.Out, b.String())
		return err
	}
	if len(t.rows) == 0 {
		return nil
	}
	tbl := tablewriter.NewTable(t.ios.Out, tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft), tablewriter.WithRowAutoWrap(tw.WrapNone))
	header := make([]any, len(t.header))
	for i, h := range t.header {
		header[i] = h
	}
	tbl.Header(header...)
	for _, r := range t.rows {
		if err := tbl.Append(r); err != nil {
			return err
		}
	}
	return tbl.Render()
}

// section prints "key: value" lines; the layout is the same on a terminal
// and in a pipe because it is already easy to read and to grep.
func section(w io.Writer, title string, pairs ...string) {
	if title != "" {
		fmt.Fprintln(w, title)
	}
	width := 0
	for i := 0; i+1 < len(pairs); i += 2 {
		width = max(width, len(pairs[i]))
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(w, "  %-*s  %s\n", width+1, pairs[i]+":", pairs[i+1])
	}
}
