package spec

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/chaos/schedule"
	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
)

// Defaults of the Kubernetes tiers.
const (
	DefaultGatewayMaxReplicas = 10
	DefaultIstiodReplicas     = 2
	DefaultACMEServer         = "https://acme-v02.api.letsencrypt.org/directory"
	// IngressNamespace is where the gateway runs (with sidecars, so a
	// Redis for its counters may run there too).
	IngressNamespace = "istio-ingress"
)

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// DefaultTracingSampling is the percentage of requests traced: all in dev
// (and local), a sample where traffic is real.
var DefaultTracingSampling = map[Environment]float64{Dev: 100, Staging: 10, Prod: 1}

// Default is the service the guide's Gateway example routes to.
func (ss *Services) Default(*Spec) { *ss = Services{{Name: "api-service", Port: 8080}} }

// digestImage is an image referenced by digest.
var digestImage = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+@sha256:[0-9a-f]{64}$`)

// Validate checks names, ports, replicas, canary weights and images, and
// callers.
func (ss *Services) Validate(spec *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, s := range *ss {
		f := p.Index(i)
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(f.Child("name"), ""))
		case !dnsLabel.MatchString(s.Name) || len(s.Name) > 52:
			errs = append(errs, field.Invalid(f.Child("name"), s.Name, "not a service name; use at most 52 lowercase letters, digits and '-'"))
		case seen[s.Name]:
			errs = append(errs, field.Duplicate(f.Child("name"), s.Name))
		}
		seen[s.Name] = true
		if s.Port < 1 || s.Port > 65535 {
			errs = append(errs, field.Invalid(f.Child("port"), s.Port, "out of range; allowed: 1 to 65535"))
		}
		if s.CanaryWeight < 0 || s.CanaryWeight > 100 {
			errs = append(errs, field.Invalid(f.Child("canaryWeight"), s.CanaryWeight, "not a percentage; allowed: 0 to 100"))
		}
		switch {
		case s.CanaryImage != "" && s.CanaryWeight == 0:
			errs = append(errs, field.Forbidden(f.Child("canaryImage"), "runs only with a canaryWeight above 0; remove it or set canaryWeight"))
		case s.CanaryImage != "" && !digestImage.MatchString(s.CanaryImage):
			errs = append(errs, field.Invalid(f.Child("canaryImage"), s.CanaryImage, "not an image by digest; e.g. ghcr.io/cloudscale/api-service@sha256:<64 hex>"))
		}
		if lo := map[bool]int{true: MinProdReplicas, false: 1}[spec.Environment.Production()]; s.Replicas != 0 && s.Replicas < lo {
			errs = append(errs, field.Invalid(f.Child("replicas"), s.Replicas, fmt.Sprintf("too few for %s; allowed: %d or more (or unset: replicaCount)", spec.Environment, lo)))
		}
		errs = append(errs, validateSLO(s, f.Child("slo"))...)
	}
	for i, s := range *ss {
		for j, c := range s.Callers {
			if !seen[c] {
				errs = append(errs, field.NotSupported(p.Index(i).Child("callers").Index(j), c, slices.Sorted(maps.Keys(seen))))
			}
		}
	}
	return errs
}

// Default exposes the gateway to the internet at api.<stack>.cloudscale.internal
// with replicaCount replicas, autoscaled up to 10.
func (g *Gateway) Default(s *Spec) {
	*g = Gateway{
		Hosts:        []string{fmt.Sprintf("api.%s.cloudscale.internal", s.Stack)},
		SourceRanges: []string{"0.0.0.0/0"},
		MinReplicas:  s.ReplicaCount, MaxReplicas: DefaultGatewayMaxReplicas,
	}
}

// Validate reads the Gateway document (inline, from documentFile, or the
// guide's example), checks it against the services and checks that what
// its routes need is configured.
func (g *Gateway) Validate(s *Spec, p *field.Path) field.ErrorList {
	root, errs := g.readDocument(s, p)
	if g.Document != nil {
		errs = append(errs, g.Document.Validate(root, s.Services.Names())...)
	}
	for i, h := range g.Hosts {
		if !hostname(h) {
			errs = append(errs, field.Invalid(p.Child("hosts").Index(i), h, "not a DNS name"))
		}
	}
	if len(g.SourceRanges) == 0 {
		errs = append(errs, field.Required(p.Child("sourceRanges"), "the addresses that may reach the gateway (0.0.0.0/0 for the internet)"))
	}
	for i, c := range g.SourceRanges {
		if _, _, err := net.ParseCIDR(c); err != nil {
			errs = append(errs, field.Invalid(p.Child("sourceRanges").Index(i), c, "not a CIDR; e.g. 203.0.113.0/24"))
		}
	}
	// Inherited from replicaCount, a floor is reported there.
	if lo := map[bool]int{true: MinProdReplicas, false: 1}[s.Environment.Production()]; g.MinReplicas < lo && g.MinReplicas != s.ReplicaCount {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), g.MinReplicas, fmt.Sprintf("too few for %s; allowed: %d or more", s.Environment, lo)))
	}
	if g.MaxReplicas < g.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), g.MaxReplicas, fmt.Sprintf("below minReplicas %d", g.MinReplicas)))
	}
	errs = append(errs, g.OIDC.validate(p.Child("oidc"))...)
	return append(errs, g.validateNeeds(p)...)
}

// readDocument fills Document from documentFile, or with the guide's
// example when none is given, and returns the path its fields are named
// under.
func (g *Gateway) readDocument(s *Spec, p *field.Path) (*field.Path, field.ErrorList) {
	root := p.Child("document")
	switch {
	case g.Document != nil && g.DocumentFile != "":
		return root, field.ErrorList{field.Forbidden(p.Child("documentFile"), "give the Gateway document either inline (document) or as a file (documentFile), not both")}
	case g.Document != nil:
		g.DocumentSource = root.String()
	case g.DocumentFile != "":
		root = p.Child("documentFile").Key(g.DocumentFile)
		file := g.DocumentFile
		if !filepath.IsAbs(file) && s.dir != "" {
			file = filepath.Join(s.dir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return root, field.ErrorList{field.Invalid(p.Child("documentFile"), g.DocumentFile, "cannot read "+file+": "+errorText(err))}
		}
		var errs field.ErrorList
		g.Document, errs = gatewaydoc.Parse(data, root)
		g.DocumentSource = fmt.Sprintf("%s (%s)", p.Child("documentFile"), file)
		return root, errs
	default:
		root = root.Key("the guide's example")
		g.Document, _ = gatewaydoc.Parse([]byte(gatewaydoc.GuideExample), root)
		g.DocumentSource = "the guide's example (no " + p.Child("document").String() + " set)"
	}
	return root, nil
}

// validateNeeds checks that what the routes need is configured.
func (g *Gateway) validateNeeds(p *field.Path) field.ErrorList {
	if g.Document == nil {
		return nil
	}
	var errs field.ErrorList
	needs := g.Document.Needs()
	if needs.UserTokens >= 0 && g.OIDC.Issuer == "" {
		errs = append(errs, field.Required(p.Child("oidc"), fmt.Sprintf("%s: spec.routes[%d] asks for a user token (auth.required); give the identity provider's issuer and jwksUri", g.DocumentSource, needs.UserTokens)))
	}
	return errs
}

func (o OIDC) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"issuer", o.Issuer}, {"jwksUri", o.JWKSURI}} {
		if u, err := url.Parse(f.value); f.value != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, "not an https URL"))
		}
	}
	if (o.Issuer == "") != (o.JWKSURI == "") {
		errs = append(errs, field.Required(p, "give both issuer and jwksUri, or neither"))
	}
	return errs
}

// Default is the environment's tracing sample and two istiod replicas.
func (m *Mesh) Default(s *Spec) {
	sampling, ok := DefaultTracingSampling[s.Environment]
	if !ok {
		sampling = 100
	}
	*m = Mesh{TracingSampling: sampling, IstiodReplicas: DefaultIstiodReplicas}
}

// Validate checks the sampling percentage and that istiod is replicated.
func (m *Mesh) Validate(_ *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.TracingSampling < 0 || m.TracingSampling > 100 {
		errs = append(errs, field.Invalid(p.Child("tracingSampling"), m.TracingSampling, "not a percentage; allowed: 0 to 100"))
	}
	if m.IstiodReplicas < DefaultIstiodReplicas {
		errs = append(errs, field.Invalid(p.Child("istiodReplicas"), m.IstiodReplicas, fmt.Sprintf("leaves the mesh's control plane a single point of failure; allowed: %d or more", DefaultIstiodReplicas)))
	}
	return errs
}

// DefaultChaosSchedule runs the experiments at 10:00 on weekdays.
const DefaultChaosSchedule = "0 10 * * 1-5"

// Default runs the experiments on weekdays at 10:00, keeping 5 runs, and
// in prod only ever in business hours.
func (c *Chaos) Default(s *Spec) {
	*c = Chaos{Enabled: true, Schedule: DefaultChaosSchedule, BusinessHoursOnly: s.Environment == Prod, HistoryLimit: 5}
}

// Validate checks the schedule as Chaos Mesh parses it, business hours
// where they are required, and the history limit.
func (c *Chaos) Validate(_ *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := schedule.Check(c.Schedule, c.BusinessHoursOnly); err != nil {
		errs = append(errs, field.Invalid(p.Child("schedule"), c.Schedule, err.Error()))
	}
	if c.HistoryLimit < 1 {
		errs = append(errs, field.Invalid(p.Child("historyLimit"), c.HistoryLimit, "keeps no run; allowed: 1 or more"))
	}
	return errs
}

// Default is no ACME issuer: certificates from the platform's private CA.
func (sec *Security) Default(*Spec) { *sec = Security{} }

// Validate checks the ACME settings for the stack's cloud, and fills in
// the default ACME server.
func (sec *Security) Validate(s *Spec, p *field.Path) field.ErrorList {
	a := sec.ACME
	if a == nil {
		return nil
	}
	p = p.Child("acme")
	var errs field.ErrorList
	if s.Cloud == Local {
		return field.ErrorList{field.Forbidden(p, "not used by cloud local (no public DNS); remove it")}
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		errs = append(errs, field.Invalid(p.Child("email"), a.Email, "not an email address"))
	}
	if a.Server == "" {
		a.Server = DefaultACMEServer
	} else if u, err := url.Parse(a.Server); err != nil || u.Scheme != "https" {
		errs = append(errs, field.Invalid(p.Child("server"), a.Server, "not an https URL"))
	}
	if a.DNSZone != "" && !hostname(a.DNSZone) {
		errs = append(errs, field.Invalid(p.Child("dnsZone"), a.DNSZone, "not a DNS zone"))
	}
	if a.Email == "" || a.DNSZone == "" {
		errs = append(errs, field.Required(p, "email and dnsZone (certificates are proven with DNS-01 records in that zone)"))
	}
	for _, f := range []struct{ name, value string }{{"azureSubscriptionId", a.AzureSubscriptionID}, {"azureResourceGroup", a.AzureResourceGroup}} {
		if f.value != "" && s.Cloud != Azure {
			errs = append(errs, field.Forbidden(p.Child(f.name), fmt.Sprintf("read only by cloud azure, not %s; remove it", s.Cloud)))
		}
	}
	if a.AzureSubscriptionID != "" && !guid.MatchString(a.AzureSubscriptionID) {
		errs = append(errs, field.Invalid(p.Child("azureSubscriptionId"), a.AzureSubscriptionID, "not a subscription id (a GUID)"))
	}
	if s.Cloud == Azure && a.Email != "" && (a.AzureSubscriptionID == "" || a.AzureResourceGroup == "") {
		errs = append(errs, field.Required(p, "on azure also azureSubscriptionId and azureResourceGroup of the DNS zone"))
	}
	return errs
}

func hostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimPrefix(h, "*."), ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

func errorText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
