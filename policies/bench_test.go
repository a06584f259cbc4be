package policies

import (
	"context"
	"testing"
)

// BenchmarkRuleSet10k evaluates every rule on 10,000 generated Kubernetes
// objects on one core; ns/object is reported as a metric.
func BenchmarkRuleSet10k(b *testing.B) {
	e, err := New(Workers(1))
	if err != nil {
		b.Fatal(err)
	}
	g := GenerateGraph(10000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Check(context.Background(), g, "prod"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000/1000, "µs/object")
}

func TestGeneratedObjectsFindViolations(t *testing.T) {
	rep, err := newEngine(t).Check(context.Background(), GenerateGraph(800), "prod")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, f := range rep.Findings {
		ids[f.RuleID]++
	}
	for _, id := range []string{"CS-SEC-003", "CS-SEC-006", "CS-SEC-009", "CS-NET-006", "CS-NET-004", "CS-HA-004", "CS-HA-008"} {
		if ids[id] == 0 {
			t.Errorf("%s found nothing in the generated set: %v", id, ids)
		}
	}
}
