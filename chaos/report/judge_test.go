package report

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 9, 10, 10, 0, 0, 0, time.UTC)

func comp(ns, name string, replicas, needed, weight int, predicted map[string]string) Component {
	return Component{Name: name, Namespace: ns, Kind: "Deployment", Replicas: replicas, Needed: needed, Weight: weight, Predicted: predicted}
}

// ran is an experiment that ran, its impacts given.
func ran(name, domain string, impacts ...Impact) Experiment {
	return Experiment{Name: name, Fault: domain + "-fault", Domain: domain, Executor: "cloudscale", Status: Ran, Injected: len(impacts),
		Started: t0, Finished: t0.Add(30 * time.Second), Impacts: impacts}
}

func hit(component string, hit, replicas, needed, minReady int, recovery float64) Impact {
	return Impact{Component: component, Hit: hit, Replicas: replicas, Needed: needed, MinReady: minReady, RecoverySeconds: recovery}
}

func notRun(name, domain, reason string) Experiment {
	return Experiment{Name: name, Domain: domain, Status: NotRun, NotRunReason: reason, Started: t0}
}

func failed(name, domain, err string) Experiment {
	return Experiment{Name: name, Domain: domain, Status: Failed, Error: err, Started: t0}
}

func targeted(e Experiment, component string) Experiment {
	e.Component = component
	return e
}

