package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
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

// topKeys are the keys of the cloudscale namespace, in the order they are read.
var topKeys = []string{
	"cloud", "environment", "region", "zones", "namespace", "replicaCount",
	"resources", "persistence", "cluster", "network", "local", "gcp",
	"services", "gateway", "mesh", "security",
}

// TopKeys returns the top-level config keys (without namespace) a program
// should read; structured ones arrive as JSON text.
func TopKeys() []string { return append([]string(nil), topKeys...) }

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	azRegion   = regexp.MustCompile(`^[a-z][a-z0-9]+$`)
	gcpRegion  = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]$`)
	gcpProject = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	k8sVersion = regexp.MustCompile(`^1\.([0-9]{1,3})$`)
)

// Load builds and validates the Spec of stack from its raw config: keys as
// Pulumi names them ("cloudscale:replicaCount", or without namespace),
// scalar values as text and structured values as JSON text, exactly what a
// Pulumi program receives. Every problem is reported in one *Error.
func Load(stack string, raw map[string]string) (Spec, error) {
	return load("stack "+stack, stack, raw, "")
}

// LoadIn is Load with files the config names (gateway.documentFile)
// resolved against dir, the stacks' directory.
func LoadIn(dir, stack string, raw map[string]string) (Spec, error) {
	return load("stack "+stack, stack, raw, dir)
}

func load(source, stack string, raw map[string]string, dir string) (Spec, error) {
	ps := &problems{}
	cfg := map[string]string{}
	for k, v := range raw {
		ns, name, found := strings.Cut(k, ":")
		if !found {
			ns, name = Namespace, k
		}
		if ns != Namespace {
			continue // other packages' config (aws:, kubernetes:, ...) is theirs to read
		}
		cfg[name] = v
	}
	var unknown []string
	for k := range cfg {
		if !contains(topKeys, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		ps.add(Key(k), "unknown key%s; allowed: %s", suggest(k, topKeys), strings.Join(topKeys, ", "))
	}

	s := Spec{Stack: stack}
	s.Cloud = Cloud(enum(ps, cfg, "cloud", Clouds))
	s.Environment = Environment(enum(ps, cfg, "environment", Environments))
	s.Region = region(ps, cfg, s.Cloud)
	s.Zones = zones(ps, cfg, s)
	s.Namespace = namespace(ps, cfg)
	s.ReplicaCount = replicaCount(ps, cfg, s.Environment)
	s.Resources = resources(ps, cfg)
	s.Persistence = persistence(ps, cfg)
	s.Cluster = cluster(ps, cfg, s)
	s.Network = network(ps, cfg)
	s.Local = local(ps, cfg, s.Cloud)
	s.GCP = gcpSettings(ps, cfg, s.Cloud)
	s.Services = services(ps, cfg)
	s.Gateway = gateway(ps, cfg, s, dir)
	s.Mesh = meshSettings(ps, cfg, s.Environment)
	s.Security = security(ps, cfg, s.Cloud)
	if len(*ps) > 0 {
		return Spec{}, &Error{Source: source, Problems: *ps}
	}
	return s, nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func joinAny[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func enum[T ~string](ps *problems, cfg map[string]string, name string, allowed []T) string {
	v, ok := cfg[name]
	if !ok || v == "" {
		ps.add(Key(name), "required; allowed: %s", joinAny(allowed))
		return ""
	}
	if !contains(allowed, T(v)) {
		ps.add(Key(name), "%q is not supported; allowed: %s", v, joinAny(allowed))
		return ""
	}
	return v
}

func region(ps *problems, cfg map[string]string, c Cloud) string {
	v, ok := cfg["region"]
	if c == Local {
		if ok && v != "local" {
			ps.add(Key("region"), "%q is not used by the local cloud; allowed: local, or leave it out", v)
		}
		return "local"
	}
	if c == "" {
		return v
	}
	if !ok || v == "" {
		ps.add(Key("region"), "required for cloud %s; e.g. %s", c, map[Cloud]string{AWS: "us-east-1", Azure: "eastus2", GCP: "us-central1"}[c])
		return ""
	}
	pattern, example := map[Cloud]*regexp.Regexp{AWS: awsRegion, Azure: azRegion, GCP: gcpRegion}[c],
		map[Cloud]string{AWS: "us-east-1", Azure: "eastus2", GCP: "us-central1"}[c]
	if !pattern.MatchString(v) {
		ps.add(Key("region"), "%q is not a %s region name; e.g. %s", v, c, example)
		return ""
	}
	return v
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

func zones(ps *problems, cfg map[string]string, s Spec) []string {
	key := Key("zones")
	raw, ok := cfg["zones"]
	if !ok {
		return DefaultZones(s.Cloud, s.Region)
	}
	zs, ok := asStrings(ps, key, raw)
	if !ok {
		return nil
	}
	bad := false
	seen := map[string]bool{}
	for i, z := range zs {
		zk := fmt.Sprintf("%s[%d]", key, i)
		if seen[z] {
			ps.add(zk, "%q is listed twice; every zone must be distinct", z)
			bad = true
		}
		seen[z] = true
		if s.Region == "" {
			continue
		}
		switch s.Cloud {
		case AWS:
			if len(z) != len(s.Region)+1 || !strings.HasPrefix(z, s.Region) || z[len(z)-1] < 'a' || z[len(z)-1] > 'z' {
				ps.add(zk, "%q is not a zone of region %s; e.g. %sa", z, s.Region, s.Region)
				bad = true
			}
		case GCP:
			if len(z) != len(s.Region)+2 || !strings.HasPrefix(z, s.Region+"-") || z[len(z)-1] < 'a' || z[len(z)-1] > 'z' {
				ps.add(zk, "%q is not a zone of region %s; e.g. %s-a", z, s.Region, s.Region)
				bad = true
			}
		case Azure:
			if z != "1" && z != "2" && z != "3" {
				ps.add(zk, "%q is not an Azure availability zone; allowed: \"1\", \"2\", \"3\"", z)
				bad = true
			}
		case Local:
			if !dnsLabel.MatchString(z) {
				ps.add(zk, "%q is not a valid zone label; use lowercase letters, digits and '-'", z)
				bad = true
			}
		}
	}
	if s.Environment.Production() && len(zs) < MinProdZones {
		ps.add(key, "%d zones given %v; %s needs at least %d availability zones", len(zs), zs, s.Environment, MinProdZones)
		bad = true
	}
	if len(zs) == 0 {
		ps.add(key, "empty; at least one zone is needed")
		bad = true
	}
	if bad {
		return nil
	}
	return zs
}

func namespace(ps *problems, cfg map[string]string) string {
	v, ok := cfg["namespace"]
	if !ok {
		return DefaultNamespace
	}
	if len(v) > 63 || !dnsLabel.MatchString(v) {
		ps.add(Key("namespace"), "%q is not a Kubernetes namespace name; use at most 63 lowercase letters, digits and '-'", v)
	}
	if contains(ReservedNamespaces, v) || strings.HasPrefix(v, "kube-") {
		ps.add(Key("namespace"), "%q is a namespace the platform's own tiers use; allowed: any other name (reserved: %s)", v, strings.Join(ReservedNamespaces, ", "))
	}
	return v
}

func replicaCount(ps *problems, cfg map[string]string, env Environment) int {
	v, ok := cfg["replicaCount"]
	if !ok {
		return DefaultReplicaCount
	}
	n, ok := asInt(ps, Key("replicaCount"), v)
	if !ok {
		return 0
	}
	lo := 1
	if env.Production() {
		lo = MinProdReplicas
	}
	if n < lo || n > MaxReplicas {
		if env.Production() && n >= 1 && n < lo {
			ps.add(Key("replicaCount"), "%d is too few for %s; allowed: %d to %d", n, env, lo, MaxReplicas)
		} else {
			ps.add(Key("replicaCount"), "%d is out of range; allowed: %d to %d", n, lo, MaxReplicas)
		}
	}
	return n
}

func quantity(ps *problems, o *object, name, def string) (string, resource.Quantity, bool) {
	v, key, ok := o.field(name)
	if !ok {
		return def, resource.MustParse(def), true
	}
	s, ok := asString(ps, key, v)
	if !ok {
		return "", resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		ps.add(key, "%q is not a Kubernetes quantity; e.g. %s", s, def)
		return "", resource.Quantity{}, false
	}
	if q.Sign() <= 0 {
		ps.add(key, "%q must be greater than zero", s)
		return "", resource.Quantity{}, false
	}
	return s, q, true
}

func resources(ps *problems, cfg map[string]string) Resources {
	root := objectAt(ps, Key("resources"), cfg["resources"])
	limits, requests := root.child("limits"), root.child("requests")
	root.unknown("limits", "requests")
	var r Resources
	var lc, lm, rc, rm resource.Quantity
	var okLC, okLM, okRC, okRM bool
	r.Limits.CPU, lc, okLC = quantity(ps, limits, "cpu", DefaultLimitCPU)
	r.Limits.Memory, lm, okLM = quantity(ps, limits, "memory", DefaultLimitMemory)
	limits.unknown("cpu", "memory")
	r.Requests.CPU, rc, okRC = quantity(ps, requests, "cpu", DefaultRequestCPU)
	r.Requests.Memory, rm, okRM = quantity(ps, requests, "memory", DefaultRequestMemory)
	requests.unknown("cpu", "memory")
	if okLC && okRC && rc.Cmp(lc) > 0 {
		ps.add(requests.key+".cpu", "%s is more than the limit %s; a request must not exceed its limit", r.Requests.CPU, r.Limits.CPU)
	}
	if okLM && okRM && rm.Cmp(lm) > 0 {
		ps.add(requests.key+".memory", "%s is more than the limit %s; a request must not exceed its limit", r.Requests.Memory, r.Limits.Memory)
	}
	return r
}

func persistence(ps *problems, cfg map[string]string) Persistence {
	o := objectAt(ps, Key("persistence"), cfg["persistence"])
	p := Persistence{Enabled: true}
	if v, key, ok := o.field("enabled"); ok {
		p.Enabled, _ = asBool(ps, key, v)
	}
	size, q, ok := quantity(ps, o, "size", DefaultPersistenceSize)
	if ok && q.Cmp(resource.MustParse("1Gi")) < 0 {
		ps.add(o.key+".size", "%q is too small for a database volume; allowed: 1Gi or more", size)
	}
	p.Size = size
	o.unknown("enabled", "size")
	return p
}

func cluster(ps *problems, cfg map[string]string, s Spec) Cluster {
	o := objectAt(ps, Key("cluster"), cfg["cluster"])
	c := Cluster{
		KubernetesVersion: DefaultKubernetesVersion,
		NodeCount:         MinNodes,
		NodeSize:          DefaultNodeSize[s.Cloud],
		NodeDiskGiB:       MinNodeDiskGiB,
	}
	if v, key, ok := o.field("kubernetesVersion"); ok {
		if ver, ok := asString(ps, key, v); ok {
			m := k8sVersion.FindStringSubmatch(ver)
			if m == nil {
				ps.add(key, "%q is not a Kubernetes minor version; e.g. %q", ver, DefaultKubernetesVersion)
			} else if minor, _ := strconv.Atoi(m[1]); minor < MinKubernetesMinor {
				ps.add(key, "%q is older than the guide's minimum; allowed: 1.%d or newer", ver, MinKubernetesMinor)
			} else {
				c.KubernetesVersion = ver
			}
		}
	}
	if v, key, ok := o.field("nodeCount"); ok {
		if n, ok := asInt(ps, key, v); ok {
			c.NodeCount = n
			if n < MinNodes {
				ps.add(key, "%d is below the guide's minimum; allowed: %d or more nodes", n, MinNodes)
			} else if s.Environment.Production() && len(s.Zones) > 0 && n%len(s.Zones) != 0 {
				ps.add(key, "%d nodes do not spread evenly over %d zones; %s needs a multiple of %d", n, len(s.Zones), s.Environment, len(s.Zones))
			}
		}
	}
	if v, key, ok := o.field("nodeSize"); ok {
		if size, ok := asString(ps, key, v); ok && s.Cloud != "" {
			known, found := Sizes[s.Cloud][size]
			switch {
			case !found:
				ps.add(key, "%q is not a known %s node size; allowed: %s", size, s.Cloud, strings.Join(SizeNames(s.Cloud), ", "))
			case known.MemoryGiB < MinNodeMemoryGiB:
				ps.add(key, "%q has %d GiB of memory; the guide needs at least %d GiB per node (e.g. %s)", size, known.MemoryGiB, MinNodeMemoryGiB, DefaultNodeSize[s.Cloud])
			case s.Environment.Production() && s.Cloud != Local && known.NetworkGbps < MinNodeNetworkGbps:
				ps.add(key, "%q has %g Gbps of network bandwidth; the guide needs %d Gbps between nodes in %s (e.g. %s)", size, known.NetworkGbps, MinNodeNetworkGbps, s.Environment, DefaultNodeSize[s.Cloud])
			default:
				c.NodeSize = size
			}
		}
	}
	if v, key, ok := o.field("nodeDiskGiB"); ok {
		if n, ok := asInt(ps, key, v); ok {
			c.NodeDiskGiB = n
			if n < MinNodeDiskGiB {
				ps.add(key, "%d is below the guide's minimum; allowed: %d or more (GiB of SSD per node)", n, MinNodeDiskGiB)
			}
		}
	}
	if v, key, ok := o.field("apiAllowedCidrs"); ok {
		if cidrs, ok := asStrings(ps, key, v); ok {
			for i, cidr := range cidrs {
				ck := fmt.Sprintf("%s[%d]", key, i)
				_, n, err := net.ParseCIDR(cidr)
				if err != nil {
					ps.add(ck, "%q is not a CIDR; e.g. 203.0.113.0/24", cidr)
					continue
				}
				if ones, _ := n.Mask.Size(); ones == 0 {
					ps.add(ck, "%q opens the API server to the whole internet; list your office or VPN ranges, or none for a private endpoint", cidr)
				}
			}
			c.APIAllowedCIDRs = cidrs
		}
	}
	o.unknown("kubernetesVersion", "nodeCount", "nodeSize", "nodeDiskGiB", "apiAllowedCidrs")
	return c
}

func network(ps *problems, cfg map[string]string) Network {
	o := objectAt(ps, Key("network"), cfg["network"])
	n := Network{CIDR: DefaultNetworkCIDR}
	if v, key, ok := o.field("cidr"); ok {
		if s, ok := asString(ps, key, v); ok {
			ip, ipnet, err := net.ParseCIDR(s)
			switch {
			case err != nil || ip.To4() == nil:
				ps.add(key, "%q is not an IPv4 CIDR; e.g. %s", s, DefaultNetworkCIDR)
			case !ipnet.IP.Equal(ip):
				ps.add(key, "%q has host bits set; e.g. %s", s, ipnet.String())
			default:
				if ones, _ := ipnet.Mask.Size(); ones < 8 || ones > 16 {
					ps.add(key, "%q is a /%d; allowed: a prefix from /8 to /16, room for node and load-balancer subnets in every zone", s, ones)
				} else {
					n.CIDR = s
				}
			}
		}
	}
	o.unknown("cidr")
	return n
}

func local(ps *problems, cfg map[string]string, c Cloud) LocalTarget {
	o := objectAt(ps, Key("local"), cfg["local"])
	l := LocalTarget{Kubeconfig: DefaultLocalKubeconfig}
	if v, key, ok := o.field("kubeconfig"); ok {
		if s, ok := asString(ps, key, v); ok {
			if c != Local && c != "" {
				ps.add(key, "is read only by cloud local, not %s; remove it", c)
			} else if strings.TrimSpace(s) == "" {
				ps.add(key, "empty; give the path of the local cluster's kubeconfig")
			} else {
				l.Kubeconfig = s
			}
		}
	}
	o.unknown("kubeconfig")
	return l
}

func gcpSettings(ps *problems, cfg map[string]string, c Cloud) GCPSettings {
	o := objectAt(ps, Key("gcp"), cfg["gcp"])
	var g GCPSettings
	v, key, ok := o.field("project")
	switch {
	case ok && c != GCP && c != "":
		ps.add(key, "is read only by cloud gcp, not %s; remove it", c)
	case ok:
		if s, ok := asString(ps, key, v); ok {
			if gcpProject.MatchString(s) {
				g.Project = s
			} else {
				ps.add(key, "%q is not a GCP project id; use 6 to 30 lowercase letters, digits and '-'", s)
			}
		}
	case c == GCP:
		ps.add(key, "required for cloud gcp; the project id that holds the cluster")
	}
	o.unknown("project")
	return g
}

// stackFileKeys are the top-level keys of a Pulumi stack settings file.
var stackFileKeys = []string{"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"}

// LoadFile loads and validates a Pulumi.<stack>.yaml file.
func LoadFile(path string) (Spec, error) {
	stack, err := StackName(path)
	if err != nil {
		return Spec{}, err
	}
	raw, err := ReadConfigFile(path)
	if err != nil {
		return Spec{}, err
	}
	return load(path, stack, raw, filepath.Dir(path))
}

// StackName derives the stack name from a Pulumi.<stack>.yaml path.
func StackName(path string) (string, error) {
	base := filepath.Base(path)
	if !strings.HasPrefix(base, "Pulumi.") || !strings.HasSuffix(base, ".yaml") || len(base) <= len("Pulumi..yaml") {
		return "", fmt.Errorf("%s: a stack file must be named Pulumi.<stack>.yaml", path)
	}
	return strings.TrimSuffix(strings.TrimPrefix(base, "Pulumi."), ".yaml"), nil
}

// ReadConfigFile returns the config of a stack settings file in the form a
// Pulumi program receives it: scalars as text, lists and objects as JSON.
func ReadConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read stack file: %w", path, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: a stack file must be a YAML mapping with a config key", path)
	}
	ps := &problems{}
	for k := range doc {
		if !contains(stackFileKeys, k) {
			ps.add(k, "unknown top-level key of a stack file%s; allowed: %s", suggest(k, stackFileKeys), strings.Join(stackFileKeys, ", "))
		}
	}
	cfgMap := map[string]any{}
	if c, ok := doc["config"]; ok && c != nil {
		m, ok := c.(map[string]any)
		if !ok {
			ps.add("config", "%s is not a mapping of config keys", describe(c))
		}
		cfgMap = m
	}
	if len(*ps) > 0 {
		return nil, &Error{Source: path, Problems: *ps}
	}
	raw := make(map[string]string, len(cfgMap))
	for k, v := range cfgMap {
		switch t := v.(type) {
		case string:
			raw[k] = t
		case json.Number:
			raw[k] = t.String()
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("%s: config key %s: %v", path, k, err)
			}
			raw[k] = string(b)
		}
	}
	return raw, nil
}

// Discover lists the stacks that have a Pulumi.<stack>.yaml in dir.
func Discover(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range matches {
		if n, err := StackName(m); err == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no Pulumi.<stack>.yaml files", dir)
	}
	return names, nil
}

// FilePath is where a stack's settings file lives under dir.
func FilePath(dir, stack string) string {
	return filepath.Join(dir, "Pulumi."+stack+".yaml")
}
