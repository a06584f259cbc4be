package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// Formats a report can be written in (Write).
var Formats = []string{"table", "json", "junit", "html"}

// Write renders rep in a format:
//   - table: a header line, the experiments, the component x domain matrix,
//     the findings and a summary line (plain text);
//   - json: {"run", "domains", "pairs", "summary", "findings"}, the Report's
//     fields;
//   - junit: a testsuite per domain, a testcase per pair (breached, failed
//     or wrongly predicted: failure; not-run or not-hit: skipped);
//   - html: one self-contained page with an SVG picture of the matrix.
func Write(w io.Writer, format string, rep *Report) error {
	switch format {
	case "table":
		return writeTable(w, rep)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "junit":
		return writeJUnit(w, rep)
	case "html":
		return writeHTML(w, rep)
	}
	return fmt.Errorf("unknown report format %q; want one of %s", format, strings.Join(Formats, ", "))
}

// ScoreText is the score with one decimal, or "n/a" when undefined.
func (s Summary) ScoreText() string {
	if s.Score == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", *s.Score)
}

// header is the run's facts in a line.
func header(rep *Report) string {
	r := rep.Run
	s := fmt.Sprintf("stack %s, env %s, source %s, started %s, duration %s, score %s, coverage %.0f%% (%d of %d pairs hit)",
		r.Stack, r.Env, orDash(r.Source), r.Started.UTC().Format(time.RFC3339), runDuration(r), rep.Summary.ScoreText(),
		rep.Summary.Coverage, rep.Summary.Held+rep.Summary.Breached, rep.Summary.Pairs)
	if r.Interrupted {
		s += ", INTERRUPTED"
	}
	return s
}

// runDuration is Started to Finished, rounded to the second; "-" when the
// run has no end.
func runDuration(r *Run) string {
	if r.Finished.IsZero() || r.Finished.Before(r.Started) {
		return "-"
	}
	return r.Finished.Sub(r.Started).Round(time.Second).String()
}

