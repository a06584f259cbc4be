package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
)

// VerdictColors are the fill colours of the verdicts in the HTML picture
// (CSS hex).
var VerdictColors = map[Verdict]string{
	VerdictHeld:     "#2e7d32",
	VerdictBreached: "#c62828",
	VerdictFailed:   "#ef6c00",
	VerdictNotHit:   "#90caf9",
	VerdictNotRun:   "#9e9e9e",
}

// legendOrder is the legend's order, the best news first.
var legendOrder = []Verdict{VerdictHeld, VerdictBreached, VerdictFailed, VerdictNotHit, VerdictNotRun}

// ScoreDefinition is the score's definition in one sentence (the HTML page
// prints it beside the score).
const ScoreDefinition = "Score = 100 × the weight of the held pairs ÷ the weight of the held and breached pairs " +
	"(a component's weight is 2 in the request path, 1 otherwise); pairs no fault hit, not run or failed " +
	"are counted apart, never as passes, and with no pair hit the score is n/a."

// The picture's geometry, in CSS pixels. Labels are monospace so their
// width can be known without a font engine: about 0.6 em a character.
const (
	svgPad     = 12
	svgCharW   = 8  // of a 13px monospace label, rounded up
	svgHeadH   = 30 // the domain names
	svgCellW   = 132
	svgCellH   = 44
	svgGap     = 4
	svgLegendH = 56
	svgSwatch  = 18
)

type htmlPage struct {
	Title    string
	Facts    [][2]string
	Score    string
	Result   string
	Failed   bool
	Counts   string
	Def      string
	SVG      svgView
	Pairs    []htmlPair
	Exps     []htmlExp
	Findings []string
}

type svgView struct {
	W, H    int
	Label   string
	Heads   []svgText
	Rows    []svgText
	Cells   []svgCell
	Legend  []svgLegend
	LegendY int
	Empty   bool
}

type svgText struct {
	X, Y int
	Text string
}

type svgCell struct {
	X, Y, W, H   int
	Fill, Ink    string
	Wrong        bool
	Confirmed    bool
	Main, Sub    string
	TX, TY, SubY int
	MarkX, MarkY int
	Title        string
}

type svgLegend struct {
	X, Y, W, H  int
	Fill        string
	Stroke      string
	StrokeWidth int
	Mark        string
	Label       string
	LX, LY      int
	MX, MY      int
}

type htmlPair struct {
	Component, Domain string
	Verdict           string
	Class             string
	Ready             string
	Recovery          string
	Injected          string
	Predicted         string
	Match             string
	MatchClass        string
	Experiment        string
	Reason            string
}

type htmlExp struct {
	Name, Fault, Domain, Target, Executor, Status, StatusClass string
	Times                                                      string
	Injected                                                   string
	Targets                                                    string
	Aborted                                                    string
	Checks                                                     string
	Steady                                                     []string
	Note                                                       string
	Records                                                    []StatusCheckRecord
}

func writeHTML(w io.Writer, rep *Report) error {
	return pageTemplate.Execute(w, buildPage(rep))
}

// buildPage is the view of rep that pageTemplate renders.
func buildPage(rep *Report) htmlPage {
	r := rep.Run
	s := rep.Summary
	pg := htmlPage{
		Title:    fmt.Sprintf("Chaos report: %s / %s", r.Stack, r.Env),
		Score:    s.ScoreText(),
		Def:      ScoreDefinition,
		Failed:   rep.Failed(),
		Findings: rep.Findings,
		Counts: fmt.Sprintf("coverage %.0f%% (%d of %d pairs hit) · %d held · %d breached · %d failed · %d not hit · %d not run · predictions %d confirmed, %d wrong",
			s.Coverage, s.Held+s.Breached, s.Pairs, s.Held, s.Breached, s.Failed, s.NotHit, s.NotRun, s.Confirmed, s.Wrong),
	}
	pg.Result = "PASS"
	if pg.Failed {
		pg.Result = "FAIL"
	}
	if s.Score != nil {
		pg.Score += " %"
	}
	pg.Facts = runFacts(r)
	pg.SVG = buildSVG(rep)
	for _, p := range rep.Pairs {
		pg.Pairs = append(pg.Pairs, buildHTMLPair(p))
	}
	for _, e := range r.Experiments {
		pg.Exps = append(pg.Exps, buildHTMLExp(e, r.Started))
	}
	return pg
}

