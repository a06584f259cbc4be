package policies

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Formats the reports can be written in.
var Formats = []string{"table", "json", "sarif", "junit"}

// Write renders reports in a format. Several reports (one per stack) go
// into one document.
func Write(w io.Writer, format string, reports []*Report, rules []Rule) error {
	switch format {
	case "table":
		return writeTable(w, reports)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"reports": reports, "summary": summarize(reports)})
	case "sarif":
		return writeSARIF(w, reports, rules)
	case "junit":
		return writeJUnit(w, reports, rules)
	}
	return inputErr("unknown format %q; want one of %s", format, strings.Join(Formats, ", "))
}

// Summary totals reports.
type Summary struct {
	Sources   int `json:"sources"`
	Resources int `json:"resources"`
	Mandatory int `json:"mandatory"`
	Advisory  int `json:"advisory"`
	Waived    int `json:"waived"`
}

func summarize(reports []*Report) Summary {
	var s Summary
	for _, r := range reports {
		s.Sources++
		s.Resources += r.Resources
		s.Mandatory += r.Mandatory()
		s.Advisory += r.Advisory()
		s.Waived += r.Waived()
	}
	return s
}

func writeTable(w io.Writer, reports []*Report) error {
	for _, r := range reports {
		fmt.Fprintf(w, "== %s (env %s): %d resources, %d rules, %.0f ms\n", r.Source, r.Env, r.Resources, r.Rules, float64(r.Duration.Microseconds())/1000)
		if r.Settings != "" {
			fmt.Fprintf(w, "   settings: %s\n", r.Settings)
		}
		if len(r.Findings) == 0 {
			fmt.Fprintln(w, "   no findings")
		}
		for _, f := range r.Findings {
			level := strings.ToUpper(f.Enforcement)
			if f.Waived {
				level = "WAIVED"
			}
			res := f.Name
			if res == "" {
				res = orStack(f.Resource)
			}
			fmt.Fprintf(w, "   %-9s %-10s %-8s %s\n", level, f.RuleID, f.Severity, f.Title)
			fmt.Fprintf(w, "             resource: %s (%s)\n", res, orStack(f.Type))
			fmt.Fprintf(w, "             found:    %s\n", f.Message)
			fmt.Fprintf(w, "             fix:      %s\n", f.Fix)
			if f.Waived {
				fmt.Fprintf(w, "             waiver:   %s (owner %s, until %s)\n", f.Waiver.Reason, f.Waiver.Owner, f.Waiver.Expires)
			}
		}
		for _, wv := range r.ActiveWaivers {
			fmt.Fprintf(w, "   active waiver: %s on %s, owner %s, expires %s: %s\n", wv.Rule, wv.Resource, wv.Owner, wv.Expires, wv.Reason)
		}
		for _, wv := range r.ExpiredWaivers {
			fmt.Fprintf(w, "   EXPIRED waiver (no longer waives): %s on %s, owner %s, expired %s\n", wv.Rule, wv.Resource, wv.Owner, wv.Expires)
		}
		fmt.Fprintf(w, "   %d mandatory, %d advisory, %d waived\n", r.Mandatory(), r.Advisory(), r.Waived())
	}
	s := summarize(reports)
	verdict := "PASS"
	if s.Mandatory > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %d sources, %d resources, %d mandatory violations, %d advisory, %d waived\n",
		verdict, s.Sources, s.Resources, s.Mandatory, s.Advisory, s.Waived)
	return nil
}

// SARIF 2.1.0, the format code-scanning tools read.
func writeSARIF(w io.Writer, reports []*Report, rules []Rule) error {
	type msg struct {
		Text string `json:"text"`
	}
	var sr []map[string]any
	index := map[string]int{}
	for i, r := range rules {
		index[r.ID] = i
		sr = append(sr, map[string]any{
			"id": r.ID, "name": r.Title,
			"shortDescription": msg{r.Title}, "fullDescription": msg{r.Description},
			"help":       msg{r.Fix},
			"properties": map[string]any{"severity": r.Severity, "category": r.Category, "enforcement": r.Enforcement},
		})
	}
	var results []map[string]any
	for _, rep := range reports {
		for _, f := range rep.Findings {
			level := "warning"
			if f.Enforcement == Mandatory {
				level = "error"
			}
			res := map[string]any{
				"ruleId": f.RuleID, "ruleIndex": index[f.RuleID], "level": level,
				"message": msg{f.Message + " Fix: " + f.Fix},
				"locations": []any{map[string]any{
					"logicalLocations": []any{map[string]any{"fullyQualifiedName": f.Resource, "name": f.Name, "kind": "resource"}},
					"physicalLocation": map[string]any{"artifactLocation": map[string]any{"uri": artifact(rep, f)}},
				}},
				"properties": map[string]any{"source": rep.Source, "env": rep.Env, "settings": rep.Settings, "severity": f.Severity},
			}
			if f.Waived {
				res["suppressions"] = []any{map[string]any{"kind": "external", "justification": f.Waiver.Reason}}
			}
			results = append(results, res)
		}
	}
	if results == nil {
		results = []map[string]any{}
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "cloudscale-policy", "informationUri": "https://github.com/cloudscale/platform", "rules": sr}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// artifact is the file a finding points at: the manifest for YAML input,
// the stack file otherwise.
func artifact(rep *Report, f Finding) string {
	if i := strings.Index(f.Resource, "#"); i > 0 && strings.HasPrefix(rep.Source, "manifests:") {
		return f.Resource[:i]
	}
	if strings.HasPrefix(rep.Source, "mocks:") {
		return "stacks/Pulumi." + strings.TrimPrefix(rep.Source, "mocks:") + ".yaml"
	}
	return strings.TrimPrefix(strings.TrimPrefix(rep.Source, "pulumi:"), "manifests:")
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit: a suite per source, a test case per rule; a rule fails when it has
// a mandatory, unwaived finding. Advisory and waived findings are listed in
// the case's output.
func writeJUnit(w io.Writer, reports []*Report, rules []Rule) error {
	doc := junitSuites{}
	for _, rep := range reports {
		byRule := map[string][]Finding{}
		for _, f := range rep.Findings {
			byRule[f.RuleID] = append(byRule[f.RuleID], f)
		}
		s := junitSuite{Name: rep.Source + " (" + rep.Env + ")", Time: fmt.Sprintf("%.3f", rep.Duration.Seconds())}
		for _, r := range rules {
			c := junitCase{Name: r.ID + " " + r.Title, Classname: "cloudscale.policy." + r.Category}
			var fail, note []string
			for _, f := range byRule[r.ID] {
				line := fmt.Sprintf("%s: %s", orStack(f.Resource), f.Message)
				if f.Enforcement == Mandatory && !f.Waived {
					fail = append(fail, line)
				} else {
					note = append(note, fmt.Sprintf("[%s] %s", map[bool]string{true: "waived", false: f.Enforcement}[f.Waived], line))
				}
			}
			sort.Strings(fail)
			if len(fail) > 0 {
				c.Failure = &junitFailure{Message: fmt.Sprintf("%d mandatory violations", len(fail)), Type: r.Severity,
					Text: strings.Join(fail, "\n") + "\nfix: " + r.Fix}
				s.Failures++
			}
			c.Output = strings.Join(note, "\n")
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func orStack(urn string) string {
	if urn == "" {
		return "(stack)"
	}
	return urn
}
