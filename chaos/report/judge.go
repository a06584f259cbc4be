package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DomainOrder is the column order of the failure domains; a run's other
// domains come after these, sorted by name.
var DomainOrder = []string{"pod", "container", "node", "zone", "drain", "network", "stress", "dns"}

// Verdict is what one component went through in one failure domain.
type Verdict string

// The verdicts, from best to worst news (see worse for the ranking used
// when several experiments judge one pair).
const (
	// VerdictHeld: a fault took some of its pods and it kept at least
	// Needed ready and was back to full strength within the run's limit.
	VerdictHeld Verdict = "held"
	// VerdictBreached: a fault took some of its pods and it fell below
	// Needed ready, or was not back to full strength within the limit.
	VerdictBreached Verdict = "breached"
	// VerdictFailed: the experiment could not inject or observe (its
	// Error); never a pass.
	VerdictFailed Verdict = "failed"
	// VerdictNotHit: the experiment ran but took none of its pods.
	VerdictNotHit Verdict = "not-hit"
	// VerdictNotRun: no experiment of the domain acted on it.
	VerdictNotRun Verdict = "not-run"
)

// rank orders verdicts for "the worst wins": breached > failed > held >
// not-hit > not-run. A held pair outranks not-hit because it is evidence,
// and failed outranks held because a pass elsewhere does not excuse an
// experiment that could not tell.
func (v Verdict) rank() int {
	switch v {
	case VerdictBreached:
		return 4
	case VerdictFailed:
		return 3
	case VerdictHeld:
		return 2
	case VerdictNotHit:
		return 1
	}
	return 0
}

// The predictions of the failure-domain analysis (Component.Predicted);
// PredictionNone stands for a domain it said nothing about.
const (
	PredictionSurvives = "survives"
	PredictionDegraded = "degraded"
	PredictionSPOF     = "spof"
	PredictionNone     = "none"
)

// Match compares the analysis' prediction with the verdict.
type Match string

// The outcomes of the comparison.
const (
	// MatchConfirmed: held where the analysis said survives or degraded,
	// or breached where it said spof.
	MatchConfirmed Match = "confirmed"
	// MatchWrong: held where it said spof (the worst case was not
	// exercised, or the analysis is too pessimistic), or breached where
	// it said survives or degraded (the analysis missed a failure). A
	// finding either way.
	MatchWrong Match = "wrong"
	// MatchNA: nothing to compare (no prediction, or the pair was not
	// hit, not run or failed).
	MatchNA Match = "n/a"
)

// NoExperimentReason is the reason of a not-run pair that no experiment of
// its domain concerned.
const NoExperimentReason = "no experiment of this domain targeted it"

