package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

// templateFuncs are the functions docker offers in --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		// as docker's: no HTML escaping of <, >, &
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSuffix(buf.String(), "\n")
	},
	"join":     strings.Join,
	"split":    strings.Split,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"title":    func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": func(s string, n int) string { return s[:min(n, len(s))] },
	"println":  fmt.Sprintln,
}

// parseTemplate parses a user's --format string, naming it in errors.
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %v", err)
	}
	return t, nil
}

// renderList writes rows the way docker's list commands do:
//   - format "" or "table": defaultTable;
//   - "table TEMPLATE": a header row (headers maps field names to column
//     titles) then one row per item, aligned by a tabwriter;
//   - "json": one JSON object per line;
//   - any other template: one executed line per row.
func renderList(w io.Writer, format, defaultTable string, headers map[string]string, rows []any) error {
	if format == "" || format == "table" {
		format = defaultTable
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	table := false
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		table = true
		format = strings.TrimLeft(rest, " ")
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		if err := t.Execute(out, headers); err != nil {
			return fmt.Errorf("template: %v", err)
		}
		fmt.Fprintln(out)
	}
	for _, r := range rows {
		if err := t.Execute(out, r); err != nil {
			return fmt.Errorf("template: %v", err)
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// jsonForm is v decoded from its JSON into maps and slices, numbers kept
// as written (sizes print as 1985581, not 1.985581e+06).
func jsonForm(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return generic, nil
}

// renderInspect writes docker's inspect output: a JSON array indented by four
// spaces, or with a format one executed template per item.
func renderInspect(w io.Writer, format string, items []any) error {
	if format == "" {
		if items == nil {
			items = []any{}
		}
		b, err := json.MarshalIndent(items, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if format == "json" {
		format = "{{json .}}"
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	for _, it := range items {
		// As docker's CLI does: run the template on the typed object (so
		// that {{json .Config}} keeps docker's field order and times print
		// as Go times), and only if that fails (a field spelled as in the
		// JSON but not in the type, like {{.Id}} of an image) on the
		// object's JSON form.
		var typed any = it
		if tv, ok := it.(interface{ Template() any }); ok {
			typed = tv.Template()
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, typed); err != nil {
			generic, jerr := jsonForm(it)
			if jerr != nil {
				return jerr
			}
			buf.Reset()
			raw, cerr := t.Clone()
			if cerr != nil {
				return cerr
			}
			if err := raw.Option("missingkey=error").Execute(&buf, generic); err != nil {
				return fmt.Errorf("template parsing error: %v", err)
			}
		}
		buf.WriteByte('\n')
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