// runFacts are the label and value of each fact of the run in the page's
// header.
func runFacts(r *Run) [][2]string {
	zones := strings.Join(r.Zones, ", ")
	facts := [][2]string{
		{"stack", r.Stack}, {"env", r.Env}, {"source", orDash(r.Source)},
		{"started", stamp(r.Started)}, {"finished", stamp(r.Finished)}, {"duration", runDuration(r)},
		{"zones", orDash(zones)}, {"nodes", fmt.Sprint(r.Nodes)}, {"experiments", fmt.Sprint(len(r.Experiments))},
	}
	if r.Interrupted {
		facts = append(facts, [2]string{"interrupted", "yes: stopped before its last experiment"})
	}
	return facts
}

// buildHTMLPair is the row of the pairs table for p.
func buildHTMLPair(p Pair) htmlPair {
	hp := htmlPair{
		Component: p.Component, Domain: p.Domain, Verdict: string(p.Verdict), Class: class(p.Verdict),
		Ready: "-", Recovery: "-", Injected: "-", Predicted: p.Predicted, Match: string(p.Match),
		Experiment: orDash(p.Experiment), Reason: p.Reason,
	}
	if p.Observed {
		hp.Ready = fmt.Sprintf("%d / %d / %d", p.MinReady, p.Needed, p.Replicas)
		hp.Recovery = recovery(p.RecoverySeconds)
	}
	if p.Experiment != "" && (p.Verdict == VerdictHeld || p.Verdict == VerdictBreached || p.Verdict == VerdictNotHit) {
		hp.Injected = fmt.Sprint(p.Injected)
		if p.Aborted {
			hp.Injected += " (aborted)"
		}
	}
	if p.PredictedReason != "" {
		hp.Predicted += ": " + p.PredictedReason
	}
	switch p.Match {
	case MatchConfirmed:
		hp.MatchClass = "m-ok"
	case MatchWrong:
		hp.MatchClass = "m-wrong"
	}
	return hp
}

// buildHTMLExp is the entry of the experiments section for e, of a run
// that started at runStart.
func buildHTMLExp(e Experiment, runStart time.Time) htmlExp {
	he := htmlExp{
		Name: e.Name, Fault: e.Fault, Domain: e.Domain, Target: target(e), Executor: orDash(e.Executor),
		Status: string(e.Status), StatusClass: statusClass(e.Status), Injected: "-", Targets: "-", Checks: "-",
		Records: e.StatusChecks,
	}
	he.Times = expTimes(e, runStart)
	if e.Status == Ran {
		he.Injected = fmt.Sprint(e.Injected)
		if e.Evidence != "" {
			he.Injected += " (" + e.Evidence + ")"
		}
		he.Aborted = yesNo(e.Aborted)
	}
	if len(e.Targets) > 0 {
		he.Targets = strings.Join(e.Targets, ", ")
	}
	if len(e.StatusChecks) > 0 {
		ok, failed := checkCounts(e)
		he.Checks = fmt.Sprintf("%d success, %d failure", ok, failed)
	}
	he.Steady = steadySummary(e.SteadyState)
	he.Note = expNote(e)
	return he
}

// expTimes is when e started, when its fault started and for how long,
// and how long e took, each time told by clock.
func expTimes(e Experiment, runStart time.Time) string {
	times := "start " + clock(e.Started, runStart)
	if !e.FaultStarted.IsZero() {
		times += ", fault " + clock(e.FaultStarted, runStart)
		if !e.FaultEnded.IsZero() {
			times += fmt.Sprintf(" for %s", e.FaultEnded.Sub(e.FaultStarted).Round(100*time.Millisecond))
		}
	}
	if d := duration(e); d > 0 {
		times += fmt.Sprintf(", took %s", d.Round(100*time.Millisecond))
	}
	return times
}

