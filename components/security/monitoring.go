package security

import (
	"fmt"
	"slices"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/alerting"
	"github.com/cloudscale/platform/components/monitoring/slo"
	"github.com/cloudscale/platform/components/upstream"
)

// The security tier's telemetry. Its three operators run from charts
// (on clouds; the local stack installs only their kinds), whose Services
// the monitors here select; the operator namespaces' policies
// (OperatorNamespace IngressPorts, opened to any source by the baseline)
// already admit Prometheus on each metrics port: Vault's 8200,
// cert-manager's 9402, External Secrets' 8080.
//
// Prometheus renames a scraped label that collides with a target label:
// the namespace of a Certificate or ExternalSecret (the metric's own
// namespace label) arrives as exported_namespace, namespace being the
// operator's.

// Vault serves Prometheus metrics on its API port (Vault API
// "/sys/metrics", format=prometheus), unauthenticated where its listener
// allows it (RaftConfig).
const (
	VaultMetricsPath = "/v1/sys/metrics"
	// VaultMetricsRetention is how long Vault keeps a metric for
	// Prometheus (telemetry prometheus_retention_time; 0 would disable
	// Prometheus metrics).
	VaultMetricsRetention = "24h"
)

// CertManagerMetricsPort is the controller's metrics port, which the
// cert-manager chart's Service (v1.20, templates/service.yaml, created by
// prometheus.enabled) names CertManagerMetricsPortName.
const (
	CertManagerMetricsPort     = 9402
	CertManagerMetricsPortName = "tcp-prometheus-servicemonitor"
)

// ExternalSecretsMetricsPort is the controller's metrics port, which the
// external-secrets chart's Service (0.19, templates/service.yaml, created
// by metrics.service.enabled) names ExternalSecretsMetricsPortName.
const (
	ExternalSecretsMetricsPort     = 8080
	ExternalSecretsMetricsPortName = "metrics"
)

// VaultMetrics are the metric names Vault's servers export (Vault
// telemetry reference, with disable_hostname: vault.core.unsealed and
// vault.core.active are refreshed on every node, sealed or standby) that
// the alerts use and dashboards query; up is Prometheus' own.
var VaultMetrics = []string{
	"vault_core_unsealed",
	"vault_core_active",
	"vault_core_handle_request",
	"vault_expire_num_leases",
	"vault_audit_log_request_failure",
	"vault_audit_log_response_failure",
	"up",
}

// CertManagerMetrics are cert-manager's controller's (cert-manager
// "Prometheus Metrics": per Certificate name and namespace).
var CertManagerMetrics = []string{
	"certmanager_certificate_expiration_timestamp_seconds",
	"certmanager_certificate_renewal_timestamp_seconds",
	"certmanager_certificate_ready_status",
	"up",
}

// ExternalSecretsMetrics are the External Secrets controller's (its API
// reference "Metrics": per ExternalSecret name and namespace).
var ExternalSecretsMetrics = []string{
	"externalsecret_status_condition",
	"externalsecret_sync_calls_total",
	"externalsecret_sync_calls_error",
	"up",
}

// Metrics are all the security tier's.
var Metrics = slices.Compact(slices.Sorted(slices.Values(slices.Concat(VaultMetrics, CertManagerMetrics, ExternalSecretsMetrics))))

// The labels of the Services the charts write, which the monitors select;
// each carries its workload's app.kubernetes.io/name, which the monitors
// make their targets' job.
var (
	// VaultServiceLabels are the vault chart's (0.31) headless
	// vault-internal Service's, which lists every server, sealed or not.
	VaultServiceLabels = map[string]string{contract.NameLabel: "vault", "app.kubernetes.io/instance": "vault", "vault-internal": "true"}
	// CertManagerServiceLabels are the cert-manager chart's controller
	// metrics Service's.
	CertManagerServiceLabels = certManagerPods("cert-manager", "controller")
	// ExternalSecretsServiceLabels are the external-secrets chart's
	// controller metrics Service's (the webhook's and cert controller's
	// are named external-secrets-webhook and -cert-controller).
	ExternalSecretsServiceLabels = externalSecretsPods("external-secrets")
)

