// Package upstream is the one place where the versions of what the
// platform installs from other projects are pinned: Helm charts (with the
// custom resource kinds the platform writes for them) and container
// images. Install puts a chart into the cluster, or, where charts cannot be
// fetched (the local simulated cluster, offline), only stand-in
// definitions of the kinds the platform uses, so that its own objects of
// those kinds are still applied to and stored by the real API server.
package upstream

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	apiextensionsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Kind is a custom resource kind a chart defines and the platform writes.
type Kind struct {
	Group, Kind, Plural string
	// Versions served; the first is stored.
	Versions   []string
	Namespaced bool
}

// Chart is a Helm chart at an exact version.
type Chart struct {
	Name, Repo, Version string
	// Kinds are the chart's custom resources the platform writes.
	Kinds []Kind
}

// IstioVersion is the mesh release; the charts and the proxy image share it.
const IstioVersion = "1.27.3"

var istioRepo = "https://istio-release.storage.googleapis.com/charts"

// The pinned charts.
var (
	IstioBase = Chart{Name: "base", Repo: istioRepo, Version: IstioVersion, Kinds: []Kind{
		{Group: "networking.istio.io", Kind: "Gateway", Plural: "gateways", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "networking.istio.io", Kind: "VirtualService", Plural: "virtualservices", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "networking.istio.io", Kind: "DestinationRule", Plural: "destinationrules", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "networking.istio.io", Kind: "EnvoyFilter", Plural: "envoyfilters", Versions: []string{"v1alpha3"}, Namespaced: true},
		{Group: "security.istio.io", Kind: "PeerAuthentication", Plural: "peerauthentications", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "security.istio.io", Kind: "AuthorizationPolicy", Plural: "authorizationpolicies", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "security.istio.io", Kind: "RequestAuthentication", Plural: "requestauthentications", Versions: []string{"v1", "v1beta1"}, Namespaced: true},
		{Group: "telemetry.istio.io", Kind: "Telemetry", Plural: "telemetries", Versions: []string{"v1", "v1alpha1"}, Namespaced: true},
	}}
	IstioCNI = Chart{Name: "cni", Repo: istioRepo, Version: IstioVersion}
	Istiod   = Chart{Name: "istiod", Repo: istioRepo, Version: IstioVersion}

	CertManager = Chart{Name: "cert-manager", Repo: "https://charts.jetstack.io", Version: "v1.18.2", Kinds: []Kind{
		{Group: "cert-manager.io", Kind: "ClusterIssuer", Plural: "clusterissuers", Versions: []string{"v1"}},
		{Group: "cert-manager.io", Kind: "Issuer", Plural: "issuers", Versions: []string{"v1"}, Namespaced: true},
		{Group: "cert-manager.io", Kind: "Certificate", Plural: "certificates", Versions: []string{"v1"}, Namespaced: true},
	}}
	Vault = Chart{Name: "vault", Repo: "https://helm.releases.hashicorp.com", Version: "0.31.0"}

	ExternalSecrets = Chart{Name: "external-secrets", Repo: "https://charts.external-secrets.io", Version: "0.19.2", Kinds: []Kind{
		{Group: "external-secrets.io", Kind: "ClusterSecretStore", Plural: "clustersecretstores", Versions: []string{"v1"}},
		{Group: "external-secrets.io", Kind: "ExternalSecret", Plural: "externalsecrets", Versions: []string{"v1"}, Namespaced: true},
	}}
)

// The pinned images the platform runs itself (charts pin their own).
const (
	// ProxyImage is replaced by the injector with the same version; it is
	// named so the object is complete where no injector runs.
	ProxyImage     = "docker.io/istio/proxyv2:" + IstioVersion
	RateLimitImage = "docker.io/envoyproxy/ratelimit:6f5de117"
)

// Mode says how Install provides a chart.
type Mode int

const (
	// Charts installs the pinned chart (clouds).
	Charts Mode = iota
	// StandIns installs only open definitions of the chart's kinds the
	// platform writes (local: charts cannot be fetched offline and the
	// simulated nodes run no containers).
	StandIns
)

