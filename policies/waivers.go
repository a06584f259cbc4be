package policies

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Waiver accepts one rule's findings on matching resources, for a reason,
// until a date.
type Waiver struct {
	Rule string `json:"rule"`
	// Resource is a glob over the resource URN or its name: * matches any
	// run of characters (slashes and colons too), ? one character.
	Resource string `json:"resource"`
	Reason   string `json:"reason"`
	Owner    string `json:"owner"`
	Expires  string `json:"expires"`

	expiry  time.Time
	pattern *regexp.Regexp
}

type waiverFile struct {
	Waivers []Waiver `json:"waivers"`
}

// LoadWaivers reads and checks a waiver file. Every entry needs a known
// rule, a resource pattern, a reason, an owner and an expiry date; a
// missing or malformed one is an input error naming the entry.
func LoadWaivers(file string, e *Engine) ([]Waiver, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("waivers %s: %w", file, err)
	}
	var wf waiverFile
	if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
		return nil, fmt.Errorf("waivers %s: %v", file, err)
	}
	var problems []string
	for i := range wf.Waivers {
		w := &wf.Waivers[i]
		where := fmt.Sprintf("waivers[%d]", i)
		if w.Rule != "" {
			where += " (" + w.Rule + ")"
		}
		var missing []string
		for k, v := range map[string]string{"rule": w.Rule, "resource": w.Resource, "reason": w.Reason, "owner": w.Owner, "expires": w.Expires} {
			if strings.TrimSpace(v) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			problems = append(problems, fmt.Sprintf("%s: missing %s; a waiver needs rule, resource, reason, owner and expires (YYYY-MM-DD)", where, strings.Join(missing, ", ")))
			continue
		}
		if _, ok := e.Rule(w.Rule); !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown rule %q", where, w.Rule))
		}
		w.pattern = glob(w.Resource)
		t, err := time.Parse("2006-01-02", w.Expires)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: expires %q is not a date (YYYY-MM-DD)", where, w.Expires))
		}
		w.expiry = t
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("waivers %s:\n  %s", file, strings.Join(problems, "\n  "))
	}
	return wf.Waivers, nil
}

// Apply marks the findings each live waiver covers, and lists the waivers
// used and those that expired (an expired waiver waives nothing).
func (r *Report) Apply(ws []Waiver, now time.Time) {
	used := map[int]bool{}
	expired := map[int]bool{}
	for i := range r.Findings {
		f := &r.Findings[i]
		for j, w := range ws {
			if w.Rule != f.RuleID || !w.matches(f) {
				continue
			}
			if !now.Before(w.expiry.AddDate(0, 0, 1)) {
				expired[j] = true
				continue
			}
			f.Waived = true
			wc := w
			f.Waiver = &wc
			used[j] = true
			break
		}
	}
	for j, w := range ws {
		if used[j] {
			r.ActiveWaivers = append(r.ActiveWaivers, w)
		}
		if expired[j] {
			r.ExpiredWaivers = append(r.ExpiredWaivers, w)
		}
	}
}

func (w Waiver) matches(f *Finding) bool {
	for _, s := range []string{f.Resource, f.Name} {
		if s != "" && w.pattern != nil && w.pattern.MatchString(s) {
			return true
		}
	}
	return false
}

func glob(p string) *regexp.Regexp {
	q := regexp.QuoteMeta(p)
	q = strings.ReplaceAll(q, `\*`, ".*")
	q = strings.ReplaceAll(q, `\?`, ".")
	return regexp.MustCompile("^" + q + "$")
}
