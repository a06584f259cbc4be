package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/components/monitoring/slo"
)

// Monitoring is cloudscale:monitoring: how the metrics, logs and traces
// are kept and where alerts go.
type Monitoring struct {
	// Prometheus: replicas (2), retention (a Prometheus
	// duration, 15d), retentionSize (default 85% of the volume) and
	// volumeSize (50Gi).
	Prometheus PrometheusSettings `json:"prometheus"`
	// AlertmanagerReplicas is 3.
	AlertmanagerReplicas int `json:"alertmanagerReplicas"`
	// Receivers are where pages and tickets go; none: alerts are only
	// shown (Alertmanager, Grafana).
	Receivers []Receiver `json:"receivers,omitempty"`
	// Logs: Elasticsearch nodes (3), retentionDays (14), volumeSize
	// (100Gi), Kibana replicas (2).
	Logs LogSettings `json:"logs"`
	// CollectorReplicas are the Jaeger collector's (2).
	CollectorReplicas int `json:"collectorReplicas"`
}

// PrometheusSettings are cloudscale:monitoring.prometheus.
type PrometheusSettings struct {
	Replicas      int    `json:"replicas"`
	Retention     string `json:"retention"`
	RetentionSize string `json:"retentionSize,omitempty"`
	VolumeSize    string `json:"volumeSize"`
}

// LogSettings are cloudscale:monitoring.logs.
type LogSettings struct {
	ElasticsearchNodes int    `json:"elasticsearchNodes"`
	KibanaReplicas     int    `json:"kibanaReplicas"`
	RetentionDays      int    `json:"retentionDays"`
	VolumeSize         string `json:"volumeSize"`
}

// Receiver is one Alertmanager receiver: pages or tickets to PagerDuty,
// Slack or a webhook, its credential in Vault at vaultPath (property
// "credential"), never in the config.
type Receiver struct {
	Name      string `json:"name"`
	Severity  string `json:"severity"`
	Type      string `json:"type"`
	Channel   string `json:"channel,omitempty"`
	URL       string `json:"url,omitempty"`
	VaultPath string `json:"vaultPath,omitempty"`
}

// Default is highly available in every environment (as the other tiers
// are in dev: replicated, the zone spread only preferred), so dev
// rehearses the same failover.
func (m *Monitoring) Default(*Spec) {
	prom, am, es, kb, col := 2, 3, 3, 2, 2
	*m = Monitoring{
		Prometheus:           PrometheusSettings{Replicas: prom, Retention: "15d", VolumeSize: "50Gi"},
		AlertmanagerReplicas: am, CollectorReplicas: col,
		Logs: LogSettings{ElasticsearchNodes: es, KibanaReplicas: kb, RetentionDays: 14, VolumeSize: "100Gi"},
	}
}

