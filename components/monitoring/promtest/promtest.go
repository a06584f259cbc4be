// Package promtest checks Prometheus rules the way Prometheus reads them:
// it renders PrometheusRule objects (prometheus-operator's monitoring/v1)
// into a rule file and runs the real promtool on it (`promtool check
// rules`, and `promtool test rules` with unit-test files), and it lists the
// metric names a PromQL expression selects, so a tier's rules and
// dashboards can be checked against the metrics its targets export.
//
// promtool comes from Debian's prometheus package (2.42), which
// scripts/tools.sh installs; github.com/prometheus/prometheus stays out of
// go.mod (it moves k8s.io/* to 0.37, ../shared/notes/operators-and-servers.md).
// A missing promtool fails the test: CI installs it.
package promtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// RuleFileName is the rule file's name in the directory Test runs
// promtool in: a unit-test file lists it under rule_files.
const RuleFileName = "rules.yaml"

// RuleFile renders the rule groups of rules, in order, as one Prometheus
// rule file ({groups: [...]}). Group names must be unique across them, as
// Prometheus requires of one file.
func RuleFile(rules ...*monitoringv1.PrometheusRule) ([]byte, error) {
	var groups []monitoringv1.RuleGroup
	seen := map[string]bool{}
	for _, r := range rules {
		for _, g := range r.Spec.Groups {
			if seen[g.Name] {
				return nil, fmt.Errorf("PrometheusRule %s/%s: group %q repeats a group of another rule", r.Namespace, r.Name, g.Name)
			}
			seen[g.Name] = true
			groups = append(groups, g)
		}
	}
	return yaml.Marshal(monitoringv1.PrometheusRuleSpec{Groups: groups})
}

// Promtool returns promtool's path, failing t when it is not installed.
func Promtool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH (`make tools` installs Debian's prometheus package): %v", err)
	}
	return p
}

// write renders rules into dir/rules.yaml.
func write(t testing.TB, dir string, rules []*monitoringv1.PrometheusRule) string {
	t.Helper()
	b, err := RuleFile(rules...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, RuleFileName)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Check runs `promtool check rules` on rules, failing t with promtool's
// output when Prometheus would refuse them.
func Check(t testing.TB, rules ...*monitoringv1.PrometheusRule) {
	t.Helper()
	dir := t.TempDir()
	path := write(t, dir, rules)
	if out, err := run(Promtool(t), dir, "check", "rules", path); err != nil {
		t.Fatalf("promtool check rules: %v\n%s\nrule file:\n%s", err, out, readFile(path))
	}
}

// Test runs `promtool test rules` on the unit-test file testFile (whose
// rule_files names RuleFileName) against rules, failing t with promtool's
// output when a test fails.
func Test(t testing.TB, testFile string, rules ...*monitoringv1.PrometheusRule) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, rules)
	tests, err := os.ReadFile(testFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(tests, []byte(RuleFileName)) {
		t.Fatalf("%s: rule_files must name %s", testFile, RuleFileName)
	}
	dst := filepath.Join(dir, filepath.Base(testFile))
	if err := os.WriteFile(dst, tests, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(Promtool(t), dir, "test", "rules", filepath.Base(dst)); err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", testFile, err, out)
	}
}

func run(bin, dir string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// PromQL's words that are not metric names: aggregation and set
// operators, modifiers and keywords (Prometheus' promql/parser/lex.go).
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "by": true, "without": true, "on": true,
	"ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true,
	"start": true, "end": true, "inf": true, "nan": true,
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	braces     = regexp.MustCompile(`\{[^{}]*\}`)
	brackets   = regexp.MustCompile(`\[[^\[\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	identifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	durationRe = regexp.MustCompile(`^[0-9]`)
)

// MetricNames returns the metric names expr selects, sorted and unique:
// every identifier that is not a function call, a keyword or inside a
// label matcher, range, grouping clause or string. A selector written
// {__name__="x"} names x. It reads well-formed expressions (promtool
// checks their syntax); it does not validate them.
func MetricNames(expr string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`__name__\s*=\s*"([^"]+)"`).FindAllStringSubmatch(expr, -1) {
		names = append(names, m[1])
	}
	s := quoted.ReplaceAllString(expr, `""`)
	s = grouping.ReplaceAllString(s, " ")
	for prev := ""; prev != s; {
		prev = s
		s = braces.ReplaceAllString(s, " ")
	}
	s = brackets.ReplaceAllString(s, " ")
	for _, loc := range identifier.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if strings.HasSuffix(word, "(") || (loc[0] > 0 && durationRe.MatchString(s[loc[0]-1:loc[0]])) {
			continue // a function call, or a number's exponent or unit
		}
		if !keywords[strings.ToLower(word)] {
			names = append(names, word)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
