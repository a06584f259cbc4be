package security

import (
	"errors"
	"fmt"
	"net"
	"time"

	acmev1 "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/tier"
	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// CertManagerNamespace is where cert-manager runs.
const CertManagerNamespace = "cert-manager"

// CertificateDuration and RenewBefore rotate certificates and their private
// keys every 90 days, the guide's key rotation period.
const (
	CertificateDuration = 90 * 24 * time.Hour
	RenewBefore         = 15 * 24 * time.Hour
)

// CertManagerOperatorNamespace is cert-manager's namespace and ports: the webhook
// (10250) and metrics (9402); it calls the API server and, for DNS-01,
// cloud DNS and ACME over HTTPS.
func CertManagerOperatorNamespace() contract.OperatorNamespace {
	return contract.OperatorNamespace{Name: CertManagerNamespace, IngressPorts: []int{10250, 9402}, EgressPorts: []int{443, 6443}}
}

// ACME asks a public CA (Let's Encrypt) for certificates, proving control of
// the domain with DNS records (the gateway serves no plain HTTP, so HTTP-01
// cannot be used). The solver uses the cluster's workload identity.
type ACME struct {
	Email, Server string
	// DNS01 is the cert-manager dns01 solver for the stack's cloud
	// (route53, azureDNS or cloudDNS).
	DNS01 *acmev1.ACMEChallengeSolverDNS01
}

// CertsArgs configure cert-manager, the platform's ClusterIssuer and its
// certificates. The tiers it must wait for are given as pulumi.DependsOn.
type CertsArgs struct {
	Mode upstream.Mode
	// ACME, when set, issues the public certificates; otherwise they come
	// from the platform's private CA too (local and dev: no public DNS).
	ACME *ACME
	// Certificates are what the other tiers need issued.
	Certificates []contract.Certificate
}

// Certs is the component.
type Certs struct {
	pulumi.ResourceState

	// Issuer is the ClusterIssuer of public certificates.
	Issuer pulumi.StringOutput
}

// IssuerName is the platform's private CA; PublicIssuerName the ACME one.
const (
	IssuerName       = "cloudscale"
	PublicIssuerName = "cloudscale-public"
)

// Validate checks the arguments; New registers nothing unless they pass.
func (a *CertsArgs) Validate() error {
	if a == nil || len(a.Certificates) == 0 {
		return errors.New("at least one certificate is required")
	}
	var errs []error
	seen := map[string]bool{}
	for i, c := range a.Certificates {
		if c.Name == "" || c.Namespace == "" || len(c.DNSNames) == 0 {
			errs = append(errs, fmt.Errorf("certificate %d: a name, a namespace and at least one DNS name are required", i))
		}
		if seen[c.Namespace+"/"+c.Name] {
			errs = append(errs, fmt.Errorf("certificate %s/%s is listed twice", c.Namespace, c.Name))
		}
		seen[c.Namespace+"/"+c.Name] = true
		for _, ip := range c.IPAddresses {
			if net.ParseIP(ip) == nil {
				errs = append(errs, fmt.Errorf("certificate %s/%s: %q is not an IP address", c.Namespace, c.Name, ip))
			}
		}
	}
	if acme := a.ACME; acme != nil && (acme.Email == "" || acme.Server == "" || acme.DNS01 == nil) {
		errs = append(errs, errors.New("acme: an email, a server and a dns01 solver are required"))
	}
	return errors.Join(errs...)
}

// CertManagerValues are the values of cert-manager's chart the platform sets: replicated
// controller, webhook and cainjector with disruption budgets, CRDs kept on
// uninstall, DNS-01 self-checks over HTTPS, metrics.
type CertManagerValues struct {
	CRDs                CRDValues `json:"crds"`
	ReplicaCount        int       `json:"replicaCount"`
	PodDisruptionBudget PDBValues `json:"podDisruptionBudget"`
	// TopologySpreadConstraints spread the controller over zones.
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	Webhook                   ReplicatedValues                  `json:"webhook"`
	CAInjector                ReplicatedValues                  `json:"cainjector"`
	EnableCertificateOwnerRef bool                              `json:"enableCertificateOwnerRef"`
	ExtraArgs                 []string                          `json:"extraArgs"`
	// Prometheus writes the controller's metrics Service, which
	// CertManagerMonitor selects (the chart's own ServiceMonitor stays off).
	Prometheus EnabledValues `json:"prometheus"`
}

// CRDValues install the chart's CRDs and keep them on uninstall.
type CRDValues struct {
	Enabled bool `json:"enabled"`
	Keep    bool `json:"keep"`
}

// ReplicatedValues are a chart component's replicas, disruption budget
// and zone spread.
type ReplicatedValues struct {
	ReplicaCount              int                               `json:"replicaCount"`
	PodDisruptionBudget       PDBValues                         `json:"podDisruptionBudget"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
}

// replicated are a chart component's values: replicas with a budget that
// keeps one up, spread over zones by the workload helper's constraints
// on the labels the chart gives its pods.
func replicated(replicas int, podLabels map[string]string) ReplicatedValues {
	return ReplicatedValues{ReplicaCount: replicas, PodDisruptionBudget: pdb, TopologySpreadConstraints: workload.Spread(podLabels)}
}

// PDBValues are a chart's disruption budget switch.
type PDBValues struct {
	Enabled      bool `json:"enabled"`
	MinAvailable int  `json:"minAvailable"`
}

// EnabledValues are a chart's {enabled: bool} switch.
type EnabledValues struct {
	Enabled bool `json:"enabled"`
}

// pdb keeps one pod of a component up through drains.
var pdb = PDBValues{Enabled: true, MinAvailable: 1}

// certManagerPods are the labels cert-manager's chart gives a
// component's pods (the release is named cert-manager).
func certManagerPods(name, component string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "cert-manager", "app.kubernetes.io/component": component}
}

// NewCertManagerValues are cert-manager's values.
func NewCertManagerValues() CertManagerValues {
	return CertManagerValues{
		CRDs: CRDValues{Enabled: true, Keep: true}, ReplicaCount: 2, PodDisruptionBudget: pdb,
		TopologySpreadConstraints: workload.Spread(certManagerPods("cert-manager", "controller")),
		Webhook:                   replicated(3, certManagerPods("webhook", "webhook")),
		CAInjector:                replicated(2, certManagerPods("cainjector", "cainjector")),
		EnableCertificateOwnerRef: true,
		// DNS-01 self-checks go to public resolvers over HTTPS: the
		// namespace's egress admits 443, not port 53 to the internet.
		ExtraArgs:  []string{"--dns01-recursive-nameservers-only", "--dns01-recursive-nameservers=https://1.1.1.1/dns-query"},
		Prometheus: EnabledValues{Enabled: true},
	}
}

// NewCerts installs cert-manager and issues the platform's certificates.
func NewCerts(ctx *pulumi.Context, name string, args *CertsArgs, opts ...pulumi.ResourceOption) (*Certs, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("certs %s: %w", name, err)
	}
	c := &Certs{}
	if err := ctx.RegisterComponentResource("cloudscale:security:Certs", name, c, opts...); err != nil {
		return nil, err
	}
	child := tier.Children(c, opts)
	ready, err := upstream.Install(ctx, "cert-manager", upstream.CertManager, args.Mode, CertManagerNamespace, NewCertManagerValues(), nil, child...)
	if err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, CertObjects(name, args), append(child, pulumi.DependsOn(ready))...); err != nil {
		return nil, err
	}
	if err := upstream.NewObjects(ctx, monitoringObjects(name, CertManagerMonitor(), CertManagerAlerts(args)), child...); err != nil {
		return nil, err
	}
	c.Issuer = pulumi.String(publicIssuer(args)).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"issuer": c.Issuer}); err != nil {
		return nil, err
	}
	return c, nil
}

func publicIssuer(a *CertsArgs) string {
	if a.ACME != nil {
		return PublicIssuerName
	}
	return IssuerName
}

// CertObjects are the issuers and certificates: the ACME issuer when
// there is one, a self-signed root that signs the platform's CA, the CA
// issuer, and every certificate the tiers asked for.
func CertObjects(name string, a *CertsArgs) []upstream.NamedObject {
	var objs []upstream.NamedObject
	if acme := a.ACME; acme != nil {
		objs = append(objs, upstream.NamedObject{Name: name + "-public-issuer", Object: clusterIssuer(PublicIssuerName, certmanagerv1.IssuerConfig{
			ACME: &acmev1.ACMEIssuer{
				Email: acme.Email, Server: acme.Server,
				PrivateKey: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: PublicIssuerName + "-acme-account"}},
				Solvers:    []acmev1.ACMEChallengeSolver{{DNS01: acme.DNS01}},
			},
		})})
	}
	objs = append(objs,
		upstream.NamedObject{Name: name + "-selfsigned", Object: clusterIssuer(IssuerName+"-selfsigned", certmanagerv1.IssuerConfig{SelfSigned: &certmanagerv1.SelfSignedIssuer{}})},
		upstream.NamedObject{Name: name + "-ca", Object: certificate(CertManagerNamespace, IssuerName+"-ca", certmanagerv1.CertificateSpec{
			IsCA: true, CommonName: "CloudScale platform CA", SecretName: IssuerName + "-ca",
			Duration: &metav1.Duration{Duration: 365 * 24 * time.Hour}, RenewBefore: &metav1.Duration{Duration: 30 * 24 * time.Hour},
			PrivateKey: privateKey(), IssuerRef: issuerRef(IssuerName + "-selfsigned"),
		})},
		upstream.NamedObject{Name: name + "-issuer", Object: clusterIssuer(IssuerName, certmanagerv1.IssuerConfig{CA: &certmanagerv1.CAIssuer{SecretName: IssuerName + "-ca"}})},
	)
	for _, cert := range a.Certificates {
		issuer := IssuerName
		if cert.Public {
			issuer = publicIssuer(a)
		}
		objs = append(objs, upstream.NamedObject{Name: name + "-" + cert.Namespace + "-" + cert.Name, Object: certificate(cert.Namespace, cert.Name, certmanagerv1.CertificateSpec{
			SecretName: cert.Name, DNSNames: cert.DNSNames, IPAddresses: cert.IPAddresses,
			Duration: &metav1.Duration{Duration: CertificateDuration}, RenewBefore: &metav1.Duration{Duration: RenewBefore},
			PrivateKey: privateKey(), IssuerRef: issuerRef(issuer),
		})})
	}
	return objs
}

func clusterIssuer(name string, cfg certmanagerv1.IssuerConfig) *certmanagerv1.ClusterIssuer {
	return &certmanagerv1.ClusterIssuer{
		TypeMeta:   metav1.TypeMeta{APIVersion: certmanagerv1.SchemeGroupVersion.String(), Kind: certmanagerv1.ClusterIssuerKind},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certmanagerv1.IssuerSpec{IssuerConfig: cfg},
	}
}

func certificate(ns, name string, spec certmanagerv1.CertificateSpec) *certmanagerv1.Certificate {
	return &certmanagerv1.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: certmanagerv1.SchemeGroupVersion.String(), Kind: certmanagerv1.CertificateKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       spec,
	}
}

// privateKey is a new ECDSA P-256 key at every renewal.
func privateKey() *certmanagerv1.CertificatePrivateKey {
	return &certmanagerv1.CertificatePrivateKey{Algorithm: certmanagerv1.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: certmanagerv1.RotationPolicyAlways}
}

func issuerRef(name string) cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Name: name, Kind: certmanagerv1.ClusterIssuerKind, Group: "cert-manager.io"}
}