var (
	promDuration  = regexp.MustCompile(`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)
	promBytes     = regexp.MustCompile(`^([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B$`)
	slackChannel  = regexp.MustCompile(`^[#@][a-z0-9._-]{1,80}$`)
	vaultPathName = regexp.MustCompile(`^[a-z0-9][a-z0-9_/-]{0,200}$`)
)

// Validate checks replicas against the environment's floors, retention,
// sizes and receivers, naming each key.
func (m *Monitoring) Validate(s *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	prod := s.Environment.Production()
	floor := func(path *field.Path, v, lo, prodLo int) {
		if prod && v < prodLo {
			errs = append(errs, field.Invalid(path, v, fmt.Sprintf("too few for %s; allowed: %d or more", s.Environment, prodLo)))
		} else if v < lo {
			errs = append(errs, field.Invalid(path, v, fmt.Sprintf("allowed: %d or more", lo)))
		}
	}
	pp := p.Child("prometheus")
	floor(pp.Child("replicas"), m.Prometheus.Replicas, 1, 2)
	floor(p.Child("alertmanagerReplicas"), m.AlertmanagerReplicas, 1, 2)
	floor(p.Child("collectorReplicas"), m.CollectorReplicas, 1, 2)
	floor(p.Child("logs", "kibanaReplicas"), m.Logs.KibanaReplicas, 1, 2)
	floor(p.Child("logs", "elasticsearchNodes"), m.Logs.ElasticsearchNodes, 1, 3)
	if m.Logs.ElasticsearchNodes%2 == 0 {
		errs = append(errs, field.Invalid(p.Child("logs", "elasticsearchNodes"), m.Logs.ElasticsearchNodes, "must be odd: a majority of master-eligible nodes elects"))
	}
	if m.Prometheus.Retention == "" || m.Prometheus.Retention == "0" || !promDuration.MatchString(m.Prometheus.Retention) {
		errs = append(errs, field.Invalid(pp.Child("retention"), m.Prometheus.Retention, "not a Prometheus duration such as 15d or 2w (and not 0)"))
	}
	if r := m.Prometheus.RetentionSize; r != "" && !promBytes.MatchString(r) {
		errs = append(errs, field.Invalid(pp.Child("retentionSize"), r, "not a size such as 40GiB"))
	}
	for _, v := range []struct {
		path *field.Path
		size string
	}{{pp.Child("volumeSize"), m.Prometheus.VolumeSize}, {p.Child("logs", "volumeSize"), m.Logs.VolumeSize}} {
		if q, err := resource.ParseQuantity(v.size); err != nil || q.Sign() <= 0 {
			errs = append(errs, field.Invalid(v.path, v.size, "not a positive quantity such as 50Gi"))
		}
	}
	if d := m.Logs.RetentionDays; d < 1 || d > 3650 {
		errs = append(errs, field.Invalid(p.Child("logs", "retentionDays"), d, "allowed: 1 to 3650"))
	}
	return append(errs, validateReceivers(m.Receivers, p.Child("receivers"))...)
}

func validateReceivers(rs []Receiver, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, r := range rs {
		f := p.Index(i)
		if !dnsLabel.MatchString(r.Name) || r.Name == "null" {
			errs = append(errs, field.Invalid(f.Child("name"), r.Name, `not a DNS label (or the reserved "null")`))
		} else if seen[r.Name] {
			errs = append(errs, field.Duplicate(f.Child("name"), r.Name))
		}
		seen[r.Name] = true
		if r.Severity != slo.Page && r.Severity != slo.Ticket {
			errs = append(errs, field.NotSupported(f.Child("severity"), r.Severity, []string{slo.Page, slo.Ticket}))
		}
		needsVault := false
		switch r.Type {
		case "pagerduty":
			needsVault = true
		case "slack":
			needsVault = true
			if !slackChannel.MatchString(r.Channel) {
				errs = append(errs, field.Invalid(f.Child("channel"), r.Channel, "not a Slack channel such as #platform-alerts"))
			}
		case "webhook":
			if !strings.HasPrefix(r.URL, "https://") && (!strings.HasPrefix(r.URL, "http://") || !strings.Contains(r.URL, ".svc")) {
				errs = append(errs, field.Invalid(f.Child("url"), r.URL, "must be https, or http to a cluster Service (*.svc)"))
			}
		default:
			errs = append(errs, field.NotSupported(f.Child("type"), r.Type, []string{"pagerduty", "slack", "webhook"}))
		}
		switch {
		case needsVault && r.VaultPath == "":
			errs = append(errs, field.Required(f.Child("vaultPath"), "the Vault KV path of the credential (property credential), never the credential itself"))
		case r.VaultPath != "" && !vaultPathName.MatchString(r.VaultPath):
			errs = append(errs, field.Invalid(f.Child("vaultPath"), r.VaultPath, "not a Vault KV path such as monitoring/pagerduty"))
		}
	}
	return errs
}

// validateSLO checks a service's objectives: percentages below 100 and a
// latency threshold among the mesh's histogram buckets.
func validateSLO(s Service, p *field.Path) field.ErrorList {
	if s.SLO == nil {
		return nil
	}
	var errs field.ErrorList
	o := s.Objectives()
	for _, v := range []struct {
		name string
		pct  float64
	}{{"availability", o.Availability}, {"latencyTarget", o.LatencyTarget}} {
		if v.pct <= 0 || v.pct >= 100 {
			errs = append(errs, field.Invalid(p.Child(v.name), v.pct, "a percentage above 0 and below 100, such as 99.9"))
		}
	}
	if !slices.Contains(slo.DurationBuckets, o.LatencyMs) {
		var bs []string
		for _, b := range slo.DurationBuckets {
			bs = append(bs, strconv.FormatFloat(b, 'f', -1, 64))
		}
		errs = append(errs, field.Invalid(p.Child("latencyMs"), o.LatencyMs, "not a bucket of the mesh's request duration histogram; allowed: "+strings.Join(bs, ", ")))
	}
	return errs
}
