package spof

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/owenrumney/go-sarif/v2/sarif"
)

// Formats the reports can be written in.
var Formats = []string{"table", "json", "sarif", "junit"}

// Enforced reports whether a single point of failure fails the gate in
// env: mandatory in staging and prod, advisory in dev (as the policy
// gate's HA rules).
func Enforced(env string) bool { return env == "staging" || env == "prod" }

// Write renders reports in a format: table (the failures and degraded
// findings per source), json ({reports, summary}, every finding with its
// fields), sarif (a result per failure or degraded finding, error when
// enforced), or junit (a suite per source, a case per component and
// domain, failed for an enforced spof).
func Write(w io.Writer, format string, reports []*Report) error {
	switch format {
	case "table":
		return writeTable(w, reports)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"reports": reports, "summary": Summarize(reports)})
	case "sarif":
		return writeSARIF(w, reports)
	case "junit":
		return writeJUnit(w, reports)
	}
	return fmt.Errorf("unknown format %q; want one of %s", format, strings.Join(Formats, ", "))
}

// Summary totals reports.
type Summary struct {
	Sources    int `json:"sources"`
	Components int `json:"components"`
	Cloud      int `json:"cloud"`
	SPOF       int `json:"spof"`
	Degraded   int `json:"degraded"`
	// Failing counts the spof findings where the gate is enforced.
	Failing int `json:"failing"`
}

// Summarize totals reports.
func Summarize(reports []*Report) Summary {
	var s Summary
	for _, r := range reports {
		s.Sources++
		s.Components += r.Components
		s.Cloud += r.Cloud
		s.SPOF += r.Count(SPOF)
		s.Degraded += r.Count(Degraded)
		if Enforced(r.Env) {
			s.Failing += r.Count(SPOF)
		}
	}
	return s
}

func writeTable(w io.Writer, reports []*Report) error {
	for _, r := range reports {
		mode := "advisory"
		if Enforced(r.Env) {
			mode = "mandatory"
		}
		fmt.Fprintf(w, "== %s (env %s, %s; %d zones, %d nodes): %d components, %d cloud resources, %d spof, %d degraded, %.0f ms\n",
			r.Source, r.Env, mode, r.Topology.Zones, r.Topology.Nodes, r.Components, r.Cloud, r.Count(SPOF), r.Count(Degraded), float64(r.Duration.Microseconds())/1000)
		shown := 0
		for _, f := range r.Findings {
			if f.Verdict == Survives {
				continue
			}
			shown++
			ns := f.Namespace
			if ns == "" {
				ns = "-"
			}
			fmt.Fprintf(w, "  %-8s %-6s %s %s/%s: %d of %d remain, %d needed\n      %s\n", strings.ToUpper(string(f.Verdict)), f.Domain, f.Kind, ns, f.Component, f.Remaining, f.Replicas, f.Needed, f.Reason)
			if len(f.Services) > 0 {
				fmt.Fprintf(w, "      services: %s\n", strings.Join(f.Services, ", "))
			}
		}
		if shown == 0 {
			fmt.Fprintf(w, "  every component survives every domain\n")
		}
	}
	return nil
}

func writeSARIF(w io.Writer, reports []*Report) error {
	doc, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("cloudscale-spof", "https://github.com/cloudscale/platform")
	for _, d := range Domains {
		run.AddRule(ruleID(d)).WithName("NoSinglePointOfFailure" + strings.ToUpper(string(d[:1])) + string(d[1:])).
			WithDescription(fmt.Sprintf("Every component keeps serving when one %s is lost", d)).
			WithTextHelp("The finding's message names the field to change.")
	}
	for _, rep := range reports {
		for _, f := range rep.Findings {
			if f.Verdict == Survives {
				continue
			}
			level := "warning"
			if f.Verdict == SPOF && Enforced(rep.Env) {
				level = "error"
			}
			loc := sarif.NewLocation().WithLogicalLocations([]*sarif.LogicalLocation{
				sarif.NewLogicalLocation().WithName(f.Component).WithFullyQualifiedName(orName(f)).WithKind("resource"),
			}).WithPhysicalLocation(sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(artifact(rep, f))))
			res := run.CreateResultForRule(ruleID(f.Domain)).WithLevel(level).
				WithMessage(sarif.NewTextMessage(fmt.Sprintf("%s %s (%s): %s", f.Kind, qualified(f), f.Verdict, f.Reason)))
			res.AddLocation(loc)
			pb := sarif.NewPropertyBag()
			pb.Add("source", rep.Source)
			pb.Add("env", rep.Env)
			pb.Add("verdict", string(f.Verdict))
			pb.Add("replicas", f.Replicas)
			pb.Add("remaining", f.Remaining)
			pb.Add("needed", f.Needed)
			res.AttachPropertyBag(pb)
		}
	}
	doc.AddRun(run)
	return doc.PrettyWrite(w)
}

func ruleID(d Domain) string { return "SPOF-" + strings.ToUpper(string(d)) }

func orName(f Finding) string {
	if f.URN != "" {
		return f.URN
	}
	return qualified(f)
}

// qualified is "<namespace>/<component>", or the component alone for a
// cloud resource (which has no namespace).
func qualified(f Finding) string {
	if f.Namespace == "" {
		return f.Component
	}
	return f.Namespace + "/" + f.Component
}

// artifact is the file a finding points at: the manifest for YAML input,
// the stack file for a stack.
func artifact(rep *Report, f Finding) string {
	if i := strings.Index(f.URN, "#"); i > 0 && strings.HasPrefix(rep.Source, "manifests:") {
		return f.URN[:i]
	}
	if strings.HasPrefix(rep.Source, "mocks:") {
		return "stacks/Pulumi." + strings.TrimPrefix(rep.Source, "mocks:") + ".yaml"
	}
	return strings.TrimPrefix(strings.TrimPrefix(rep.Source, "pulumi:"), "manifests:")
}

func writeJUnit(w io.Writer, reports []*Report) error {
	var doc junit.Testsuites
	for _, rep := range reports {
		s := junit.Testsuite{Name: rep.Source + " (" + rep.Env + ")", Time: fmt.Sprintf("%.3f", rep.Duration.Seconds())}
		for _, f := range rep.Findings {
			c := junit.Testcase{Name: fmt.Sprintf("%s survives one %s", qualified(f), f.Domain), Classname: "cloudscale.spof." + f.Kind}
			text := fmt.Sprintf("%s: %d of %d remain, %d needed: %s", f.Verdict, f.Remaining, f.Replicas, f.Needed, f.Reason)
			if f.Verdict == SPOF && Enforced(rep.Env) {
				c.Failure = &junit.Result{Message: "single point of failure", Type: string(f.Domain), Data: text}
			} else if f.Verdict != Survives {
				c.SystemOut = &junit.Output{Data: text}
			}
			s.AddTestcase(c)
		}
		doc.AddSuite(s)
	}
	return doc.WriteXML(w)
}
