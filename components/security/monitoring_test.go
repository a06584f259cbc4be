package security

import (
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/promtest"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/graph"
)

const (
	serviceMonitorType = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
	ruleType           = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
)

func selects(t *testing.T, sel map[string]string, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: sel})
	require.NoError(t, err)
	return s.Matches(labels.Set(set))
}

// chartService is a Service a chart writes: its labels, its selector of
// the chart's pods and its ports by name.
type chartService struct {
	labels, selector map[string]string
	ports            map[string]int
}

// The Services as the pinned charts write them (their templates, with
// the platform's release names and values) and the labels the charts
// give the pods they select.
var (
	// vault chart 0.31.0, templates/server-headless-service.yaml; the
	// port is named after the scheme, https with global.tlsDisable false.
	vaultInternal = chartService{
		labels: map[string]string{"helm.sh/chart": "vault-0.31.0", contract.NameLabel: "vault", "app.kubernetes.io/instance": "vault",
			"app.kubernetes.io/managed-by": "Helm", "vault-internal": "true"},
		selector: map[string]string{contract.NameLabel: "vault", "app.kubernetes.io/instance": "vault", "component": "server"},
		ports:    map[string]int{"https": VaultPort, "https-internal": VaultClusterPort},
	}
	// Every other Service of the vault chart carries the same name and
	// instance labels.
	vaultActive = map[string]string{"helm.sh/chart": "vault-0.31.0", contract.NameLabel: "vault", "app.kubernetes.io/instance": "vault",
		"app.kubernetes.io/managed-by": "Helm", "vault-active": "true"}
	vaultPods = map[string]string{contract.NameLabel: "vault", "app.kubernetes.io/instance": "vault", "component": "server", "helm.sh/chart": "vault-0.31.0"}

	// cert-manager chart v1.20.2, templates/service.yaml (prometheus.enabled).
	certManagerService = chartService{
		labels: map[string]string{"app": "cert-manager", contract.NameLabel: "cert-manager", "app.kubernetes.io/instance": "cert-manager",
			"app.kubernetes.io/component": "controller", "app.kubernetes.io/version": "v1.20.2", "app.kubernetes.io/managed-by": "Helm",
			"helm.sh/chart": "cert-manager-v1.20.2"},
		selector: map[string]string{contract.NameLabel: "cert-manager", "app.kubernetes.io/instance": "cert-manager", "app.kubernetes.io/component": "controller"},
		ports:    map[string]int{"tcp-prometheus-servicemonitor": 9402},
	}
	certManagerWebhook = map[string]string{"app": "webhook", contract.NameLabel: "webhook", "app.kubernetes.io/instance": "cert-manager",
		"app.kubernetes.io/component": "webhook"}

	// external-secrets chart 0.19.2, templates/service.yaml
	// (metrics.service.enabled).
	externalSecretsService = chartService{
		labels: map[string]string{"helm.sh/chart": "external-secrets-0.19.2", contract.NameLabel: "external-secrets",
			"app.kubernetes.io/instance": "external-secrets", "app.kubernetes.io/version": "v0.19.2", "app.kubernetes.io/managed-by": "Helm"},
		selector: map[string]string{contract.NameLabel: "external-secrets", "app.kubernetes.io/instance": "external-secrets"},
		ports:    map[string]int{"metrics": 8080},
	}
	externalSecretsWebhook = map[string]string{contract.NameLabel: "external-secrets-webhook", "app.kubernetes.io/instance": "external-secrets"}
)

// assertSelects checks that sm selects svc (and not the others), on a
// port svc has, and that svc's endpoints are pods: the pods the tier
// describes to its NetworkPolicies and spread constraints.
func assertSelects(t *testing.T, sm *monitoringv1.ServiceMonitor, svc chartService, pods map[string]string, others ...map[string]string) {
	t.Helper()
	assert.True(t, selects(t, sm.Spec.Selector.MatchLabels, svc.labels), "%s selects the chart's Service", sm.Name)
	for _, o := range others {
		assert.False(t, selects(t, sm.Spec.Selector.MatchLabels, o), "%s selects %v", sm.Name, o)
	}
	require.Len(t, sm.Spec.Endpoints, 1)
	assert.Contains(t, svc.ports, sm.Spec.Endpoints[0].Port)
	assert.True(t, selects(t, svc.selector, pods), "the Service's endpoints are the tier's pods")
	assert.Equal(t, contract.NameLabel, sm.Spec.JobLabel)
	assert.Equal(t, "cloudscale", sm.Labels["app.kubernetes.io/part-of"])
}

// admitsAnySource reports whether an operator namespace's policy admits
// any source on port (the baseline's rule with ports and no peers).
func admitsAnySource(t *testing.T, g graph.Graph, ns string, port int) bool {
	t.Helper()
	np := componenttest.Object[networkingv1.NetworkPolicy](t, g, "kubernetes:networking.k8s.io/v1:NetworkPolicy", ns+"-operator-access")
	for _, r := range np.Spec.Ingress {
		if len(r.From) == 0 && slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.IntValue() == port }) {
			return true
		}
	}
	return false
}

