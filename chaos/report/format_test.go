package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

func write(t *testing.T, format string, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, format, rep); err != nil {
		t.Fatalf("Write %s: %v", format, err)
	}
	return b.String()
}

func TestWriteTable(t *testing.T) {
	out := write(t, "table", Judge(fixture()))
	for _, want := range []string{
		"stack shop, env dev, source local cluster /tmp/kubeconfig, started 2026-09-10T10:00:00Z, duration 4m12s, score 66.7, coverage 35% (7 of 20 pairs hit)",
		"pod-kill-api", "1 (injectedCount)", "2 ok/1 failed", "slo 3/4 ok",
		"a drain needs spare capacity in the other zones",
		"error: chaos-mesh: admission webhook <denied> the request",
		"blocked: app/cart-0",
		"held 2/2 8.0s =", "BREACHED 0/1 =", "BREACHED 0/1 no-recovery =", "held 1/1 9.0s !", "not-run", "not-hit", "failed",
		"FINDINGS", "  - BREACHED app/cart zone",
		"FAIL: score 66.7 (held weight 8 of 12), coverage 35% (7 of 20 pairs), 4 held, 3 breached, 4 failed, 3 not-hit, 6 not-run; predictions 6 confirmed, 1 wrong",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The matrix: a header with the domains, a row per component whose
	// cells line up under them.
	lines := strings.Split(out, "\n")
	var head, api string
	for _, l := range lines {
		if strings.HasPrefix(l, "COMPONENT") {
			head = l
		}
		if strings.HasPrefix(l, "app/api ") {
			api = l
		}
	}
	if !regexp.MustCompile(`^COMPONENT +REPLICAS/NEEDED +POD +NODE +ZONE +DRAIN +NETWORK$`).MatchString(head) {
		t.Errorf("matrix header %q", head)
	}
	if i, j := strings.Index(head, "ZONE"), strings.Index(api, "held 2/2 15.0s ="); i < 0 || i != j {
		t.Errorf("zone cell at %d, column at %d:\n%s\n%s", j, i, head, api)
	}
	if !strings.HasPrefix(api, "app/api   ") || !strings.Contains(api, " 3/2 ") {
		t.Errorf("api row %q", api)
	}
}

func TestWriteTableUndefinedScore(t *testing.T) {
	rep := Judge(&Run{Stack: "s", Env: "dev", Started: t0, Components: []Component{comp("app", "api", 3, 2, 2, nil)},
		Experiments: []Experiment{notRun("zone-a", "zone", "one zone")}})
	out := write(t, "table", rep)
	for _, want := range []string{"score n/a", "no findings", "PASS: score n/a", "duration -"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	rep := Judge(fixture())
	out := write(t, "json", rep)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"domains", "findings", "pairs", "run", "summary"}) {
		t.Errorf("top-level keys %v", names)
	}
	var pair0 map[string]any
	var pairs []json.RawMessage
	if err := json.Unmarshal(keys["pairs"], &pairs); err != nil || len(pairs) == 0 {
		t.Fatalf("pairs: %v", err)
	}
	if err := json.Unmarshal(pairs[0], &pair0); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"component", "domain", "verdict", "minReady", "needed", "replicas", "hit", "recoverySeconds", "injected", "aborted", "experiment", "predicted", "match", "durationSeconds", "weight"} {
		if _, ok := pair0[k]; !ok {
			t.Errorf("pair lacks %q: %v", k, pair0)
		}
	}

	var back Report
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatal(err)
	}
	if back.Run == nil || back.Run.Stack != "shop" || len(back.Run.Experiments) != 6 || !back.Run.Started.Equal(t0) {
		t.Errorf("run did not round-trip: %+v", back.Run)
	}
	if !slices.Equal(back.Domains, rep.Domains) || !slices.Equal(back.Findings, rep.Findings) {
		t.Errorf("domains %v findings %v", back.Domains, back.Findings)
	}
	if !slices.Equal(back.Pairs, rep.Pairs) {
		t.Errorf("pairs did not round-trip")
	}
	if back.Summary.Score == nil || *back.Summary.Score != *rep.Summary.Score || back.Summary.Coverage != 35 || back.Summary.Wrong != 1 {
		t.Errorf("summary %+v", back.Summary)
	}
	p, _ := back.Pair("infra/redis", "zone")
	if p.Verdict != VerdictBreached || p.RecoverySeconds != -1 || p.MinReady != 0 || p.Needed != 1 || p.Experiment != "zone-outage-a" {
		t.Errorf("redis zone %+v", p)
	}

	// An undefined score is null, never 100.
	out = write(t, "json", Judge(&Run{Stack: "s", Started: t0, Components: []Component{comp("a", "b", 1, 1, 1, nil)}, Experiments: []Experiment{notRun("x", "pod", "r")}}))
	if !strings.Contains(out, `"score": null`) {
		t.Errorf("undefined score not null:\n%s", out)
	}
}

