package experiments

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats a plan can be written in.
var Formats = []string{"table", "json", "yaml"}

// Write renders plans: table (per experiment: fault, domain, prediction,
// schedule, selector or route, and targets), json ({plans}, every
// experiment with its selector or route), yaml (each plan, then the
// Schedule each stack applies, then the VirtualService each route fault
// applies for its run).
func Write(w io.Writer, format string, plans []*Plan) error {
	switch format {
	case "table":
		return writeTable(w, plans)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"plans": plans})
	case "yaml":
		for i, p := range plans {
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			docs := []any{p}
			if s := p.Schedule(); s != nil {
				docs = append(docs, s)
			}
			for _, vs := range p.VirtualServices() {
				docs = append(docs, vs)
			}
			for j, d := range docs {
				out, err := yaml.Marshal(d)
				if err != nil {
					return err
				}
				if j > 0 {
					fmt.Fprintln(w, "---")
				}
				if _, err := w.Write(out); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return fmt.Errorf("unknown format %q; want one of %s", format, strings.Join(Formats, ", "))
}

func writeTable(w io.Writer, plans []*Plan) error {
	for _, p := range plans {
		scheduled := 0
		for _, e := range p.Experiments {
			if e.Scheduled {
				scheduled++
			}
		}
		state := "disabled"
		if p.Config.Enabled {
			state = fmt.Sprintf("%q%s", p.Config.Schedule, map[bool]string{true: ", business hours only", false: ""}[p.Config.BusinessHoursOnly])
		}
		fmt.Fprintf(w, "== %s (env %s): %d experiments, %d scheduled (%s)\n", p.Source, p.Env, len(p.Experiments), scheduled, state)
		for _, e := range p.Experiments {
			mark := "-"
			if e.Scheduled {
				mark = "S"
			}
			fmt.Fprintf(w, "%s %-48s %-24s %-6s predicted %-8s %s\n", mark, e.Name, e.Fault, e.Domain, e.Predicted, e.Executor)
			if e.Route != nil {
				fmt.Fprintf(w, "      route:    %s\n", routeText(*e.Route))
			} else {
				fmt.Fprintf(w, "      selector: %s\n", selectorText(e))
			}
			fmt.Fprintf(w, "      targets:  %s\n", strings.Join(e.Targets, ", "))
			if e.Why != "" {
				fmt.Fprintf(w, "      not scheduled: %s\n", e.Why)
			}
		}
	}
	return nil
}

func selectorText(e Experiment) string {
	s := e.Selector.Selector
	var parts []string
	if len(s.Namespaces) > 0 {
		parts = append(parts, "namespaces="+strings.Join(s.Namespaces, ","))
	}
	for _, m := range []map[string]string{s.LabelSelectors, s.NodeSelectors} {
		var kv []string
		for k, v := range m {
			kv = append(kv, k+"="+v)
		}
		if len(kv) > 0 {
			parts = append(parts, strings.Join(slices.Sorted(slices.Values(kv)), ","))
		}
	}
	mode := string(e.Selector.Mode)
	if e.Selector.Value != "" {
		mode += ":" + e.Selector.Value
	}
	return "mode " + mode + " " + strings.Join(parts, " ")
}