func TestVaultIsScrapedOverTLS(t *testing.T) {
	seal := "seal \"awskms\" {}\n"
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewVault(ctx, "vault", &VaultArgs{Mode: upstream.Charts, Replicas: 3, Seal: pulumi.String(seal),
			StorageClass: "cloudscale-encrypted", VolumeSize: "10Gi", Resources: resources})
		return err
	})
	require.NoError(t, err)
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, g, serviceMonitorType, "vault-monitor")
	assert.Equal(t, VaultNamespace, sm.Namespace)
	assertSelects(t, sm, vaultInternal, vaultPods, vaultActive)
	assert.True(t, selects(t, VaultEndpoint().Peer.PodLabels, vaultPods), "the peer the tiers admit is the same pods")
	assert.Equal(t, VaultJob, vaultInternal.labels[sm.Spec.JobLabel])

	ep := sm.Spec.Endpoints[0]
	assert.Equal(t, "/v1/sys/metrics", ep.Path)
	assert.Equal(t, map[string][]string{"format": {"prometheus"}}, ep.Params)
	assert.Equal(t, monitoringv1.SchemeHTTPS, *ep.Scheme)
	require.NotNil(t, ep.TLSConfig)
	assert.Equal(t, VaultTLSSecret, ep.TLSConfig.CA.Secret.Name, "the platform's CA, from Vault's own certificate Secret")
	assert.Equal(t, "ca.crt", ep.TLSConfig.CA.Secret.Key)
	assert.Contains(t, VaultCertificate().DNSNames, *ep.TLSConfig.ServerName, "the name Vault's certificate carries")
	r, _ := g.Named(release, "vault")
	assert.False(t, componenttest.Decode[VaultValues](t, r.Inputs["values"], "vault values").Global.TLSDisable, "the chart names the port https")

	// Vault serves the metrics without a token, named without the host.
	config := RaftConfig(3, seal)
	listener := config[strings.Index(config, `listener "tcp"`):strings.Index(config, `storage "raft"`)]
	assert.Contains(t, listener, "telemetry {\n    unauthenticated_metrics_access = true\n  }\n}")
	assert.Contains(t, config, "\ntelemetry {\n  prometheus_retention_time = \"24h\"\n  disable_hostname          = true\n}\n")
	assert.Contains(t, r.String("values.server.ha.raft.config"), "unauthenticated_metrics_access = true")
	assert.Contains(t, VaultOperatorNamespace().IngressPorts, VaultPort)
}

func TestCertManagerIsScraped(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewCerts(ctx, "certs", &CertsArgs{Mode: upstream.Charts, Certificates: []contract.Certificate{VaultCertificate()}})
		return err
	})
	require.NoError(t, err)
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, g, serviceMonitorType, "certs-monitor")
	assert.Equal(t, CertManagerNamespace, sm.Namespace)
	assertSelects(t, sm, certManagerService, certManagerPods("cert-manager", "controller"), certManagerWebhook)
	assert.Equal(t, CertManagerJob, certManagerService.labels[sm.Spec.JobLabel])
	r, _ := g.Named(release, "cert-manager")
	assert.True(t, componenttest.Decode[CertManagerValues](t, r.Inputs["values"], "cert-manager values").Prometheus.Enabled,
		"the chart writes the metrics Service")
	assert.Contains(t, CertManagerOperatorNamespace().IngressPorts, CertManagerMetricsPort)
}

func TestExternalSecretsIsScraped(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewSecrets(ctx, "secrets", &SecretsArgs{Mode: upstream.Charts, Vault: VaultEndpoint()})
		return err
	})
	require.NoError(t, err)
	sm := componenttest.Object[monitoringv1.ServiceMonitor](t, g, serviceMonitorType, "secrets-monitor")
	assert.Equal(t, ExternalSecretsNamespace, sm.Namespace)
	assertSelects(t, sm, externalSecretsService, externalSecretsPods("external-secrets"), externalSecretsWebhook)
	assert.Equal(t, ExternalSecretsJob, externalSecretsService.labels[sm.Spec.JobLabel])
	r, _ := g.Named(release, "external-secrets")
	values := componenttest.Decode[ExternalSecretsValues](t, r.Inputs["values"], "external-secrets values")
	assert.Equal(t, ServiceValues{Enabled: true, Port: 8080}, values.Metrics.Service, "the chart writes the metrics Service")
	assert.Contains(t, ExternalSecretsOperatorNamespace().IngressPorts, ExternalSecretsMetricsPort)
}

