package spec

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	k8sVersion = regexp.MustCompile(`^1\.([0-9]{1,3})$`)
	gcpProject = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
)

// Default is the guide's requests and limits.
func (r *Resources) Default(*Spec) {
	*r = Resources{
		Limits:   ResourceList{CPU: DefaultLimitCPU, Memory: DefaultLimitMemory},
		Requests: ResourceList{CPU: DefaultRequestCPU, Memory: DefaultRequestMemory},
	}
}

// Validate checks that every value is a positive quantity and no request
// exceeds its limit.
func (r *Resources) Validate(_ *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	lc, e1 := quantity(p.Child("limits", "cpu"), r.Limits.CPU, DefaultLimitCPU)
	lm, e2 := quantity(p.Child("limits", "memory"), r.Limits.Memory, DefaultLimitMemory)
	rc, e3 := quantity(p.Child("requests", "cpu"), r.Requests.CPU, DefaultRequestCPU)
	rm, e4 := quantity(p.Child("requests", "memory"), r.Requests.Memory, DefaultRequestMemory)
	for _, e := range []*field.Error{e1, e2, e3, e4} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if e1 == nil && e3 == nil && rc.Cmp(lc) > 0 {
		errs = append(errs, field.Invalid(p.Child("requests", "cpu"), r.Requests.CPU, "more than the limit "+r.Limits.CPU+"; a request must not exceed its limit"))
	}
	if e2 == nil && e4 == nil && rm.Cmp(lm) > 0 {
		errs = append(errs, field.Invalid(p.Child("requests", "memory"), r.Requests.Memory, "more than the limit "+r.Limits.Memory+"; a request must not exceed its limit"))
	}
	return errs
}

// quantity parses a positive Kubernetes quantity.
func quantity(p *field.Path, v, example string) (resource.Quantity, *field.Error) {
	q, err := resource.ParseQuantity(v)
	switch {
	case err != nil:
		return q, field.Invalid(p, v, "not a Kubernetes quantity; e.g. "+example)
	case q.Sign() <= 0:
		return q, field.Invalid(p, v, "must be greater than zero")
	}
	return q, nil
}

// Default is a persistent 100Gi volume.
func (ps *Persistence) Default(*Spec) {
	*ps = Persistence{Enabled: true, Size: DefaultPersistenceSize}
}

// Validate checks the size: a quantity of at least 1Gi.
func (ps *Persistence) Validate(_ *Spec, p *field.Path) field.ErrorList {
	q, err := quantity(p.Child("size"), ps.Size, DefaultPersistenceSize)
	if err != nil {
		return field.ErrorList{err}
	}
	if q.Cmp(resource.MustParse("1Gi")) < 0 {
		return field.ErrorList{field.Invalid(p.Child("size"), ps.Size, "too small for a database volume; allowed: 1Gi or more")}
	}
	return nil
}

// Default is the guide's minimum cluster: three nodes of the cloud's
// smallest size that meets it.
func (c *Cluster) Default(s *Spec) {
	*c = Cluster{KubernetesVersion: DefaultKubernetesVersion, NodeCount: MinNodes, NodeSize: DefaultNodeSize[s.Cloud], NodeDiskGiB: MinNodeDiskGiB}
}

// Validate checks the cluster against the guide's System Requirements.
func (c *Cluster) Validate(s *Spec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m := k8sVersion.FindStringSubmatch(c.KubernetesVersion); m == nil {
		errs = append(errs, field.Invalid(p.Child("kubernetesVersion"), c.KubernetesVersion, fmt.Sprintf("not a Kubernetes minor version; e.g. %q", DefaultKubernetesVersion)))
	} else if minor, _ := strconv.Atoi(m[1]); minor < MinKubernetesMinor {
		errs = append(errs, field.Invalid(p.Child("kubernetesVersion"), c.KubernetesVersion, fmt.Sprintf("older than the guide's minimum; allowed: 1.%d or newer", MinKubernetesMinor)))
	}
	switch n := c.NodeCount; {
	case n < MinNodes:
		errs = append(errs, field.Invalid(p.Child("nodeCount"), n, fmt.Sprintf("below the guide's minimum; allowed: %d or more nodes", MinNodes)))
	case s.Environment.Production() && len(s.Zones) > 0 && n%len(s.Zones) != 0:
		errs = append(errs, field.Invalid(p.Child("nodeCount"), n, fmt.Sprintf("does not spread evenly over %d zones; %s needs a multiple of %d", len(s.Zones), s.Environment, len(s.Zones))))
	}
	if e := c.validateNodeSize(s, p.Child("nodeSize")); e != nil {
		errs = append(errs, e)
	}
	if c.NodeDiskGiB < MinNodeDiskGiB {
		errs = append(errs, field.Invalid(p.Child("nodeDiskGiB"), c.NodeDiskGiB, fmt.Sprintf("below the guide's minimum; allowed: %d or more (GiB of SSD per node)", MinNodeDiskGiB)))
	}
	for i, cidr := range c.APIAllowedCIDRs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("apiAllowedCidrs").Index(i), cidr, "not a CIDR; e.g. 203.0.113.0/24"))
		} else if ones, _ := n.Mask.Size(); ones == 0 {
			errs = append(errs, field.Invalid(p.Child("apiAllowedCidrs").Index(i), cidr, "opens the API server to the whole internet; list your office or VPN ranges, or none for a private endpoint"))
		}
	}
	return errs
}