// tierName is the tier label of the tier's alerts, whichever operator's
// PrometheusRule (named after the operator: vault-alerts, cert-manager-alerts,
// external-secrets-alerts) carries them.
const tierName = "security"

// Jobs of the tier's targets: their Services' app.kubernetes.io/name.
const (
	VaultJob           = "vault"
	CertManagerJob     = "cert-manager"
	ExternalSecretsJob = "external-secrets"
)

func monitorMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}}
}

func serviceMonitor(ns, name string, selector map[string]string, ep monitoringv1.Endpoint) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: monitorMeta(ns, name),
		Spec: monitoringv1.ServiceMonitorSpec{
			JobLabel:  contract.NameLabel,
			Selector:  metav1.LabelSelector{MatchLabels: selector},
			Endpoints: []monitoringv1.Endpoint{ep},
		},
	}
}

// VaultMonitor scrapes every Vault server over TLS, verifying it with the
// platform's CA (ca.crt of its serving certificate's Secret, which
// cert-manager writes) under the Service name the certificate carries.
// The vault-internal Service names the API port after the scheme: https,
// as global.tlsDisable is false.
func VaultMonitor() *monitoringv1.ServiceMonitor {
	scheme := monitoringv1.SchemeHTTPS
	server := VaultEndpoint().Host
	ep := monitoringv1.Endpoint{Port: "https", Path: VaultMetricsPath, Scheme: &scheme, Params: map[string][]string{"format": {"prometheus"}}}
	ep.TLSConfig = &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{
		CA:         monitoringv1.SecretOrConfigMap{Secret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: VaultTLSSecret}, Key: "ca.crt"}},
		ServerName: &server,
	}}
	return serviceMonitor(VaultNamespace, "vault", VaultServiceLabels, ep)
}

// CertManagerMonitor scrapes cert-manager's controller.
func CertManagerMonitor() *monitoringv1.ServiceMonitor {
	return serviceMonitor(CertManagerNamespace, "cert-manager", CertManagerServiceLabels, monitoringv1.Endpoint{Port: CertManagerMetricsPortName})
}

// ExternalSecretsMonitor scrapes the External Secrets controller.
func ExternalSecretsMonitor() *monitoringv1.ServiceMonitor {
	return serviceMonitor(ExternalSecretsNamespace, "external-secrets", ExternalSecretsServiceLabels, monitoringv1.Endpoint{Port: ExternalSecretsMetricsPortName})
}

// down is the alert that no target of job in ns is up: only where the
// operator's chart runs (upstream.Charts) is its absence a fault.
func down(name, job, ns, what string) monitoringv1.Rule {
	return alerting.Alert(tierName, name, slo.Ticket, fmt.Sprintf(`absent(up{job=%q, namespace=%q} == 1)`, job, ns), "10m", what+" is down",
		fmt.Sprintf("No %s target in %s has been up for 10 minutes, and the alerts on its metrics see nothing.", job, ns))
}

// VaultAlerts are Vault's: a sealed server (page) and no active server
// (page; where Vault runs, also when no server reports at all).
func VaultAlerts(a *VaultArgs) *monitoringv1.PrometheusRule {
	sel := fmt.Sprintf(`{job=%q, namespace=%q}`, VaultJob, VaultNamespace)
	noActive := "sum(vault_core_active" + sel + ") < 1"
	if a.Mode == upstream.Charts {
		noActive += " or absent(vault_core_active" + sel + ")"
	}
	return alerting.Rules("vault", VaultNamespace,
		alerting.Alert(tierName, "VaultSealed", slo.Page, "vault_core_unsealed"+sel+" == 0", "5m", "A Vault server is sealed",
			"Vault server {{ $labels.pod }} has been sealed for 5 minutes: it serves nothing until the cloud KMS key unseals it; check the key and the server's access to it (its log)."),
		alerting.Alert(tierName, "VaultNoActive", slo.Page, noActive, "5m", "No Vault server is active",
			"No Vault server in "+VaultNamespace+" has been active for 5 minutes: secrets can be neither read nor written, so External Secrets stops delivering them and new pods that need them wait."),
	)
}

