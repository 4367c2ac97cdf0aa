package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// print writes v as -o asks: JSON, YAML, or the table that table writes.
func (r *runner) print(v any, table func(w io.Writer)) error {
	switch r.o.Output {
	case OutputJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		_, err = fmt.Fprintf(r.out, "%s\n", b)
		return err
	case OutputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = r.out.Write(b)
		return err
	default:
		table(r.out)
		return nil
	}
}

// newTable is an aligned table (kubectl's spacing) with the given header.
func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	row(tw, header...)
	return tw
}

// row writes one table row; empty cells print as "-" (tabs in values as
// spaces, so they cannot break the alignment).
func row(tw *tabwriter.Writer, cells ...string) {
	out := make([]string, len(cells))
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		out[i] = strings.ReplaceAll(c, "\t", " ")
	}
	fmt.Fprintln(tw, strings.Join(out, "\t"))
}
