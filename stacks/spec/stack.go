package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The guide's System Requirements and Configuration Options.
const (
	DefaultReplicaCount      = 3
	DefaultLimitCPU          = "2000m"
	DefaultLimitMemory       = "4Gi"
	DefaultRequestCPU        = "500m"
	DefaultRequestMemory     = "1Gi"
	DefaultPersistenceSize   = "100Gi"
	DefaultKubernetesVersion = "1.33"
	DefaultNamespace         = "cloudscale"
	DefaultNetworkCIDR       = "10.40.0.0/16"
	DefaultLocalKubeconfig   = ".cloudscale/cluster/kubeconfig"

	MinKubernetesMinor = 25
	MinNodes           = 3
	MinNodeMemoryGiB   = 16
	MinNodeDiskGiB     = 100
	MinNodeNetworkGbps = 10
	MinProdZones       = 3
	MinProdReplicas    = 3
	MaxReplicas        = 100
)

// ReservedNamespaces are the namespaces of the mesh, the gateway and the
// operators; the platform's own namespace must be another.
var ReservedNamespaces = []string{"istio-system", "istio-ingress", "cert-manager", "vault", "external-secrets", "default", "kube-*"}

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	awsRegion = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	azRegion  = regexp.MustCompile(`^[a-z][a-z0-9]+$`)
	gcpRegion = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]$`)
)

// regionRules are each cloud's region name pattern and an example.
var regionRules = map[Cloud]struct {
	pattern *regexp.Regexp
	example string
}{
	AWS: {awsRegion, "us-east-1"}, Azure: {azRegion, "eastus2"}, GCP: {gcpRegion, "us-central1"},
}

// validateIdentity checks the keys that say which stack this is: cloud,
// environment, region, namespace and replicaCount.
func (s *Spec) validateIdentity() field.ErrorList {
	var errs field.ErrorList
	switch {
	case s.Cloud == "":
		errs = append(errs, field.Required(keyPath("cloud"), "allowed: "+strings.Join(supported(Clouds), ", ")))
	case !slices.Contains(Clouds, s.Cloud):
		errs = append(errs, field.NotSupported(keyPath("cloud"), s.Cloud, supported(Clouds)))
	}
	switch {
	case s.Environment == "":
		errs = append(errs, field.Required(keyPath("environment"), "allowed: "+strings.Join(supported(Environments), ", ")))
	case !slices.Contains(Environments, s.Environment):
		errs = append(errs, field.NotSupported(keyPath("environment"), s.Environment, supported(Environments)))
	}
	if rule, ok := regionRules[s.Cloud]; ok {
		switch {
		case s.Region == "":
			errs = append(errs, field.Required(keyPath("region"), fmt.Sprintf("for cloud %s; e.g. %s", s.Cloud, rule.example)))
		case !rule.pattern.MatchString(s.Region):
			errs = append(errs, field.Invalid(keyPath("region"), s.Region, fmt.Sprintf("not a %s region name; e.g. %s", s.Cloud, rule.example)))
		}
	}
	ns := keyPath("namespace")
	if len(s.Namespace) > 63 || !dnsLabel.MatchString(s.Namespace) {
		errs = append(errs, field.Invalid(ns, s.Namespace, "not a Kubernetes namespace name; use at most 63 lowercase letters, digits and '-'"))
	}
	if slices.Contains(ReservedNamespaces, s.Namespace) || strings.HasPrefix(s.Namespace, "kube-") {
		errs = append(errs, field.Invalid(ns, s.Namespace, "a namespace the platform's own tiers use; allowed: any other name (reserved: "+strings.Join(ReservedNamespaces, ", ")+")"))
	}
	lo := 1
	if s.Environment.Production() {
		lo = MinProdReplicas
	}
	if n := s.ReplicaCount; n < lo || n > MaxReplicas {
		detail := fmt.Sprintf("out of range; allowed: %d to %d", lo, MaxReplicas)
		if n >= 1 && n < lo {
			detail = fmt.Sprintf("too few for %s; allowed: %d to %d", s.Environment, lo, MaxReplicas)
		}
		errs = append(errs, field.Invalid(keyPath("replicaCount"), n, detail))
	}
	return errs
}

// DefaultZones are three zones of the region, named as the cloud names them.
func DefaultZones(c Cloud, region string) []string {
	switch c {
	case AWS:
		return []string{region + "a", region + "b", region + "c"}
	case GCP:
		return []string{region + "-a", region + "-b", region + "-c"}
	case Azure:
		return []string{"1", "2", "3"}
	case Local:
		return []string{"zone-a", "zone-b", "zone-c"}
	}
	return nil
}

// Default is three zones of the region.
func (z *Zones) Default(s *Spec) {
	if s.Cloud == Local || s.Region != "" {
		*z = DefaultZones(s.Cloud, s.Region)
	}
}

// Validate checks that the zones are distinct zones of the region, at
// least MinProdZones in staging and prod.
func (z *Zones) Validate(s *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, zone := range *z {
		if seen[zone] {
			errs = append(errs, field.Duplicate(p.Index(i), zone))
		}
		seen[zone] = true
		if detail := zoneProblem(s, zone); detail != "" {
			errs = append(errs, field.Invalid(p.Index(i), zone, detail))
		}
	}
	switch {
	case len(*z) == 0 && s.Region == "" && s.Cloud != Local:
		// No region, no zones: the region's error says what to fix.
	case len(*z) == 0:
		errs = append(errs, field.Required(p, "at least one zone"))
	case s.Environment.Production() && len(*z) < MinProdZones:
		errs = append(errs, field.Invalid(p, []string(*z), fmt.Sprintf("%s needs at least %d availability zones", s.Environment, MinProdZones)))
	}
	return errs
}

// zoneProblem says why zone is not a zone of the stack's region, or "".
func zoneProblem(s *Spec, zone string) string {
	letter := zone != "" && zone[len(zone)-1] >= 'a' && zone[len(zone)-1] <= 'z'
	switch {
	case s.Region == "":
		return ""
	case s.Cloud == AWS && (len(zone) != len(s.Region)+1 || !strings.HasPrefix(zone, s.Region) || !letter):
		return fmt.Sprintf("not a zone of region %s; e.g. %sa", s.Region, s.Region)
	case s.Cloud == GCP && (len(zone) != len(s.Region)+2 || !strings.HasPrefix(zone, s.Region+"-") || !letter):
		return fmt.Sprintf("not a zone of region %s; e.g. %s-a", s.Region, s.Region)
	case s.Cloud == Azure && zone != "1" && zone != "2" && zone != "3":
		return `not an Azure availability zone; allowed: "1", "2", "3"`
	case s.Cloud == Local && !dnsLabel.MatchString(zone):
		return "not a valid zone label; use lowercase letters, digits and '-'"
	}
	return ""
}