// clock is t as a time of day in UTC, the run's header having the date;
// a full stamp when t falls on another day than runStart, "-" when zero.
func clock(t, runStart time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if y, m, d := t.UTC().Date(); !runStart.IsZero() && (y != runStart.UTC().Year() || m != runStart.UTC().Month() || d != runStart.UTC().Day()) {
		return stamp(t)
	}
	return t.UTC().Format("15:04:05")
}

// expNote is why e did not run or failed, and which evictions a
// PodDisruptionBudget refused, "" when none.
func expNote(e Experiment) string {
	var note string
	switch e.Status {
	case NotRun:
		note = e.NotRunReason
	case Failed:
		note = "error: " + e.Error
	}
	if len(e.Blocked) > 0 {
		note = strings.TrimPrefix(note+"; evictions refused by a PodDisruptionBudget: "+strings.Join(e.Blocked, ", "), "; ")
	}
	return note
}

// buildSVG lays out the matrix: a row per component, a column per domain,
// the legend below.
func buildSVG(rep *Report) svgView {
	rs := rows(rep)
	labelW := 0
	labels := make([]string, len(rs))
	for i, row := range rs {
		labels[i] = fmt.Sprintf("%s (%d/%d)", row[0].Component, row[0].Replicas, row[0].Needed)
		labelW = max(labelW, len([]rune(labels[i]))*svgCharW)
	}
	labelW += 16
	v := svgView{Label: "Verdict per component (rows) and failure domain (columns)", Empty: len(rs) == 0 || len(rep.Domains) == 0}
	x0 := svgPad + labelW
	y0 := svgPad + svgHeadH
	for j, d := range rep.Domains {
		v.Heads = append(v.Heads, svgText{X: x0 + j*(svgCellW+svgGap) + svgCellW/2, Y: svgPad + svgHeadH - 10, Text: d})
	}
	for i, row := range rs {
		y := y0 + i*(svgCellH+svgGap)
		v.Rows = append(v.Rows, svgText{X: x0 - 10, Y: y + svgCellH/2 + 5, Text: labels[i]})
		for j, p := range row {
			x := x0 + j*(svgCellW+svgGap)
			c := svgCell{
				X: x, Y: y, W: svgCellW, H: svgCellH, Fill: VerdictColors[p.Verdict], Ink: "#ffffff",
				Wrong: p.Match == MatchWrong, Confirmed: p.Match == MatchConfirmed,
				TX: x + svgCellW/2, TY: y + 19, SubY: y + 35, MarkX: x + svgCellW - 14, MarkY: y + 21,
				Title: fmt.Sprintf("%s %s: %s (predicted %s, %s). %s", p.Component, p.Domain, p.Verdict, p.Predicted, p.Match, p.Reason),
			}
			if c.Fill == "" {
				c.Fill = "#ffffff"
			}
			if p.Verdict == VerdictNotHit || p.Verdict == VerdictNotRun {
				c.Ink = "#111111"
			}
			switch p.Verdict {
			case VerdictHeld:
				c.Main, c.Sub = "held", fmt.Sprintf("%d/%d ready · %s", p.MinReady, p.Needed, recovery(p.RecoverySeconds))
			case VerdictBreached:
				c.Main, c.Sub = "BREACHED", fmt.Sprintf("%d/%d ready · %s", p.MinReady, p.Needed, recovery(p.RecoverySeconds))
			default:
				c.Main, c.Sub = string(p.Verdict), ""
				c.TY = y + svgCellH/2 + 5
			}
			if c.Wrong {
				// The thick border is drawn inside the cell so that it never
				// covers a neighbour.
				c.X, c.Y, c.W, c.H = x+2, y+2, svgCellW-4, svgCellH-4
			}
			v.Cells = append(v.Cells, c)
		}
	}
	gridW := x0 + len(rep.Domains)*(svgCellW+svgGap) + svgPad
	v.LegendY = y0 + len(rs)*(svgCellH+svgGap) + 16
	x := svgPad
	for _, vd := range legendOrder {
		label := string(vd)
		v.Legend = append(v.Legend, svgLegend{X: x, Y: v.LegendY, W: svgSwatch, H: svgSwatch, Fill: VerdictColors[vd], Label: label, LX: x + svgSwatch + 6, LY: v.LegendY + 14})
		x += svgSwatch + 6 + len(label)*svgCharW + 22
	}
	// The wrong-prediction swatch is wider than the others so that its "!"
	// clears the thick border, as in a cell.
	const wrongW = 28
	v.Legend = append(v.Legend, svgLegend{X: x + 1, Y: v.LegendY + 1, W: wrongW - 2, H: svgSwatch - 2, Fill: "#ffffff", Stroke: "#000000", StrokeWidth: 3, Mark: "!",
		MX: x + wrongW/2, MY: v.LegendY + 14, Label: "wrong prediction", LX: x + wrongW + 6, LY: v.LegendY + 14})
	x += wrongW + 6 + len("wrong prediction")*svgCharW + 22
	v.Legend = append(v.Legend, svgLegend{X: x, Y: v.LegendY, W: svgSwatch, H: svgSwatch, Fill: "#ffffff", Stroke: "#9e9e9e", StrokeWidth: 1, Mark: "=",
		MX: x + svgSwatch/2, MY: v.LegendY + 14, Label: "prediction confirmed", LX: x + svgSwatch + 6, LY: v.LegendY + 14})
	x += svgSwatch + 6 + len("prediction confirmed")*svgCharW + svgPad
	v.W = max(gridW, x)
	v.H = v.LegendY + svgLegendH - 16
	return v
}