func (m Mode) String() string {
	if m == StandIns {
		return "stand-ins"
	}
	return "charts"
}

var exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+$`)

// Validate refuses a chart that is not pinned to an exact version of an
// HTTPS repository.
func (c Chart) Validate() error {
	if !exactVersion.MatchString(c.Version) {
		return fmt.Errorf("chart %s: version %q is not an exact version (x.y.z)", c.Name, c.Version)
	}
	if !strings.HasPrefix(c.Repo, "https://") {
		return fmt.Errorf("chart %s: repository %q is not an https URL", c.Name, c.Repo)
	}
	return nil
}

// Install provides chart c in namespace ns as the release name: the chart
// itself with values, or the stand-in kinds. The returned resources are
// what objects of the chart's kinds must depend on.
func Install(ctx *pulumi.Context, name string, c Chart, mode Mode, ns string, values pulumi.Map, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if mode == StandIns {
		return StandInKinds(ctx, c.Kinds, opts...)
	}
	r, err := helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:           pulumi.String(name),
		Chart:          pulumi.String(c.Name),
		Version:        pulumi.String(c.Version),
		RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(c.Repo)},
		Namespace:      pulumi.String(ns),
		Values:         values,
		Atomic:         pulumi.Bool(true),
		CleanupOnFail:  pulumi.Bool(true),
		MaxHistory:     pulumi.Int(10),
		Timeout:        pulumi.Int(900),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{r}, nil
}

// StandInKinds defines each kind with an open schema: the API server
// stores the platform's objects as written, and no controller acts on them.
func StandInKinds(ctx *pulumi.Context, kinds []Kind, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	for _, k := range kinds {
		scope := "Cluster"
		if k.Namespaced {
			scope = "Namespaced"
		}
		var versions apiextensionsv1.CustomResourceDefinitionVersionArray
		for i, v := range k.Versions {
			versions = append(versions, &apiextensionsv1.CustomResourceDefinitionVersionArgs{
				Name: pulumi.String(v), Served: pulumi.Bool(true), Storage: pulumi.Bool(i == 0),
				Schema: &apiextensionsv1.CustomResourceValidationArgs{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaPropsArgs{
					Type: pulumi.String("object"), X_kubernetes_preserve_unknown_fields: pulumi.Bool(true),
				}},
			})
		}
		crd, err := apiextensionsv1.NewCustomResourceDefinition(ctx, k.Plural+"."+k.Group, &apiextensionsv1.CustomResourceDefinitionArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:   pulumi.String(k.Plural + "." + k.Group),
				Labels: pulumi.StringMap{"cloudscale.io/stand-in": pulumi.String("true")},
			},
			Spec: &apiextensionsv1.CustomResourceDefinitionSpecArgs{
				Group: pulumi.String(k.Group),
				Scope: pulumi.String(scope),
				Names: &apiextensionsv1.CustomResourceDefinitionNamesArgs{
					Kind: pulumi.String(k.Kind), Plural: pulumi.String(k.Plural), Singular: pulumi.String(strings.ToLower(k.Kind)), ListKind: pulumi.String(k.Kind + "List"),
				},
				Versions: versions,
			},
		}, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, crd)
	}
	return out, nil
}

// Object is an object of one of the upstream kinds (Istio, cert-manager,
// External Secrets): what the platform writes for those controllers.
type Object struct {
	APIVersion, Kind string
	// Namespace is empty for cluster-scoped kinds.
	Namespace, Name string
	Spec            map[string]any
}

// NewObject registers o as resource name; opts carry its parent and what
// defines its kind (the chart or the stand-ins).
func NewObject(ctx *pulumi.Context, name string, o Object, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(o.Name)}
	if o.Namespace != "" {
		meta.Namespace = pulumi.String(o.Namespace)
	}
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(o.APIVersion),
		Kind:        pulumi.String(o.Kind),
		Metadata:    meta,
		OtherFields: kubernetes.UntypedArgs{"spec": o.Spec},
	}, opts...)
}