// The baseline opens each operator namespace's declared ports to any
// source, so Prometheus (in monitoring) reaches the metrics ports without
// a rule of its own.
func TestBaselineAdmitsPrometheusOnTheMetricsPorts(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		_, err := NewBaseline(ctx, "baseline", &BaselineArgs{Namespaces: []string{"cloudscale"},
			System: []contract.OperatorNamespace{VaultOperatorNamespace(), CertManagerOperatorNamespace(), ExternalSecretsOperatorNamespace()}})
		return err
	})
	require.NoError(t, err)
	for ns, port := range map[string]int{VaultNamespace: VaultPort, CertManagerNamespace: CertManagerMetricsPort, ExternalSecretsNamespace: ExternalSecretsMetricsPort} {
		assert.True(t, admitsAnySource(t, g, ns, port), "%s: %d", ns, port)
	}
	assert.False(t, admitsAnySource(t, g, VaultNamespace, ExternalSecretsMetricsPort), "only the declared ports")
}

func TestAlerts(t *testing.T) {
	vault := &VaultArgs{Mode: upstream.Charts}
	certs := &CertsArgs{Mode: upstream.Charts}
	secrets := &SecretsArgs{Mode: upstream.Charts}
	for _, tc := range []struct {
		rule      *monitoringv1.PrometheusRule
		namespace string
		metrics   []string
		alerts    []string
	}{
		{VaultAlerts(vault), VaultNamespace, VaultMetrics, []string{"VaultSealed", "VaultNoActive"}},
		{CertManagerAlerts(certs), CertManagerNamespace, CertManagerMetrics,
			[]string{"CertificateExpiringSoon", "CertificateExpiresImminently", "CertificateNotReady", "CertManagerDown"}},
		{ExternalSecretsAlerts(secrets), ExternalSecretsNamespace, ExternalSecretsMetrics, []string{"ExternalSecretNotSynced", "ExternalSecretsDown"}},
	} {
		t.Run(tc.rule.Name, func(t *testing.T) {
			assert.Equal(t, tc.namespace, tc.rule.Namespace)
			promtest.TierAlerts(t, tc.rule, "security", tc.metrics)
			var names []string
			for _, r := range tc.rule.Spec.Groups[0].Rules {
				names = append(names, r.Alert)
			}
			assert.Equal(t, tc.alerts, names)
			promtest.Test(t, "testdata/"+tc.rule.Name+".test.yaml", tc.rule)
		})
	}
}

// Where only the kinds are installed the operators do not run: their
// absence is no alert, and the rest stay (they see no series).
func TestNoAbsenceAlertsWithoutTheCharts(t *testing.T) {
	rules := []*monitoringv1.PrometheusRule{VaultAlerts(&VaultArgs{Mode: upstream.CRDsOnly}),
		CertManagerAlerts(&CertsArgs{Mode: upstream.CRDsOnly}), ExternalSecretsAlerts(&SecretsArgs{Mode: upstream.CRDsOnly})}
	var names []string
	for _, rule := range rules {
		for _, r := range rule.Spec.Groups[0].Rules {
			names = append(names, r.Alert)
			assert.NotContains(t, r.Expr.String(), "absent", r.Alert)
		}
	}
	assert.Equal(t, []string{"VaultSealed", "VaultNoActive", "CertificateExpiringSoon", "CertificateExpiresImminently",
		"CertificateNotReady", "ExternalSecretNotSynced"}, names)
	promtest.Check(t, rules...)
}

// Each constructor registers its monitor and alerts as its children.
func TestConstructorsRegisterTheirAlerts(t *testing.T) {
	g, err := componenttest.Run(func(ctx *pulumi.Context) error {
		if _, err := NewVault(ctx, "vault", &VaultArgs{Mode: upstream.CRDsOnly, Replicas: 3, StorageClass: "sc", VolumeSize: "1Gi", Resources: resources}); err != nil {
			return err
		}
		if _, err := NewCerts(ctx, "certs", &CertsArgs{Mode: upstream.CRDsOnly, Certificates: []contract.Certificate{VaultCertificate()}}); err != nil {
			return err
		}
		_, err := NewSecrets(ctx, "secrets", &SecretsArgs{Mode: upstream.CRDsOnly, Vault: VaultEndpoint()})
		return err
	})
	require.NoError(t, err)
	for name, want := range map[string]*monitoringv1.PrometheusRule{
		"vault-alerts":   VaultAlerts(&VaultArgs{Mode: upstream.CRDsOnly}),
		"certs-alerts":   CertManagerAlerts(&CertsArgs{Mode: upstream.CRDsOnly}),
		"secrets-alerts": ExternalSecretsAlerts(&SecretsArgs{Mode: upstream.CRDsOnly}),
	} {
		got := componenttest.Object[monitoringv1.PrometheusRule](t, g, ruleType, name)
		assert.Equal(t, want.Spec, got.Spec, name)
		assert.Equal(t, want.Namespace, got.Namespace, name)
	}
	for _, name := range []string{"vault-monitor", "certs-monitor", "secrets-monitor"} {
		_, ok := g.Named(serviceMonitorType, name)
		assert.True(t, ok, name)
	}
}