// steadySummary counts the SLO gate's samples per phase (before, during,
// after, then any other), naming the first failure of each.
func steadySummary(samples []Sample) []string {
	type count struct {
		ok, failed int
		first      string
	}
	counts := map[string]*count{}
	var phases []string
	for _, s := range samples {
		c := counts[s.Phase]
		if c == nil {
			c = &count{}
			counts[s.Phase] = c
			phases = append(phases, s.Phase)
		}
		if s.OK {
			c.ok++
		} else {
			c.failed++
			if c.first == "" {
				c.first = cmp.Or(s.Reason, "no reason")
			}
		}
	}
	order := map[string]int{Before: 0, During: 1, After: 2}
	slices.SortStableFunc(phases, func(a, b string) int {
		oa, ok := order[a]
		if !ok {
			oa = 3
		}
		ob, ok := order[b]
		if !ok {
			ob = 3
		}
		return oa - ob
	})
	var out []string
	for _, ph := range phases {
		c := counts[ph]
		line := fmt.Sprintf("%s: %d ok, %d failed", ph, c.ok, c.failed)
		if c.first != "" {
			line += " (first: " + c.first + ")"
		}
		out = append(out, line)
	}
	return out
}

// stamp is a time in UTC to the second, "-" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// class is the CSS class of a verdict.
func class(v Verdict) string { return "v-" + string(v) }