func (c *Cluster) validateNodeSize(s *Spec, p *field.Path) *field.Error {
	if s.Cloud == "" || Sizes[s.Cloud] == nil {
		return nil
	}
	known, found := Sizes[s.Cloud][c.NodeSize]
	switch {
	case !found:
		return field.NotSupported(p, c.NodeSize, SizeNames(s.Cloud))
	case known.MemoryGiB < MinNodeMemoryGiB:
		return field.Invalid(p, c.NodeSize, fmt.Sprintf("has %d GiB of memory; the guide needs at least %d GiB per node (e.g. %s)", known.MemoryGiB, MinNodeMemoryGiB, DefaultNodeSize[s.Cloud]))
	case s.Environment.Production() && s.Cloud != Local && known.NetworkGbps < MinNodeNetworkGbps:
		return field.Invalid(p, c.NodeSize, fmt.Sprintf("has %g Gbps of network bandwidth; the guide needs %d Gbps between nodes in %s (e.g. %s)", known.NetworkGbps, MinNodeNetworkGbps, s.Environment, DefaultNodeSize[s.Cloud]))
	}
	return nil
}

// Default is DefaultNetworkCIDR.
func (n *Network) Default(*Spec) { *n = Network{CIDR: DefaultNetworkCIDR} }

// Validate checks for an IPv4 prefix from /8 to /16.
func (n *Network) Validate(_ *Spec, p *field.Path) field.ErrorList {
	p = p.Child("cidr")
	ip, ipnet, err := net.ParseCIDR(n.CIDR)
	switch {
	case err != nil || ip.To4() == nil:
		return field.ErrorList{field.Invalid(p, n.CIDR, "not an IPv4 CIDR; e.g. "+DefaultNetworkCIDR)}
	case !ipnet.IP.Equal(ip):
		return field.ErrorList{field.Invalid(p, n.CIDR, "has host bits set; e.g. "+ipnet.String())}
	}
	if ones, _ := ipnet.Mask.Size(); ones < 8 || ones > 16 {
		return field.ErrorList{field.Invalid(p, n.CIDR, fmt.Sprintf("a /%d; allowed: a prefix from /8 to /16, room for node and load-balancer subnets in every zone", ones))}
	}
	return nil
}

// Default is the simulated cluster's kubeconfig, on cloud local only.
func (l *LocalTarget) Default(s *Spec) {
	*l = LocalTarget{}
	if s.Cloud == Local {
		l.Kubeconfig = DefaultLocalKubeconfig
	}
}

// Validate checks that the kubeconfig is set for cloud local only.
func (l *LocalTarget) Validate(s *Spec, p *field.Path) field.ErrorList {
	p = p.Child("kubeconfig")
	switch {
	case s.Cloud != Local && s.Cloud != "" && l.Kubeconfig != "":
		return field.ErrorList{field.Forbidden(p, fmt.Sprintf("read only by cloud local, not %s; remove it", s.Cloud))}
	case s.Cloud == Local && strings.TrimSpace(l.Kubeconfig) == "":
		return field.ErrorList{field.Required(p, "the path of the local cluster's kubeconfig")}
	}
	return nil
}

// Default is no project.
func (g *GCPSettings) Default(*Spec) { *g = GCPSettings{} }

// Validate checks the project: required on GCP, refused elsewhere.
func (g *GCPSettings) Validate(s *Spec, p *field.Path) field.ErrorList {
	p = p.Child("project")
	switch {
	case g.Project != "" && s.Cloud != GCP && s.Cloud != "":
		return field.ErrorList{field.Forbidden(p, fmt.Sprintf("read only by cloud gcp, not %s; remove it", s.Cloud))}
	case g.Project == "" && s.Cloud == GCP:
		return field.ErrorList{field.Required(p, "for cloud gcp; the project id that holds the cluster")}
	case g.Project != "" && !gcpProject.MatchString(g.Project):
		return field.ErrorList{field.Invalid(p, g.Project, "not a GCP project id; use 6 to 30 lowercase letters, digits and '-'")}
	}
	return nil
}