func TestWriteJUnit(t *testing.T) {
	out := write(t, "junit", Judge(fixture()))
	var doc junit.Testsuites
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, out)
	}
	var suites []string
	for _, s := range doc.Suites {
		suites = append(suites, s.Name)
	}
	if !slices.Equal(suites, []string{"cloudscale.chaos.pod", "cloudscale.chaos.node", "cloudscale.chaos.zone", "cloudscale.chaos.drain", "cloudscale.chaos.network"}) {
		t.Errorf("suites %v", suites)
	}
	cases := map[string]junit.Testcase{}
	for _, s := range doc.Suites {
		if len(s.Testcases) != 4 {
			t.Errorf("suite %s: %d cases, want 4", s.Name, len(s.Testcases))
		}
		for _, c := range s.Testcases {
			cases[c.Name] = c
			if c.Classname != s.Name {
				t.Errorf("%s: classname %q in suite %s", c.Name, c.Classname, s.Name)
			}
		}
	}
	redis, ok := cases["infra/redis holds a pod fault"]
	if !ok || redis.Failure == nil || !strings.Contains(redis.Failure.Data, "min ready 0, needed 1, replicas 1, hit 1, recovery 5.5s") || redis.Failure.Type != "breached" {
		t.Errorf("breached case: %+v %+v", redis, redis.Failure)
	}
	if c := cases["app/api holds a network fault"]; c.Failure == nil || !strings.Contains(c.Failure.Message, "admission webhook <denied>") {
		t.Errorf("failed case: %+v", c.Failure)
	}
	if c := cases["app/web holds a zone fault"]; c.Failure == nil || !strings.HasPrefix(c.Failure.Message, "wrong prediction: ") {
		t.Errorf("wrong prediction case: %+v", c.Failure)
	}
	if c := cases["app/api holds a pod fault"]; c.Failure != nil || c.Skipped != nil || c.Time != "30.000" {
		t.Errorf("held case: %+v", c)
	}
	if c := cases["app/cart holds a node fault"]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "node-loss-a-1 did not touch it") {
		t.Errorf("not-hit case: %+v", c)
	}
	if c := cases["app/api holds a drain fault"]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "spare capacity") {
		t.Errorf("not-run case: %+v", c)
	}
	if doc.Tests != 20 || doc.Failures != 8 || doc.Skipped != 9 {
		t.Errorf("tests %d, failures %d, skipped %d; want 20, 8, 9", doc.Tests, doc.Failures, doc.Skipped)
	}
}

func TestWriteHTML(t *testing.T) {
	r := fixture()
	r.Components[0].Reasons = map[string]string{"pod": `one replica <script>alert("x")</script>`}
	out := write(t, "html", Judge(r))
	for _, want := range []string{
		"<!DOCTYPE html>", "<title>Chaos report: shop / dev</title>", "<svg", "</svg>",
		`fill="#2e7d32"`, `fill="#c62828"`, `fill="#ef6c00"`, `fill="#90caf9"`, `fill="#9e9e9e"`,
		`stroke="#000000" stroke-width="4"`, ">!</text>",
		"score 66.7 %", "Score = 100 × the weight of the held pairs",
		"wrong prediction", "prediction confirmed", // the legend
		"0 / 1 / 1", "never", "zone-outage-a",
		"before: 1 ok, 0 failed", "during: 1 ok, 1 failed (first: error rate 2% &gt; 1%)", "after: 1 ok, 0 failed",
		"2 success, 1 failure", "p99 latency 812ms &gt; 500ms",
		"admission webhook &lt;denied&gt; the request",
		"one replica &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
		"BREACHED infra/redis pod",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, "ZgotmplZ") {
		t.Errorf("html has unescaped or filtered content")
	}
	// Self-contained: nothing fetched from elsewhere.
	if m := regexp.MustCompile(`(?i)(src=|href=|url\(|@import|<link)`).FindString(out); m != "" {
		t.Errorf("html refers to an external resource: %q", m)
	}
	if n := strings.Count(out, "<rect "); n != 20+7 {
		t.Errorf("%d rects, want 20 cells and 7 legend swatches", n)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, "yaml", Judge(fixture()))
	if err == nil || !strings.Contains(err.Error(), `"yaml"`) || !strings.Contains(err.Error(), "table, json, junit, html") {
		t.Errorf("error %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q", b.String())
	}
}

func TestWriteEveryFormatOnAnEmptyRun(t *testing.T) {
	rep := Judge(&Run{Stack: "s", Env: "dev", Started: t0})
	for _, f := range Formats {
		if out := write(t, f, rep); out == "" {
			t.Errorf("%s: empty output", f)
		}
	}
}