// CertManagerAlerts are cert-manager's: a certificate within 14 days of
// expiry (ticket: renewal, 15 days before, has failed) or within 3 days
// (page), a certificate not ready (ticket), and, where the chart runs,
// the controller down (ticket).
func CertManagerAlerts(a *CertsArgs) *monitoringv1.PrometheusRule {
	left := fmt.Sprintf(`certmanager_certificate_expiration_timestamp_seconds{job=%q} - time()`, CertManagerJob)
	cert := "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }}"
	rules := []monitoringv1.Rule{
		alerting.Alert(tierName, "CertificateExpiringSoon", slo.Ticket, left+" < 14 * 86400 > 3 * 86400", "1h", "A certificate expires within 14 days",
			cert+" expires in {{ $value | humanizeDuration }}: cert-manager renews 15 days before expiry, so its renewal has failed; see the Certificate's events and its CertificateRequests."),
		alerting.Alert(tierName, "CertificateExpiresImminently", slo.Page, left+" < 3 * 86400", "10m", "A certificate expires within 3 days",
			cert+" expires in {{ $value | humanizeDuration }} and has not been renewed: its clients will refuse it; see the Certificate's events and its issuer."),
		alerting.Alert(tierName, "CertificateNotReady", slo.Ticket, fmt.Sprintf(`certmanager_certificate_ready_status{job=%q, condition!="True"} == 1`, CertManagerJob), "30m",
			"A certificate is not ready",
			cert+" has not been ready for 30 minutes (condition {{ $labels.condition }}): its Secret is missing or out of date; see the Certificate's events."),
	}
	if a.Mode == upstream.Charts {
		rules = append(rules, down("CertManagerDown", CertManagerJob, CertManagerNamespace, "cert-manager"))
	}
	return alerting.Rules("cert-manager", CertManagerNamespace, rules...)
}

// ExternalSecretsAlerts are External Secrets': an ExternalSecret not
// synced (ticket) and, where the chart runs, the controller down
// (ticket).
func ExternalSecretsAlerts(a *SecretsArgs) *monitoringv1.PrometheusRule {
	rules := []monitoringv1.Rule{
		alerting.Alert(tierName, "ExternalSecretNotSynced", slo.Ticket, fmt.Sprintf(`externalsecret_status_condition{job=%q, condition="Ready", status="False"} == 1`, ExternalSecretsJob), "15m",
			"An ExternalSecret is not synced",
			"ExternalSecret {{ $labels.exported_namespace }}/{{ $labels.name }} has not synced from Vault for 15 minutes: its Secret keeps the values last delivered, or does not exist; see the ExternalSecret's status and the ClusterSecretStore's."),
	}
	if a.Mode == upstream.Charts {
		rules = append(rules, down("ExternalSecretsDown", ExternalSecretsJob, ExternalSecretsNamespace, "External Secrets"))
	}
	return alerting.Rules("external-secrets", ExternalSecretsNamespace, rules...)
}

// monitoringObjects are a component's monitor and alerts, which its
// constructor registers as its children (their kinds come with the
// stack).
func monitoringObjects(name string, monitor *monitoringv1.ServiceMonitor, rule *monitoringv1.PrometheusRule) []upstream.NamedObject {
	return []upstream.NamedObject{{Name: name + "-monitor", Object: monitor}, {Name: name + "-alerts", Object: rule}}
}