func TestJudgePairs(t *testing.T) {
	api := comp("app", "api", 3, 2, 2, map[string]string{"pod": "survives", "zone": "survives", "node": "degraded"})
	db := comp("app", "db", 3, 2, 2, map[string]string{"zone": "spof"})
	tests := []struct {
		name        string
		comps       []Component
		exps        []Experiment
		component   string
		domain      string
		verdict     Verdict
		match       Match
		experiment  string
		reason      string // a substring of Reason
		minReady    int
		needed      int
		recoverySec float64
	}{
		{
			name:      "held",
			comps:     []Component{api},
			exps:      []Experiment{targeted(ran("kill-api", "pod", hit("app/api", 1, 3, 2, 2, 8)), "app/api")},
			component: "app/api", domain: "pod", verdict: VerdictHeld, match: MatchConfirmed, experiment: "kill-api",
			reason: "back to 3 in 8.0s", minReady: 2, needed: 2, recoverySec: 8,
		},
		{
			name:      "breached by quorum",
			comps:     []Component{api},
			exps:      []Experiment{ran("zone-a", "zone", hit("app/api", 2, 3, 2, 1, 12))},
			component: "app/api", domain: "zone", verdict: VerdictBreached, match: MatchWrong, experiment: "zone-a",
			reason: "1 ready of 2 needed", minReady: 1, needed: 2, recoverySec: 12,
		},
		{
			name:      "breached by no recovery",
			comps:     []Component{api},
			exps:      []Experiment{ran("node-1", "node", hit("app/api", 1, 3, 2, 2, -1))},
			component: "app/api", domain: "node", verdict: VerdictBreached, match: MatchWrong, experiment: "node-1",
			reason: "not back to 3 ready", minReady: 2, needed: 2, recoverySec: -1,
		},
		{
			name:      "not hit: the fault touched another component",
			comps:     []Component{api, db},
			exps:      []Experiment{ran("node-1", "node", hit("app/db", 1, 3, 2, 2, 4), hit("app/api", 0, 3, 2, 3, 0))},
			component: "app/api", domain: "node", verdict: VerdictNotHit, match: MatchNA, experiment: "node-1",
			reason: "node-1 did not touch it", needed: 2,
		},
		{
			name:      "not run with its reason",
			comps:     []Component{api},
			exps:      []Experiment{notRun("zone-a", "zone", "the cluster has one zone")},
			component: "app/api", domain: "zone", verdict: VerdictNotRun, match: MatchNA, experiment: "zone-a",
			reason: "the cluster has one zone", needed: 2,
		},
		{
			name:      "not run: the domain's only experiment targeted another component",
			comps:     []Component{api, db},
			exps:      []Experiment{targeted(ran("kill-db", "pod", hit("app/db", 1, 3, 2, 2, 3)), "app/db")},
			component: "app/api", domain: "pod", verdict: VerdictNotRun, match: MatchNA,
			reason: NoExperimentReason, needed: 2,
		},
		{
			name:      "a targeted not-run concerns only its target",
			comps:     []Component{api, db},
			exps:      []Experiment{targeted(notRun("kill-db", "pod", "no chaos mesh"), "app/db")},
			component: "app/api", domain: "pod", verdict: VerdictNotRun, reason: NoExperimentReason, match: MatchNA, needed: 2,
		},
		{
			name:      "failed with its error",
			comps:     []Component{api},
			exps:      []Experiment{failed("zone-a", "zone", "cordon node-a-1: connection refused")},
			component: "app/api", domain: "zone", verdict: VerdictFailed, match: MatchNA, experiment: "zone-a",
			reason: "connection refused", needed: 2,
		},
		{
			name:  "worst wins: the second of two zone outages breached",
			comps: []Component{db},
			exps: []Experiment{
				ran("zone-a", "zone", hit("app/db", 1, 3, 2, 2, 10)),
				ran("zone-b", "zone", hit("app/db", 2, 3, 2, 1, 30)),
			},
			component: "app/db", domain: "zone", verdict: VerdictBreached, match: MatchConfirmed, experiment: "zone-b",
			reason: "zone-b took 2 pod(s)", minReady: 1, needed: 2, recoverySec: 30,
		},
		{
			name:  "worst wins: the first of two zone outages breached",
			comps: []Component{db},
			exps: []Experiment{
				ran("zone-a", "zone", hit("app/db", 2, 3, 2, 0, 40)),
				ran("zone-b", "zone", hit("app/db", 1, 3, 2, 2, 10)),
			},
			component: "app/db", domain: "zone", verdict: VerdictBreached, match: MatchConfirmed, experiment: "zone-a",
			minReady: 0, needed: 2, recoverySec: 40,
		},
		{
			name:  "two held: the closer call is the evidence",
			comps: []Component{api},
			exps: []Experiment{
				ran("zone-a", "zone", hit("app/api", 1, 3, 2, 2, 10)),
				ran("zone-b", "zone", hit("app/api", 1, 3, 2, 2, 25)),
				ran("zone-c", "zone", hit("app/api", 1, 3, 2, 3, 50)),
			},
			component: "app/api", domain: "zone", verdict: VerdictHeld, match: MatchConfirmed, experiment: "zone-b",
			minReady: 2, needed: 2, recoverySec: 25,
		},
		{
			name:  "failed beats held",
			comps: []Component{api},
			exps: []Experiment{
				ran("zone-a", "zone", hit("app/api", 1, 3, 2, 2, 10)),
				failed("zone-b", "zone", "interrupted"),
			},
			component: "app/api", domain: "zone", verdict: VerdictFailed, match: MatchNA, experiment: "zone-b", reason: "interrupted", needed: 2,
		},
		{
			name:  "held beats not-hit and not-run",
			comps: []Component{api},
			exps: []Experiment{
				notRun("zone-c", "zone", "no zone c"),
				ran("zone-a", "zone"),
				ran("zone-b", "zone", hit("app/api", 1, 3, 2, 2, 7)),
			},
			component: "app/api", domain: "zone", verdict: VerdictHeld, match: MatchConfirmed, experiment: "zone-b",
			minReady: 2, needed: 2, recoverySec: 7,
		},
		{
			name:      "not-hit beats not-run",
			comps:     []Component{api},
			exps:      []Experiment{notRun("zone-c", "zone", "no zone c"), ran("zone-a", "zone")},
			component: "app/api", domain: "zone", verdict: VerdictNotHit, match: MatchNA, experiment: "zone-a", needed: 2,
		},
		{
			name:      "wrong prediction: held where the analysis said spof",
			comps:     []Component{db},
			exps:      []Experiment{ran("zone-a", "zone", hit("app/db", 1, 3, 2, 2, 9))},
			component: "app/db", domain: "zone", verdict: VerdictHeld, match: MatchWrong, experiment: "zone-a",
			minReady: 2, needed: 2, recoverySec: 9,
		},
		{
			name:      "wrong prediction: breached where the analysis said degraded",
			comps:     []Component{api},
			exps:      []Experiment{ran("node-1", "node", hit("app/api", 2, 3, 2, 1, 9))},
			component: "app/api", domain: "node", verdict: VerdictBreached, match: MatchWrong, experiment: "node-1",
			minReady: 1, needed: 2, recoverySec: 9,
		},
		{
			name:      "no prediction: n/a",
			comps:     []Component{db},
			exps:      []Experiment{ran("node-1", "node", hit("app/db", 1, 3, 2, 1, 9))},
			component: "app/db", domain: "node", verdict: VerdictBreached, match: MatchNA, experiment: "node-1",
			minReady: 1, needed: 2, recoverySec: 9,
		},
		{
			name:      "an untargeted-by-name fault that took its pods counts",
			comps:     []Component{api, db},
			exps:      []Experiment{targeted(ran("stress-db", "stress", hit("app/db", 1, 3, 2, 2, 1), hit("app/api", 1, 3, 2, 1, 2)), "app/db")},
			component: "app/api", domain: "stress", verdict: VerdictBreached, match: MatchNA, experiment: "stress-db",
			minReady: 1, needed: 2, recoverySec: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Judge(&Run{Stack: "s", Env: "dev", Started: t0, Components: tc.comps, Experiments: tc.exps})
			p, ok := rep.Pair(tc.component, tc.domain)
			if !ok {
				t.Fatalf("no pair %s %s in %+v", tc.component, tc.domain, rep.Pairs)
			}
			if p.Verdict != tc.verdict || p.Match != tc.match || p.Experiment != tc.experiment {
				t.Errorf("verdict %s, match %s, experiment %q; want %s, %s, %q (reason %q)", p.Verdict, p.Match, p.Experiment, tc.verdict, tc.match, tc.experiment, p.Reason)
			}
			if !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", p.Reason, tc.reason)
			}
			if p.MinReady != tc.minReady || p.Needed != tc.needed || p.RecoverySeconds != tc.recoverySec {
				t.Errorf("evidence min ready %d, needed %d, recovery %v; want %d, %d, %v", p.MinReady, p.Needed, p.RecoverySeconds, tc.minReady, tc.needed, tc.recoverySec)
			}
			if observed := tc.verdict == VerdictHeld || tc.verdict == VerdictBreached; p.Observed != observed {
				t.Errorf("observed %v, want %v", p.Observed, observed)
			}
			wantFailed := tc.verdict == VerdictBreached || tc.verdict == VerdictFailed || tc.match == MatchWrong
			if rep.Failed() != wantFailed {
				t.Errorf("Failed() = %v, want %v", rep.Failed(), wantFailed)
			}
			if n := len(rep.Findings); (n > 0) != (tc.verdict == VerdictBreached || tc.verdict == VerdictFailed || tc.match == MatchWrong) {
				t.Errorf("findings %q for a %s pair (match %s)", rep.Findings, tc.verdict, tc.match)
			}
		})
	}
}