// Pair is the verdict on one component in one failure domain, with the
// evidence of the experiment that decided it.
type Pair struct {
	// Component is namespace/name; Namespace, Name and Kind as in
	// Component.
	Component string `json:"component"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Kind      string `json:"kind,omitempty"`
	// Domain is the failure domain (an Experiment.Domain).
	Domain  string  `json:"domain"`
	Verdict Verdict `json:"verdict"`
	// Reason says why, in a line: what breached, which experiment did not
	// touch it, why nothing ran, or the experiment's error.
	Reason string `json:"reason"`
	// Experiment and Fault name the experiment that decided the verdict;
	// empty when no experiment of the domain concerned the component.
	Experiment string `json:"experiment,omitempty"`
	Fault      string `json:"fault,omitempty"`
	// Replicas and Needed: desired and required ready replicas (from the
	// deciding impact, else from the Component).
	Replicas int `json:"replicas"`
	Needed   int `json:"needed"`
	// Hit, MinReady and RecoverySeconds come from the deciding impact
	// (pods taken; fewest ready; seconds from the fault's end to full
	// strength, -1 when not within the run's limit). They are evidence
	// only when Verdict is held or breached (Observed is true).
	Observed        bool    `json:"observed"`
	Hit             int     `json:"hit"`
	MinReady        int     `json:"minReady"`
	RecoverySeconds float64 `json:"recoverySeconds"`
	// Injected and Aborted as in the deciding Experiment.
	Injected int  `json:"injected"`
	Aborted  bool `json:"aborted"`
	// DurationSeconds is the deciding experiment's duration (Started to
	// Finished), 0 when unknown.
	DurationSeconds float64 `json:"durationSeconds"`
	// Weight is the component's weight in the score (Component.Weight,
	// 1 when unset).
	Weight int `json:"weight"`
	// Predicted is the analysis' verdict for the domain (survives,
	// degraded, spof, or none), PredictedReason its reason when it gave
	// one, Match the comparison with Verdict.
	Predicted       string `json:"predicted"`
	PredictedReason string `json:"predictedReason,omitempty"`
	Match           Match  `json:"match"`
}

// Summary totals the pairs of a report.
//
// Score = 100 * sum(weight of held pairs) / sum(weight of held + breached
// pairs), weight being Component.Weight (1 when unset): the weighted share
// of the component x domain pairs a fault actually hit that kept their
// steady state. Not-run, not-hit and failed pairs are counted apart and
// never as passes; when no pair was hit the score is undefined (nil,
// printed "n/a"), never 100.
type Summary struct {
	// Score in percent (0..100), nil when no pair was held or breached.
	Score *float64 `json:"score"`
	// HeldWeight and RanWeight are the score's numerator and denominator.
	HeldWeight int `json:"heldWeight"`
	RanWeight  int `json:"ranWeight"`
	// Coverage in percent (0..100): (held + breached pairs) / all pairs;
	// 0 when there are no pairs.
	Coverage float64 `json:"coverage"`
	// Pairs counts all pairs; the rest count them per verdict.
	Pairs    int `json:"pairs"`
	Held     int `json:"held"`
	Breached int `json:"breached"`
	Failed   int `json:"failed"`
	NotHit   int `json:"notHit"`
	NotRun   int `json:"notRun"`
	// Confirmed and Wrong count the predictions per Match.
	Confirmed int `json:"confirmed"`
	Wrong     int `json:"wrong"`
}

// Report is the judged run: `cloudscale chaos report` writes it with
// Write.
type Report struct {
	Run *Run `json:"run"`
	// Domains are the matrix columns (DomainOrder, then other domains
	// sorted): only domains some experiment of the run has.
	Domains []string `json:"domains"`
	// Pairs are sorted by namespace, component name and domain column.
	Pairs   []Pair  `json:"pairs"`
	Summary Summary `json:"summary"`
	// Findings are one line each per breached pair, failed pair and
	// wrong prediction, in Pairs order.
	Findings []string `json:"findings"`
}

// Failed reports whether the run found a problem: a breached or failed
// pair, or a wrong prediction.
func (r *Report) Failed() bool {
	return r.Summary.Breached > 0 || r.Summary.Failed > 0 || r.Summary.Wrong > 0
}

// Pair returns the pair of component (namespace/name) in domain.
func (r *Report) Pair(component, domain string) (Pair, bool) {
	for _, p := range r.Pairs {
		if p.Component == component && p.Domain == domain {
			return p, true
		}
	}
	return Pair{}, false
}

// Judge gives a verdict per component of the run and domain of its
// experiments (see Verdict; the worst of several experiments wins),
// compares it with the analysis' prediction, and scores the run (see
// Summary).
func Judge(r *Run) *Report {
	rep := &Report{Run: r, Domains: domains(r), Pairs: []Pair{}, Findings: []string{}}
	for _, c := range r.Components {
		for _, d := range rep.Domains {
			rep.Pairs = append(rep.Pairs, judgePair(r, c, d))
		}
	}
	col := map[string]int{}
	for i, d := range rep.Domains {
		col[d] = i
	}
	slices.SortStableFunc(rep.Pairs, func(a, b Pair) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(col[a.Domain], col[b.Domain]))
	})
	s := &rep.Summary
	for _, p := range rep.Pairs {
		s.Pairs++
		switch p.Verdict {
		case VerdictHeld:
			s.Held++
			s.HeldWeight += p.Weight
			s.RanWeight += p.Weight
		case VerdictBreached:
			s.Breached++
			s.RanWeight += p.Weight
		case VerdictFailed:
			s.Failed++
		case VerdictNotHit:
			s.NotHit++
		case VerdictNotRun:
			s.NotRun++
		}
		switch p.Match {
		case MatchConfirmed:
			s.Confirmed++
		case MatchWrong:
			s.Wrong++
		}
		if f := finding(p); f != "" {
			rep.Findings = append(rep.Findings, f)
		}
	}
	if s.RanWeight > 0 {
		score := 100 * float64(s.HeldWeight) / float64(s.RanWeight)
		s.Score = &score
	}
	if s.Pairs > 0 {
		s.Coverage = 100 * float64(s.Held+s.Breached) / float64(s.Pairs)
	}
	return rep
}

// domains are the run's experiment domains in column order.
func domains(r *Run) []string {
	seen := map[string]bool{}
	for _, e := range r.Experiments {
		if e.Domain != "" {
			seen[e.Domain] = true
		}
	}
	var out, other []string
	for _, d := range DomainOrder {
		if seen[d] {
			out = append(out, d)
			delete(seen, d)
		}
	}
	for d := range seen {
		other = append(other, d)
	}
	slices.Sort(other)
	return append(append([]string{}, out...), other...)
}

// judgePair decides one component in one domain from every experiment of
// the domain that concerns it.
func judgePair(r *Run, c Component, domain string) Pair {
	key := c.Key()
	best := unjudgedPair(c, domain)
	decided := false
	for _, e := range r.Experiments {
		if e.Domain != domain {
			continue
		}
		im, hit := impactOf(e, key)
		if e.Component != "" && e.Component != key && !hit {
			// A targeted fault only concerns its target, unless the run saw
			// it take pods of another component too.
			continue
		}
		p := experimentPair(best, c, e, im, hit)
		if !decided || worse(p, best) {
			best, decided = p, true
		}
	}
	best.Predicted = PredictionNone
	if v := c.Predicted[domain]; v != "" {
		best.Predicted = v
	}
	best.PredictedReason = c.Reasons[domain]
	best.Match = match(best.Verdict, best.Predicted)
	return best
}

// unjudgedPair is the pair of c in domain before any experiment is
// considered: not run, for want of an experiment of the domain.
func unjudgedPair(c Component, domain string) Pair {
	weight := c.Weight
	if weight == 0 {
		weight = 1
	}
	return Pair{
		Component: c.Key(), Namespace: c.Namespace, Name: c.Name, Kind: c.Kind, Domain: domain,
		Verdict: VerdictNotRun, Reason: NoExperimentReason,
		Replicas: c.Replicas, Needed: c.Needed, Weight: weight,
	}
}

// experimentPair is p as experiment e alone decides it: e's evidence
// replaces any earlier experiment's, im being c's impact in e when hit.
func experimentPair(p Pair, c Component, e Experiment, im Impact, hit bool) Pair {
	p.Experiment, p.Fault = e.Name, e.Fault
	p.Injected, p.Aborted = e.Injected, e.Aborted
	p.DurationSeconds = duration(e).Seconds()
	p.Replicas, p.Needed = c.Replicas, c.Needed
	p.Observed, p.Hit, p.MinReady, p.RecoverySeconds = false, 0, 0, 0
	switch e.Status {
	case Ran:
		if !hit {
			p.Verdict = VerdictNotHit
			p.Reason = fmt.Sprintf("%s did not touch it", e.Name)
			break
		}
		p = observedPair(p, e, im)
	case NotRun:
		p.Verdict = VerdictNotRun
		p.Reason = cmp.Or(e.NotRunReason, "not run (no reason recorded)")
	case Failed:
		p.Verdict = VerdictFailed
		p.Reason = fmt.Sprintf("%s failed: %s", e.Name, cmp.Or(e.Error, "no error recorded"))
	default:
		p.Verdict = VerdictFailed
		p.Reason = fmt.Sprintf("%s has unknown status %q", e.Name, e.Status)
	}
	return p
}

// observedPair is p judged held or breached on im, the impact of e, an
// experiment that ran and took some of its pods.
func observedPair(p Pair, e Experiment, im Impact) Pair {
	if im.Replicas > 0 {
		p.Replicas = im.Replicas
	}
	if im.Needed > 0 {
		p.Needed = im.Needed
	}
	p.Observed, p.Hit, p.MinReady, p.RecoverySeconds = true, im.Hit, im.MinReady, im.RecoverySeconds
	var why []string
	if p.MinReady < p.Needed {
		why = append(why, fmt.Sprintf("%d ready of %d needed", p.MinReady, p.Needed))
	}
	if p.RecoverySeconds < 0 {
		why = append(why, fmt.Sprintf("not back to %d ready within the run's limit", p.Replicas))
	}
	switch {
	case im.Basis == BasisStatusChecks && len(why) > 0:
		p.Verdict = VerdictBreached
		p.Reason = fmt.Sprintf("%s: the SLO gate's StatusChecks failed or aborted the workflow (ready replicas were not counted on this cluster)", e.Name)
	case im.Basis == BasisStatusChecks:
		p.Verdict = VerdictHeld
		p.Reason = fmt.Sprintf("%s: every StatusCheck of the SLO gate passed (ready replicas were not counted on this cluster)", e.Name)
	case len(why) > 0:
		p.Verdict = VerdictBreached
		p.Reason = fmt.Sprintf("%s took %d pod(s): %s", e.Name, p.Hit, strings.Join(why, "; "))
	default:
		p.Verdict = VerdictHeld
		p.Reason = fmt.Sprintf("%s took %d pod(s): at least %d ready of %d needed, back to %d in %.1fs", e.Name, p.Hit, p.MinReady, p.Needed, p.Replicas, p.RecoverySeconds)
	}
	return p
}

// impactOf is the component's impact in e with Hit > 0 (the largest if
// several were recorded).
func impactOf(e Experiment, key string) (Impact, bool) {
	var out Impact
	found := false
	for _, im := range e.Impacts {
		if im.Component == key && im.Hit > 0 && (!found || im.Hit > out.Hit) {
			out, found = im, true
		}
	}
	return out, found
}

// worse reports whether a should replace b as the deciding experiment: a
// worse verdict, or for two held or breached, the one with less margin
// (fewest ready above needed, then no recovery, then slower recovery) so
// that the evidence shown is the closest call. Otherwise the first wins.
func worse(a, b Pair) bool {
	if a.Verdict.rank() != b.Verdict.rank() {
		return a.Verdict.rank() > b.Verdict.rank()
	}
	if !a.Observed || !b.Observed {
		return false
	}
	if ma, mb := a.MinReady-a.Needed, b.MinReady-b.Needed; ma != mb {
		return ma < mb
	}
	if (a.RecoverySeconds < 0) != (b.RecoverySeconds < 0) {
		return a.RecoverySeconds < 0
	}
	return a.RecoverySeconds > b.RecoverySeconds
}

// match compares a verdict with a prediction.
func match(v Verdict, predicted string) Match {
	switch {
	case v == VerdictHeld && (predicted == PredictionSurvives || predicted == PredictionDegraded):
		return MatchConfirmed
	case v == VerdictBreached && predicted == PredictionSPOF:
		return MatchConfirmed
	case v == VerdictHeld && predicted == PredictionSPOF:
		return MatchWrong
	case v == VerdictBreached && (predicted == PredictionSurvives || predicted == PredictionDegraded):
		return MatchWrong
	}
	return MatchNA
}

// finding is the line a pair adds to the findings, "" when none.
func finding(p Pair) string {
	var parts []string
	switch p.Verdict {
	case VerdictBreached, VerdictFailed:
		parts = append(parts, fmt.Sprintf("%s %s %s: %s", strings.ToUpper(string(p.Verdict)), p.Component, p.Domain, p.Reason))
	}
	if p.Match == MatchWrong {
		parts = append(parts, wrongText(p))
	}
	if len(parts) == 0 {
		return ""
	}
	if len(parts) == 2 {
		return parts[0] + "; " + parts[1]
	}
	if p.Match == MatchWrong {
		return fmt.Sprintf("WRONG %s %s: %s", p.Component, p.Domain, parts[0])
	}
	return parts[0]
}

// wrongText explains a wrong prediction.
func wrongText(p Pair) string {
	if p.Verdict == VerdictHeld {
		s := fmt.Sprintf("wrong prediction: the analysis said %s, %s held (%d ready of %d needed): the worst case was not exercised or the analysis is too pessimistic", p.Predicted, p.Experiment, p.MinReady, p.Needed)
		if p.PredictedReason != "" {
			s += " (analysis: " + p.PredictedReason + ")"
		}
		return s
	}
	return fmt.Sprintf("wrong prediction: the analysis said %s, the run saw it breach: the analysis missed a failure", p.Predicted)
}

// duration is e's Started to Finished, 0 when either is unknown.
func duration(e Experiment) time.Duration {
	if e.Started.IsZero() || e.Finished.IsZero() || e.Finished.Before(e.Started) {
		return 0
	}
	return e.Finished.Sub(e.Started)
}