func writeTable(w io.Writer, rep *Report) error {
	fmt.Fprintln(w, header(rep))

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPERIMENT\tFAULT\tDOMAIN\tTARGET\tSTATUS\tINJECTED\tABORTED\tCHECKS\tDETAIL")
	for _, e := range rep.Run.Experiments {
		injected, aborted, checks := "-", "-", "-"
		if e.Status == Ran {
			injected = fmt.Sprint(e.Injected)
			if e.Evidence != "" {
				injected += " (" + e.Evidence + ")"
			}
			aborted = yesNo(e.Aborted)
		}
		if len(e.StatusChecks) > 0 {
			ok, failed := checkCounts(e)
			checks = fmt.Sprintf("%d ok/%d failed", ok, failed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Fault, e.Domain, target(e), e.Status, injected, aborted, checks, detail(e))
	}
	if len(rep.Run.Experiments) == 0 {
		fmt.Fprintln(tw, "(no experiments)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "COMPONENT\tREPLICAS/NEEDED")
	for _, d := range rep.Domains {
		fmt.Fprint(tw, "\t"+strings.ToUpper(d))
	}
	fmt.Fprintln(tw)
	for _, row := range rows(rep) {
		c := row[0]
		fmt.Fprintf(tw, "%s\t%d/%d", c.Component, c.Replicas, c.Needed)
		for _, p := range row {
			fmt.Fprint(tw, "\t"+cell(p))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(cells: held|BREACHED min-ready/needed recovery; = prediction confirmed, ! prediction wrong)")

	fmt.Fprintln(w)
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "no findings")
	} else {
		fmt.Fprintln(w, "FINDINGS")
		for _, f := range rep.Findings {
			fmt.Fprintln(w, "  - "+f)
		}
	}
	fmt.Fprintln(w)
	_, err := fmt.Fprintln(w, summaryLine(rep))
	return err
}

// summaryLine totals the report in a line.
func summaryLine(rep *Report) string {
	s := rep.Summary
	result := "PASS"
	if rep.Failed() {
		result = "FAIL"
	}
	return fmt.Sprintf("%s: score %s (held weight %d of %d), coverage %.0f%% (%d of %d pairs), %d held, %d breached, %d failed, %d not-hit, %d not-run; predictions %d confirmed, %d wrong",
		result, s.ScoreText(), s.HeldWeight, s.RanWeight, s.Coverage, s.Held+s.Breached, s.Pairs,
		s.Held, s.Breached, s.Failed, s.NotHit, s.NotRun, s.Confirmed, s.Wrong)
}

// rows groups the pairs per component, each row in domain order (Judge
// gives every component a pair per domain, sorted).
func rows(rep *Report) [][]Pair {
	var out [][]Pair
	for _, p := range rep.Pairs {
		if n := len(out); n > 0 && out[n-1][0].Component == p.Component {
			out[n-1] = append(out[n-1], p)
			continue
		}
		out = append(out, []Pair{p})
	}
	return out
}

// cell is a pair in a few characters: "held 2/1 8.0s", "BREACHED 0/1",
// "not-run", "not-hit", "failed", then "=" or "!" for a confirmed or wrong
// prediction.
func cell(p Pair) string {
	var s string
	switch p.Verdict {
	case VerdictHeld:
		s = fmt.Sprintf("held %d/%d %s", p.MinReady, p.Needed, recovery(p.RecoverySeconds))
	case VerdictBreached:
		s = fmt.Sprintf("BREACHED %d/%d", p.MinReady, p.Needed)
		if p.RecoverySeconds < 0 {
			s += " no-recovery"
		}
	default:
		s = string(p.Verdict)
	}
	switch p.Match {
	case MatchConfirmed:
		s += " ="
	case MatchWrong:
		s += " !"
	}
	return s
}

// recovery is a recovery time in seconds, or "never" when not within the
// run's limit.
func recovery(sec float64) string {
	if sec < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1fs", sec)
}

// target is what an experiment aimed at.
func target(e Experiment) string {
	switch {
	case e.Component != "":
		return e.Component
	case e.Node != "":
		return "node " + e.Node
	case e.Zone != "":
		return "zone " + e.Zone
	}
	return "-"
}

// detail is the note beside an experiment: why it did not run or failed,
// else the evictions refused and the SLO gate's samples.
func detail(e Experiment) string {
	switch e.Status {
	case NotRun:
		return e.NotRunReason
	case Failed:
		return "error: " + e.Error
	}
	var parts []string
	if len(e.Blocked) > 0 {
		parts = append(parts, "blocked: "+strings.Join(e.Blocked, ", "))
	}
	if len(e.SteadyState) > 0 {
		ok := 0
		for _, s := range e.SteadyState {
			if s.OK {
				ok++
			}
		}
		parts = append(parts, fmt.Sprintf("slo %d/%d ok", ok, len(e.SteadyState)))
	}
	return strings.Join(parts, "; ")
}

// checkCounts counts an experiment's StatusCheck records by outcome.
func checkCounts(e Experiment) (ok, failed int) {
	for _, c := range e.StatusChecks {
		if c.Outcome == "Success" {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// evidence is a pair's verdict and evidence, a fact a line.
func evidence(p Pair) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\nreason: %s\n", p.Verdict, p.Reason)
	if p.Experiment != "" {
		fmt.Fprintf(&b, "experiment: %s (%s), injected %d, aborted %s\n", p.Experiment, p.Fault, p.Injected, yesNo(p.Aborted))
	}
	if p.Observed {
		fmt.Fprintf(&b, "min ready %d, needed %d, replicas %d, hit %d, recovery %s\n", p.MinReady, p.Needed, p.Replicas, p.Hit, recovery(p.RecoverySeconds))
	}
	fmt.Fprintf(&b, "predicted: %s (%s)\n", p.Predicted, p.Match)
	if p.PredictedReason != "" {
		fmt.Fprintf(&b, "analysis: %s\n", p.PredictedReason)
	}
	return b.String()
}

func writeJUnit(w io.Writer, rep *Report) error {
	var doc junit.Testsuites
	doc.Name = fmt.Sprintf("cloudscale chaos %s/%s", rep.Run.Stack, rep.Run.Env)
	total := 0.0
	for _, d := range rep.Domains {
		s := junit.Testsuite{Name: "cloudscale.chaos." + d, Package: "cloudscale.chaos"}
		if !rep.Run.Started.IsZero() {
			s.SetTimestamp(rep.Run.Started)
		}
		s.AddProperty("stack", rep.Run.Stack)
		s.AddProperty("env", rep.Run.Env)
		s.AddProperty("source", rep.Run.Source)
		s.AddProperty("score", rep.Summary.ScoreText())
		secs := 0.0
		for _, e := range rep.Run.Experiments {
			if e.Domain == d {
				secs += duration(e).Seconds()
			}
		}
		total += secs
		s.Time = fmt.Sprintf("%.3f", secs)
		for _, p := range rep.Pairs {
			if p.Domain != d {
				continue
			}
			c := junit.Testcase{
				Name:      fmt.Sprintf("%s holds a %s fault", p.Component, p.Domain),
				Classname: "cloudscale.chaos." + p.Domain,
				Time:      fmt.Sprintf("%.3f", p.DurationSeconds),
			}
			data := evidence(p)
			wrong := ""
			if p.Match == MatchWrong {
				wrong = fmt.Sprintf("wrong prediction: the analysis said %s, the run saw it %s", p.Predicted, p.Verdict)
			}
			switch {
			case p.Verdict == VerdictBreached || p.Verdict == VerdictFailed:
				msg := string(p.Verdict) + ": " + p.Reason
				if wrong != "" {
					msg += "; " + wrong
				}
				c.Failure = &junit.Result{Message: msg, Type: string(p.Verdict), Data: data}
			case wrong != "":
				c.Failure = &junit.Result{Message: wrong, Type: "wrong-prediction", Data: data}
			case p.Verdict == VerdictNotRun || p.Verdict == VerdictNotHit:
				c.Skipped = &junit.Result{Message: string(p.Verdict) + ": " + p.Reason}
			default:
				c.SystemOut = &junit.Output{Data: data}
			}
			s.AddTestcase(c)
		}
		doc.AddSuite(s)
	}
	doc.Time = fmt.Sprintf("%.3f", total)
	return doc.WriteXML(w)
}