func TestJudgeEvidenceOfTheDecidingExperiment(t *testing.T) {
	a := ran("zone-a", "zone", hit("app/db", 1, 3, 2, 2, 10))
	a.Injected, a.Aborted = 4, false
	b := ran("zone-b", "zone", hit("app/db", 2, 3, 2, 1, 30))
	b.Injected, b.Aborted, b.Fault = 7, true, "zone-outage"
	b.Finished = b.Started.Add(90 * time.Second)
	rep := Judge(&Run{Stack: "s", Started: t0, Components: []Component{comp("app", "db", 3, 2, 0, nil)}, Experiments: []Experiment{a, b}})
	p, _ := rep.Pair("app/db", "zone")
	want := Pair{
		Component: "app/db", Namespace: "app", Name: "db", Kind: "Deployment", Domain: "zone", Verdict: VerdictBreached,
		Experiment: "zone-b", Fault: "zone-outage", Replicas: 3, Needed: 2, Observed: true, Hit: 2, MinReady: 1, RecoverySeconds: 30,
		Injected: 7, Aborted: true, DurationSeconds: 90, Weight: 1, Predicted: PredictionNone, Match: MatchNA,
	}
	p.Reason = ""
	if p != want {
		t.Errorf("pair\n %+v\nwant\n %+v", p, want)
	}
}

