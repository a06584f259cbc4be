package policies

import (
	"sort"
	"time"
)

// Finding is one rule failing on one resource (or, for a stack rule, on the
// stack as a whole: Resource is then empty).
type Finding struct {
	RuleID      string  `json:"ruleId"`
	Title       string  `json:"title"`
	Severity    string  `json:"severity"`
	Category    string  `json:"category"`
	Enforcement string  `json:"enforcement"`
	Resource    string  `json:"resource,omitempty"`
	Type        string  `json:"type,omitempty"`
	Name        string  `json:"name,omitempty"`
	Message     string  `json:"message"`
	Fix         string  `json:"fix"`
	Waived      bool    `json:"waived,omitempty"`
	Waiver      *Waiver `json:"waiver,omitempty"`
}

// Report is the outcome of one check.
type Report struct {
	Source string `json:"source"`
	Env    string `json:"env"`
	// Settings names the settings the rules read: a file, or BuiltinSettings.
	Settings  string        `json:"settings"`
	Resources int           `json:"resources"`
	Rules     int           `json:"rules"`
	Findings  []Finding     `json:"findings"`
	Duration  time.Duration `json:"durationNs"`
	// ActiveWaivers waived at least one finding here; ExpiredWaivers would
	// have, had they not expired.
	ActiveWaivers  []Waiver `json:"activeWaivers,omitempty"`
	ExpiredWaivers []Waiver `json:"expiredWaivers,omitempty"`
}

// Mandatory counts the findings that fail the gate: mandatory and not waived.
func (r *Report) Mandatory() int {
	n := 0
	for _, f := range r.Findings {
		if f.Enforcement == Mandatory && !f.Waived {
			n++
		}
	}
	return n
}

// Advisory counts findings reported but not failing the gate.
func (r *Report) Advisory() int {
	n := 0
	for _, f := range r.Findings {
		if f.Enforcement == Advisory && !f.Waived {
			n++
		}
	}
	return n
}

// Waived counts findings a waiver covers.
func (r *Report) Waived() int {
	n := 0
	for _, f := range r.Findings {
		if f.Waived {
			n++
		}
	}
	return n
}

func (r *Report) sort() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Enforcement != b.Enforcement {
			return a.Enforcement == Mandatory
		}
		if severities[a.Severity] != severities[b.Severity] {
			return severities[a.Severity] > severities[b.Severity]
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Message < b.Message
	})
}
