// Package alerting builds the tiers' health alerts as prometheus-operator
// objects: one alerting rule labelled with its severity and tier (Alert),
// and the PrometheusRule that carries a tier's rules (Rules). Every tier
// writes its alerts with it, so they share one shape: Alertmanager routes
// them by the severity label (slo.Page or slo.Ticket) and groups them by
// the tier label. It imports no Pulumi SDK.
package alerting

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The labels of the tiers' alerts.
const (
	// SeverityLabel is an alert's severity: slo.Page or slo.Ticket.
	SeverityLabel = "severity"
	// TierLabel is the tier an alert watches.
	TierLabel = "tier"
)

// Alert is the alerting rule name of tier: it fires when expr has been
// true for pending (none when empty), labelled severity and tier and
// annotated with a one-line summary and a description of what fails and
// where to look.
func Alert(tier, name, severity, expr, pending, summary, description string) monitoringv1.Rule {
	r := monitoringv1.Rule{
		Alert:       name,
		Expr:        intstr.FromString(expr),
		Labels:      map[string]string{SeverityLabel: severity, TierLabel: tier},
		Annotations: map[string]string{"summary": summary, "description": description},
	}
	if pending != "" {
		r.For = ptr.To(monitoringv1.Duration(pending))
	}
	return r
}

// Rules is the PrometheusRule of tier's rules in namespace: named
// <tier>-alerts, labelled as the platform's, with one group <tier>.rules.
// A tier that writes one object per component (security: vault,
// cert-manager, external-secrets) passes the component's name as tier;
// its rules keep the tier's own label (Alert).
func Rules(tier, namespace string, rules ...monitoringv1.Rule) *monitoringv1.PrometheusRule {
	return &monitoringv1.PrometheusRule{
		TypeMeta: metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusRuleKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: tier + "-alerts",
			Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
		Spec: monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{Name: tier + ".rules", Rules: rules}}},
	}
}

// Selector returns a function writing a PromQL selector of metric for the
// series one scrape job collects in namespace, with more matchers added:
// Selector("db", "db/redis")("redis_up", `role="master"`) is
// redis_up{namespace="db", job="db/redis", role="master"}. The
// prometheus-operator names a PodMonitor's job <namespace>/<name> and a
// ServiceMonitor's the Service's name.
func Selector(namespace, job string) func(metric string, more ...string) string {
	matchers := fmt.Sprintf(`namespace=%q, job=%q`, namespace, job)
	return func(metric string, more ...string) string {
		return fmt.Sprintf("%s{%s}", metric, strings.Join(append([]string{matchers}, more...), ", "))
	}
}