func TestJudgeDomainsAndOrder(t *testing.T) {
	r := &Run{Stack: "s", Started: t0,
		Components: []Component{comp("b", "x", 1, 1, 1, nil), comp("a", "z", 1, 1, 1, nil), comp("a", "y", 1, 1, 1, nil)},
		Experiments: []Experiment{
			notRun("z", "zone", "r"), notRun("p", "pod", "r"), notRun("k", "kernel", "r"), notRun("c", "clock", "r"),
			notRun("n", "node", "r"), notRun("d", "dns", "r"), notRun("zz", "zone", "r"), {Name: "nodomain", Status: NotRun},
		}}
	rep := Judge(r)
	wantDomains := []string{"pod", "node", "zone", "dns", "clock", "kernel"}
	if !slices.Equal(rep.Domains, wantDomains) {
		t.Errorf("domains %v, want %v", rep.Domains, wantDomains)
	}
	var got []string
	for _, p := range rep.Pairs {
		got = append(got, p.Component+" "+p.Domain)
	}
	var want []string
	for _, c := range []string{"a/y", "a/z", "b/x"} {
		for _, d := range wantDomains {
			want = append(want, c+" "+d)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pairs\n %v\nwant\n %v", got, want)
	}
}

func TestJudgeScore(t *testing.T) {
	tests := []struct {
		name       string
		comps      []Component
		exps       []Experiment
		score      float64 // NaN: undefined
		coverage   float64
		held       int
		breached   int
		failed     int
		notHit     int
		notRun     int
		confirmed  int
		wrong      int
		findings   int
		failedRun  bool
		heldWeight int
		ranWeight  int
	}{
		{
			name:  "weight 2 held and weight 1 breached",
			comps: []Component{comp("app", "api", 3, 2, 2, map[string]string{"zone": "survives"}), comp("infra", "cache", 1, 1, 1, map[string]string{"zone": "spof"})},
			exps:  []Experiment{ran("zone-a", "zone", hit("app/api", 1, 3, 2, 2, 5), hit("infra/cache", 1, 1, 1, 0, 20))},
			score: 66.7, coverage: 100, held: 1, breached: 1, confirmed: 2, findings: 1, failedRun: true, heldWeight: 2, ranWeight: 3,
		},
		{
			name:  "weight 0 counts as 1",
			comps: []Component{comp("app", "api", 3, 2, 0, nil), comp("app", "web", 3, 2, 0, nil), comp("app", "db", 3, 2, 1, nil)},
			exps:  []Experiment{ran("zone-a", "zone", hit("app/api", 1, 3, 2, 2, 5), hit("app/web", 1, 3, 2, 2, 5), hit("app/db", 2, 3, 2, 1, 5))},
			score: 66.7, coverage: 100, held: 2, breached: 1, findings: 1, failedRun: true, heldWeight: 2, ranWeight: 3,
		},
		{
			name:  "undefined when nothing ran",
			comps: []Component{comp("app", "api", 3, 2, 2, map[string]string{"zone": "spof"})},
			exps:  []Experiment{notRun("zone-a", "zone", "one zone"), ran("node-1", "node")},
			score: math.NaN(), coverage: 0, notHit: 1, notRun: 1,
		},
		{
			name:  "undefined when everything failed; failed is never a pass",
			comps: []Component{comp("app", "api", 3, 2, 2, nil), comp("app", "db", 3, 2, 2, nil)},
			exps:  []Experiment{failed("zone-a", "zone", "boom")},
			score: math.NaN(), coverage: 0, failed: 2, findings: 2, failedRun: true,
		},
		{
			name:  "coverage counts not-run, not-hit and failed pairs apart",
			comps: []Component{comp("app", "api", 3, 2, 2, map[string]string{"pod": "survives", "zone": "spof"}), comp("app", "db", 3, 2, 2, nil)},
			exps: []Experiment{
				targeted(ran("kill-api", "pod", hit("app/api", 1, 3, 2, 2, 3)), "app/api"),
				ran("zone-a", "zone", hit("app/api", 1, 3, 2, 2, 4)),
				failed("drain-a", "drain", "timeout"),
			},
			// api: pod held (confirmed), zone held (wrong), drain failed;
			// db: pod not-run, zone not-hit, drain failed.
			score: 100, coverage: 100 * 2.0 / 6, held: 2, failed: 2, notHit: 1, notRun: 1, confirmed: 1, wrong: 1, findings: 3, failedRun: true,
			heldWeight: 4, ranWeight: 4,
		},
		{
			name:  "all held, all confirmed: a pass",
			comps: []Component{comp("app", "api", 3, 2, 2, map[string]string{"pod": "survives"})},
			exps:  []Experiment{ran("kill-api", "pod", hit("app/api", 1, 3, 2, 2, 3))},
			score: 100, coverage: 100, held: 1, confirmed: 1, heldWeight: 2, ranWeight: 2,
		},
		{
			name:  "no components: nothing to judge",
			exps:  []Experiment{ran("kill", "pod")},
			score: math.NaN(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Judge(&Run{Stack: "s", Started: t0, Components: tc.comps, Experiments: tc.exps})
			s := rep.Summary
			if math.IsNaN(tc.score) {
				if s.Score != nil {
					t.Errorf("score %v, want undefined", *s.Score)
				}
				if s.ScoreText() != "n/a" {
					t.Errorf("score text %q, want n/a", s.ScoreText())
				}
			} else if s.Score == nil || math.Abs(*s.Score-tc.score) > 0.05 {
				t.Errorf("score %v, want %.1f", s.Score, tc.score)
			}
			if math.Abs(s.Coverage-tc.coverage) > 0.01 {
				t.Errorf("coverage %.2f, want %.2f", s.Coverage, tc.coverage)
			}
			got := []int{s.Held, s.Breached, s.Failed, s.NotHit, s.NotRun, s.Confirmed, s.Wrong, s.HeldWeight, s.RanWeight}
			want := []int{tc.held, tc.breached, tc.failed, tc.notHit, tc.notRun, tc.confirmed, tc.wrong, tc.heldWeight, tc.ranWeight}
			if !slices.Equal(got, want) {
				t.Errorf("held, breached, failed, not-hit, not-run, confirmed, wrong, held weight, ran weight = %v, want %v", got, want)
			}
			if s.Pairs != len(rep.Pairs) || s.Pairs != s.Held+s.Breached+s.Failed+s.NotHit+s.NotRun {
				t.Errorf("pairs %d, %d listed, counts %+v", s.Pairs, len(rep.Pairs), s)
			}
			if len(rep.Findings) != tc.findings {
				t.Errorf("findings %q, want %d", rep.Findings, tc.findings)
			}
			if rep.Failed() != tc.failedRun {
				t.Errorf("Failed() = %v, want %v", rep.Failed(), tc.failedRun)
			}
		})
	}
}

func TestJudgeFindings(t *testing.T) {
	rep := Judge(fixture())
	want := []string{
		"BREACHED app/cart zone: zone-outage-a took 2 pod(s): 0 ready of 1 needed",
		"WRONG app/web zone: wrong prediction: the analysis said spof, zone-outage-a held",
		"BREACHED infra/redis pod: pod-kill-redis took 1 pod(s): 0 ready of 1 needed",
		"BREACHED infra/redis zone: zone-outage-a took 1 pod(s): 0 ready of 1 needed; not back to 1 ready within the run's limit",
	}
	var failedLines int
	for _, f := range rep.Findings {
		if strings.HasPrefix(f, "FAILED ") {
			failedLines++
		}
	}
	if failedLines != 4 { // the network experiment failed for each of the four components
		t.Errorf("%d FAILED findings, want 4: %q", failedLines, rep.Findings)
	}
	for _, w := range want {
		found := false
		for _, f := range rep.Findings {
			found = found || strings.HasPrefix(f, w)
		}
		if !found {
			t.Errorf("no finding starting %q in\n%s", w, strings.Join(rep.Findings, "\n"))
		}
	}
	if len(rep.Findings) != len(want)+failedLines {
		t.Errorf("%d findings, want %d:\n%s", len(rep.Findings), len(want)+failedLines, strings.Join(rep.Findings, "\n"))
	}
}

// fixture is a small run with every verdict: held, breached (by quorum
// and by no recovery), not-hit, not-run and failed, a confirmed and a
// wrong prediction.
func fixture() *Run {
	killAPI := targeted(ran("pod-kill-api", "pod", hit("app/api", 1, 3, 2, 2, 8)), "app/api")
	killAPI.Fault, killAPI.Executor, killAPI.Evidence = "pod-kill", "chaos-mesh", "injectedCount"
	killAPI.FaultStarted, killAPI.FaultEnded = t0.Add(5*time.Second), t0.Add(10*time.Second)
	killAPI.Targets = []string{"app/api-7d9f-abcde"}
	killAPI.StatusChecks = []StatusCheckRecord{
		{Check: "slo-gate", Time: t0.Add(6 * time.Second), Outcome: "Success"},
		{Check: "slo-gate", Time: t0.Add(8 * time.Second), Outcome: "Success"},
		{Check: "slo-gate", Time: t0.Add(10 * time.Second), Outcome: "Failure", Message: "p99 latency 812ms > 500ms"},
	}
	killAPI.SteadyState = []Sample{
		{Phase: Before, Time: t0.Add(1 * time.Second), OK: true},
		{Phase: During, Time: t0.Add(7 * time.Second), OK: true},
		{Phase: During, Time: t0.Add(9 * time.Second), OK: false, Reason: "error rate 2% > 1%"},
		{Phase: After, Time: t0.Add(20 * time.Second), OK: true},
	}
	killRedis := targeted(ran("pod-kill-redis", "pod", hit("infra/redis", 1, 1, 1, 0, 5.5)), "infra/redis")
	killRedis.Fault, killRedis.Executor = "pod-kill", "chaos-mesh"
	node := ran("node-loss-a-1", "node", hit("app/api", 1, 3, 2, 2, 12), hit("app/cart", 0, 2, 1, 2, 0))
	node.Fault, node.Node = "node-loss", "node-a-1"
	zone := ran("zone-outage-a", "zone", hit("app/cart", 2, 2, 1, 0, 20), hit("app/api", 1, 3, 2, 2, 15),
		hit("app/web", 1, 2, 1, 1, 9), hit("infra/redis", 1, 1, 1, 0, -1))
	zone.Fault, zone.Zone, zone.Blocked = "zone-outage", "zone-a", []string{"app/cart-0"}
	drain := notRun("zone-drain-b", "drain", "a drain needs spare capacity in the other zones")
	drain.Fault, drain.Zone = "zone-drain", "zone-b"
	network := failed("network-delay-api", "network", "chaos-mesh: admission webhook <denied> the request")
	network.Fault = "network-delay"
	cart := comp("app", "cart", 2, 1, 2, map[string]string{"pod": "survives", "zone": "spof"})
	cart.Kind = "StatefulSet"
	cart.Reasons = map[string]string{"zone": "both replicas in zone-a"}
	return &Run{
		Stack: "shop", Env: "dev", Source: "local cluster /tmp/kubeconfig", Zones: []string{"zone-a", "zone-b", "zone-c"}, Nodes: 6,
		Started: t0, Finished: t0.Add(4*time.Minute + 12*time.Second),
		Components: []Component{
			comp("infra", "redis", 1, 1, 1, map[string]string{"pod": "spof", "node": "spof", "zone": "spof"}),
			comp("app", "api", 3, 2, 2, map[string]string{"pod": "survives", "node": "survives", "zone": "survives"}),
			cart,
			comp("app", "web", 2, 1, 2, map[string]string{"zone": "spof"}),
		},
		Experiments: []Experiment{killAPI, killRedis, node, zone, drain, network},
	}
}

func TestJudgeFixture(t *testing.T) {
	rep := Judge(fixture())
	want := map[string]string{
		"app/api pod":       "held confirmed",
		"app/api node":      "held confirmed",
		"app/api zone":      "held confirmed",
		"app/api drain":     "not-run n/a",
		"app/api network":   "failed n/a",
		"app/cart pod":      "not-run n/a",
		"app/cart node":     "not-hit n/a",
		"app/cart zone":     "breached confirmed",
		"app/web zone":      "held wrong",
		"app/web pod":       "not-run n/a",
		"infra/redis pod":   "breached confirmed",
		"infra/redis node":  "not-hit n/a",
		"infra/redis zone":  "breached confirmed",
		"infra/redis drain": "not-run n/a",
	}
	for k, w := range want {
		c, d, _ := strings.Cut(k, " ")
		p, ok := rep.Pair(c, d)
		if got := string(p.Verdict) + " " + string(p.Match); !ok || got != w {
			t.Errorf("%s: %s, want %s (%s)", k, got, w, p.Reason)
		}
	}
	if p, _ := rep.Pair("app/api", "drain"); p.Reason != "a drain needs spare capacity in the other zones" {
		t.Errorf("drain reason %q", p.Reason)
	}
	if !slices.Equal(rep.Domains, []string{"pod", "node", "zone", "drain", "network"}) {
		t.Errorf("domains %v", rep.Domains)
	}
	// held: api pod/node/zone (2 each), web zone (2) = 8; breached: cart
	// zone (2), redis pod and zone (1 each) = 4.
	if s := rep.Summary; s.Score == nil || s.HeldWeight != 8 || s.RanWeight != 12 || s.ScoreText() != "66.7" || s.Pairs != 20 || s.Coverage != 35 {
		t.Errorf("summary %+v (score %s)", s, s.ScoreText())
	}
}
