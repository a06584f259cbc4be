package security

import (
	"errors"
	"fmt"
	"net"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/upstream"
)

// CertManagerNamespace is where cert-manager runs.
const CertManagerNamespace = "cert-manager"

// CertificateDuration and RenewBefore rotate certificates and their private
// keys every 90 days, the guide's key rotation period.
const (
	CertificateDuration = "2160h"
	RenewBefore         = "360h"
)

// ACME asks a public CA (Let's Encrypt) for certificates, proving control of
// the domain with DNS records (the gateway serves no plain HTTP, so HTTP-01
// cannot be used). The solver uses the cluster's workload identity.
type ACME struct {
	Email, Server string
	// DNS01 is the cert-manager dns01 solver block for the stack's cloud
	// (route53, azureDNS or cloudDNS).
	DNS01 map[string]any
}

// Certificate is a certificate the platform serves.
type Certificate struct {
	// Name is the Secret and Certificate name (the gateway's certificateRef).
	Name, Namespace string
	DNSNames        []string
	// IPAddresses are IP SANs (127.0.0.1 for clients inside the pod).
	IPAddresses []string
	// Public certificates come from the ACME issuer when there is one;
	// the rest (in-cluster TLS, e.g. Vault's) from the platform's CA.
	Public bool
}

// CertsArgs configure cert-manager, the platform's ClusterIssuer and its
// certificates.
type CertsArgs struct {
	Mode upstream.Mode
	// ACME, when set, issues the public certificates; otherwise they come
	// from the platform's private CA too (local and dev: no public DNS).
	ACME         *ACME
	Certificates []Certificate
	DependsOn    []pulumi.Resource
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
	if acme := a.ACME; acme != nil && (acme.Email == "" || acme.Server == "" || len(acme.DNS01) == 0) {
		errs = append(errs, errors.New("acme: an email, a server and a dns01 solver are required"))
	}
	return errors.Join(errs...)
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
	ready, err := upstream.Install(ctx, "cert-manager", upstream.CertManager, args.Mode, CertManagerNamespace, pulumi.Map{
		"crds":                      pulumi.Map{"enabled": pulumi.Bool(true), "keep": pulumi.Bool(true)},
		"replicaCount":              pulumi.Int(2),
		"podDisruptionBudget":       pulumi.Map{"enabled": pulumi.Bool(true), "minAvailable": pulumi.Int(1)},
		"webhook":                   pulumi.Map{"replicaCount": pulumi.Int(3), "podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "minAvailable": pulumi.Int(1)}},
		"cainjector":                pulumi.Map{"replicaCount": pulumi.Int(2), "podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "minAvailable": pulumi.Int(1)}},
		"enableCertificateOwnerRef": pulumi.Bool(true),
		// DNS-01 self-checks go to public resolvers over HTTPS: the
		// namespace's egress admits 443, not port 53 to the internet.
		"extraArgs":  pulumi.ToStringArray([]string{"--dns01-recursive-nameservers-only", "--dns01-recursive-nameservers=https://1.1.1.1/dns-query"}),
		"prometheus": pulumi.Map{"enabled": pulumi.Bool(true)},
	}, pulumi.Parent(c), pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}
	cr := func(res, kind, ns, objName string, spec map[string]any) error {
		_, err := upstream.NewObject(ctx, res, upstream.Object{APIVersion: "cert-manager.io/v1", Kind: kind, Namespace: ns, Name: objName, Spec: spec},
			pulumi.Parent(c), pulumi.DependsOn(ready), pulumi.DependsOn(args.DependsOn))
		return err
	}
	key := map[string]any{"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
	public := IssuerName
	if a := args.ACME; a != nil {
		public = PublicIssuerName
		if err := cr(name+"-public-issuer", "ClusterIssuer", "", PublicIssuerName, map[string]any{"acme": map[string]any{
			"email": a.Email, "server": a.Server,
			"privateKeySecretRef": map[string]any{"name": PublicIssuerName + "-acme-account"},
			"solvers":             []any{map[string]any{"dns01": a.DNS01}},
		}}); err != nil {
			return nil, err
		}
	}
	{
		// A self-signed root signs a CA certificate; the CA issues the rest.
		if err := cr(name+"-selfsigned", "ClusterIssuer", "", IssuerName+"-selfsigned", map[string]any{"selfSigned": map[string]any{}}); err != nil {
			return nil, err
		}
		if err := cr(name+"-ca", "Certificate", CertManagerNamespace, IssuerName+"-ca", map[string]any{
			"isCA": true, "commonName": "CloudScale platform CA", "secretName": IssuerName + "-ca",
			"duration": "8760h", "renewBefore": "720h", "privateKey": key,
			"issuerRef": map[string]any{"name": IssuerName + "-selfsigned", "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}); err != nil {
			return nil, err
		}
		if err := cr(name+"-issuer", "ClusterIssuer", "", IssuerName, map[string]any{"ca": map[string]any{"secretName": IssuerName + "-ca"}}); err != nil {
			return nil, err
		}
	}
	for _, cert := range args.Certificates {
		issuer := IssuerName
		if cert.Public {
			issuer = public
		}
		spec := map[string]any{
			"secretName": cert.Name, "dnsNames": anys(cert.DNSNames),
			"duration": CertificateDuration, "renewBefore": RenewBefore, "privateKey": key,
			"issuerRef": map[string]any{"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}
		if len(cert.IPAddresses) > 0 {
			spec["ipAddresses"] = anys(cert.IPAddresses)
		}
		if err := cr(name+"-"+cert.Namespace+"-"+cert.Name, "Certificate", cert.Namespace, cert.Name, spec); err != nil {
			return nil, err
		}
	}
	c.Issuer = pulumi.String(public).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"issuer": c.Issuer}); err != nil {
		return nil, err
	}
	return c, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