func statusClass(s Status) string {
	switch s {
	case Ran:
		return ""
	case NotRun:
		return "v-not-run"
	}
	return "v-failed"
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:20px 28px;color:#1a1a1a;background:#fff;font-size:14px;line-height:1.4}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
.facts{display:flex;flex-wrap:wrap;gap:4px 20px;margin:0 0 10px;padding:0;list-style:none;color:#333}
.facts b{color:#666;font-weight:normal;margin-right:4px}
.score{display:flex;align-items:baseline;gap:14px;flex-wrap:wrap;margin:6px 0 2px}
.score .big{font-size:30px;font-weight:700}
.result{font-weight:700;padding:1px 8px;border-radius:3px;color:#fff}
.result.PASS{background:#2e7d32}.result.FAIL{background:#c62828}
.def{color:#555;font-size:13px;margin:2px 0 12px;max-width:1100px}
svg{display:block;max-width:100%;height:auto}
svg text{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin-top:4px;width:100%}
.nw{white-space:nowrap}
th,td{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;white-space:nowrap}
.v{display:inline-block;padding:1px 6px;border-radius:3px;white-space:nowrap}
.v-held{background:#2e7d32;color:#fff}.v-breached{background:#c62828;color:#fff}.v-failed{background:#ef6c00;color:#fff}
.v-not-hit{background:#90caf9;color:#111}.v-not-run{background:#9e9e9e;color:#111}
.m-ok{color:#2e7d32;font-weight:600}.m-wrong{color:#c62828;font-weight:700}
details{margin-top:4px}
ul.findings li{margin:3px 0}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<ul class="facts">{{range .Facts}}<li><b>{{index . 0}}</b>{{index . 1}}</li>{{end}}</ul>
<div class="score"><span class="big">score {{.Score}}</span><span class="result {{.Result}}">{{.Result}}</span><span>{{.Counts}}</span></div>
<p class="def">{{.Def}}</p>
{{with .SVG}}{{if .Empty}}<p>No component or no experiment: nothing to draw.</p>{{else}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Label}}">
<title>{{.Label}}</title>
{{range .Heads}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle" font-weight="bold">{{.Text}}</text>
{{end}}{{range .Rows}}<text x="{{.X}}" y="{{.Y}}" text-anchor="end">{{.Text}}</text>
{{end}}{{range .Cells}}<g><title>{{.Title}}</title><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="3" fill="{{.Fill}}"{{if .Wrong}} stroke="#000000" stroke-width="4"{{end}}/>
<text x="{{.TX}}" y="{{.TY}}" text-anchor="middle" fill="{{.Ink}}" font-weight="bold">{{.Main}}</text>{{if .Sub}}<text x="{{.TX}}" y="{{.SubY}}" text-anchor="middle" fill="{{.Ink}}" style="font-size:11px">{{.Sub}}</text>{{end}}{{if .Wrong}}<text x="{{.MarkX}}" y="{{.MarkY}}" text-anchor="middle" fill="#000000" font-weight="bold" style="font-size:20px">!</text>{{else if .Confirmed}}<text x="{{.MarkX}}" y="{{.MarkY}}" text-anchor="middle" fill="{{.Ink}}" style="font-size:14px">=</text>{{end}}</g>
{{end}}{{range .Legend}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="2" fill="{{.Fill}}"{{if .Stroke}} stroke="{{.Stroke}}" stroke-width="{{.StrokeWidth}}"{{end}}/>{{if .Mark}}<text x="{{.MX}}" y="{{.MY}}" text-anchor="middle" font-weight="bold">{{.Mark}}</text>{{end}}<text x="{{.LX}}" y="{{.LY}}">{{.Label}}</text>
{{end}}</svg>{{end}}{{end}}

<h2>Pairs</h2>
<table>
<thead><tr><th>component</th><th>domain</th><th>verdict</th><th>min ready / needed / replicas</th><th>recovery</th><th>injected</th><th>prediction</th><th>match</th><th>experiment</th><th>reason</th></tr></thead>
<tbody>
{{range .Pairs}}<tr><td>{{.Component}}</td><td>{{.Domain}}</td><td><span class="v {{.Class}}">{{.Verdict}}</span></td><td class="num">{{.Ready}}</td><td class="num">{{.Recovery}}</td><td class="num">{{.Injected}}</td><td>{{.Predicted}}</td><td class="{{.MatchClass}}">{{.Match}}</td><td>{{.Experiment}}</td><td>{{.Reason}}</td></tr>
{{end}}</tbody>
</table>

<h2>Experiments</h2>
<table>
<thead><tr><th>experiment</th><th>fault / domain (executor)</th><th>target</th><th>status</th><th>timing</th><th>injected</th><th>targets</th><th>status checks</th><th>steady state</th><th>note</th></tr></thead>
<tbody>
{{range .Exps}}<tr><td>{{.Name}}</td><td>{{.Fault}} / {{.Domain}} ({{.Executor}})</td><td>{{.Target}}</td><td><span class="v {{.StatusClass}}">{{.Status}}</span></td><td>{{.Times}}</td><td>{{.Injected}}{{if .Aborted}}<br>aborted: {{.Aborted}}{{end}}</td><td>{{.Targets}}</td><td><span class="nw">{{.Checks}}</span>{{if .Records}}<details><summary>records</summary><table>{{range .Records}}<tr><td>{{.Time.UTC.Format "15:04:05"}}</td><td>{{.Check}}</td><td>{{.Outcome}}</td><td>{{.Message}}</td></tr>{{end}}</table></details>{{end}}</td><td>{{range .Steady}}{{.}}<br>{{else}}-{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody>
</table>

<h2>Findings</h2>
{{if .Findings}}<ul class="findings">{{range .Findings}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>No findings.</p>{{end}}
</body>
</html>
`))
