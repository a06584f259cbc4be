package spec

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
)

// Defaults of the Kubernetes tiers.
const (
	DefaultGatewayMaxReplicas = 10
	DefaultIstiodReplicas     = 2
	DefaultACMEServer         = "https://acme-v02.api.letsencrypt.org/directory"
)

var masterName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// DefaultTracingSampling is the percentage of requests traced: all in dev
// (and local), a sample where traffic is real.
var DefaultTracingSampling = map[Environment]float64{Dev: 100, Staging: 10, Prod: 1}

// Service is a service the platform runs: the gateway may route to it and
// the mesh gives it traffic and access policy.
type Service struct {
	Name string
	Port int
	// CanaryWeight is the percentage of its traffic sent to the canary.
	CanaryWeight int
	// Callers are the services ("name", same namespace) that may call it,
	// besides the gateway when a route points at it.
	Callers []string
}

// Gateway is the ingress: the guide's Gateway document and how it is
// exposed.
type Gateway struct {
	// Document is the Gateway document as YAML, read from
	// gateway.document or the file gateway.documentFile names.
	Document []byte
	// DocumentSource names where Document came from, for messages.
	DocumentSource string
	Hosts          []string
	// SourceRanges are the addresses the load balancer admits.
	SourceRanges             []string
	MinReplicas, MaxReplicas int
	OIDCIssuer, OIDCJWKSURI  string
	// RateLimitRedis counts global rate limits; required when a route has
	// globalRequestsPerMinute.
	RateLimitRedis *RedisTarget
}

// RedisTarget is a Redis the rate-limit service reaches.
type RedisTarget struct {
	// Type is SINGLE, SENTINEL or CLUSTER.
	Type string
	// URL is host:port, or for SENTINEL "master,host:port[,host:port...]".
	URL string
	// Namespace is where its pods run (egress is opened to them).
	Namespace string
}

// Mesh is the service mesh's settings.
type Mesh struct {
	TracingSampling float64
	IstiodReplicas  int
}

// Security holds the certificate authority settings.
type Security struct {
	// ACMEEmail, when set, makes certificates come from a public ACME CA
	// (DNS-01 in the stack's cloud zone ACMEZone); otherwise from the
	// platform's private CA.
	ACMEEmail, ACMEServer, ACMEZone string
	// ACMEZoneSubscription and ACMEZoneResourceGroup locate an Azure DNS
	// zone (Azure stacks only).
	ACMEZoneSubscription, ACMEZoneResourceGroup string
}

func services(ps *problems, cfg map[string]string) []Service {
	raw, ok := cfg["services"]
	if !ok {
		// The service the guide's Gateway example routes to.
		return []Service{{Name: "api-service", Port: 8080}}
	}
	key := Key("services")
	var list []any
	if err := decodeJSON(raw, &list); err != nil {
		ps.add(key, "is not a list; write it as a YAML list of {name, port}")
		return nil
	}
	var out []Service
	seen := map[string]bool{}
	for i, item := range list {
		ik := fmt.Sprintf("%s[%d]", key, i)
		m, ok := item.(map[string]any)
		if !ok {
			ps.add(ik, "%s is not an object with name and port", describe(item))
			continue
		}
		o := &object{key: ik, m: m, seen: map[string]bool{}, ps: ps}
		var s Service
		if v, k, ok := o.field("name"); !ok {
			ps.add(k, "required")
		} else if n, ok := asString(ps, k, v); ok {
			if !dnsLabel.MatchString(n) || len(n) > 52 {
				ps.add(k, "%q is not a service name; use at most 52 lowercase letters, digits and '-'", n)
			} else if seen[n] {
				ps.add(k, "%q is listed twice", n)
			}
			seen[n], s.Name = true, n
		}
		if v, k, ok := o.field("port"); !ok {
			ps.add(k, "required")
		} else if n, ok := asInt(ps, k, v); ok {
			if n < 1 || n > 65535 {
				ps.add(k, "%d is out of range; allowed: 1 to 65535", n)
			}
			s.Port = n
		}
		if v, k, ok := o.field("canaryWeight"); ok {
			if n, ok := asInt(ps, k, v); ok {
				if n < 0 || n > 100 {
					ps.add(k, "%d is not a percentage; allowed: 0 to 100", n)
				}
				s.CanaryWeight = n
			}
		}
		if v, k, ok := o.field("callers"); ok {
			if c, ok := asStrings(ps, k, v); ok {
				s.Callers = c
			}
		}
		o.unknown("name", "port", "canaryWeight", "callers")
		out = append(out, s)
	}
	for i, s := range out {
		for j, c := range s.Callers {
			if !seen[c] {
				ps.add(fmt.Sprintf("%s[%d].callers[%d]", key, i, j), "%q is not a service in %s", c, key)
			}
		}
	}
	return out
}

func gateway(ps *problems, cfg map[string]string, s Spec, dir string) Gateway {
	o := objectAt(ps, Key("gateway"), cfg["gateway"])
	g := Gateway{MinReplicas: s.ReplicaCount, MaxReplicas: DefaultGatewayMaxReplicas, SourceRanges: []string{"0.0.0.0/0"}}
	docV, docKey, hasDoc := o.field("document")
	fileV, fileKey, hasFile := o.field("documentFile")
	switch {
	case hasDoc && hasFile:
		ps.add(fileKey, "give the Gateway document either inline (document) or as a file (documentFile), not both")
	case hasDoc:
		if _, isMap := docV.(map[string]any); !isMap {
			ps.add(docKey, "%s is not a Gateway document; write it as a YAML mapping", describe(docV))
		} else if b, err := jsonBytes(docV); err == nil {
			g.Document, g.DocumentSource = b, docKey
		}
	case hasFile:
		if p, ok := asString(ps, fileKey, fileV); ok {
			if !filepath.IsAbs(p) && dir != "" {
				p = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				ps.add(fileKey, "cannot read %s: %v", p, errorText(err))
			} else {
				g.Document, g.DocumentSource = b, fmt.Sprintf("%s (%s)", fileKey, p)
			}
		}
	default:
		g.Document, g.DocumentSource = []byte(gatewaydoc.GuideExample), "the guide's example (no "+docKey+" set)"
	}
	if g.Document != nil {
		defined := map[string]bool{}
		for _, svc := range s.Services {
			defined[svc.Name] = true
		}
		d, err := gatewaydoc.Parse(g.Document)
		if err == nil {
			err = d.Validate(defined)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				ps.add(g.DocumentSource, "%s", line)
			}
		}
	}
	if v, key, ok := o.field("hosts"); ok {
		if hosts, ok := asStrings(ps, key, v); ok {
			for i, h := range hosts {
				if !hostname(h) {
					ps.add(fmt.Sprintf("%s[%d]", key, i), "%q is not a DNS name", h)
				}
			}
			g.Hosts = hosts
		}
	}
	if len(g.Hosts) == 0 {
		g.Hosts = []string{fmt.Sprintf("api.%s.cloudscale.internal", s.Stack)}
	}
	if v, key, ok := o.field("sourceRanges"); ok {
		if cidrs, ok := asStrings(ps, key, v); ok {
			if len(cidrs) == 0 {
				ps.add(key, "empty; list the addresses that may reach the gateway (0.0.0.0/0 for the internet)")
			}
			for i, c := range cidrs {
				if _, _, err := net.ParseCIDR(c); err != nil {
					ps.add(fmt.Sprintf("%s[%d]", key, i), "%q is not a CIDR; e.g. 203.0.113.0/24", c)
				}
			}
			g.SourceRanges = cidrs
		}
	}
	if v, key, ok := o.field("minReplicas"); ok {
		if n, ok := asInt(ps, key, v); ok {
			if lo := map[bool]int{true: MinProdReplicas, false: 1}[s.Environment.Production()]; n < lo {
				ps.add(key, "%d is too few for %s; allowed: %d or more", n, s.Environment, lo)
			}
			g.MinReplicas = n
		}
	}
	if v, key, ok := o.field("maxReplicas"); ok {
		if n, ok := asInt(ps, key, v); ok {
			g.MaxReplicas = n
		}
	}
	if g.MaxReplicas < g.MinReplicas {
		ps.add(Key("gateway.maxReplicas"), "%d is below minReplicas %d", g.MaxReplicas, g.MinReplicas)
	}
	oidc := o.child("oidc")
	for _, f := range []struct {
		name string
		to   *string
	}{{"issuer", &g.OIDCIssuer}, {"jwksUri", &g.OIDCJWKSURI}} {
		if v, key, ok := oidc.field(f.name); ok {
			if u, ok := asString(ps, key, v); ok {
				if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
					ps.add(key, "%q is not an https URL", u)
				}
				*f.to = u
			}
		}
	}
	if (g.OIDCIssuer == "") != (g.OIDCJWKSURI == "") {
		ps.add(oidc.key, "give both issuer and jwksUri, or neither")
	}
	oidc.unknown("issuer", "jwksUri")
	redis := o.child("rateLimitRedis")
	if len(redis.m) > 0 {
		r := &RedisTarget{}
		for _, f := range []struct {
			name string
			to   *string
		}{{"type", &r.Type}, {"url", &r.URL}, {"namespace", &r.Namespace}} {
			v, key, ok := redis.field(f.name)
			if !ok {
				ps.add(key, "required")
				continue
			}
			if str, ok := asString(ps, key, v); ok {
				if strings.TrimSpace(str) == "" {
					ps.add(key, "empty")
					continue
				}
				*f.to = str
			}
		}
		if r.Type != "" && !contains([]string{"SINGLE", "SENTINEL", "CLUSTER"}, r.Type) {
			ps.add(redis.key+".type", "%q is not supported; allowed: SINGLE, SENTINEL, CLUSTER", r.Type)
		}
		if r.URL != "" && !redisURL(r.Type, r.URL) {
			ps.add(redis.key+".url", "%q is not host:port (for SENTINEL: master,host:port[,host:port...])", r.URL)
		}
		// The connection is encrypted by the mesh's mutual TLS, so Redis
		// must run in a namespace with sidecars.
		if r.Namespace != "" && r.Namespace != s.Namespace && r.Namespace != "istio-ingress" {
			ps.add(redis.key+".namespace", "%q has no sidecars, so the connection would be plain text; allowed: %s, istio-ingress", r.Namespace, s.Namespace)
		}
		g.RateLimitRedis = r
	}
	redis.unknown("type", "url", "namespace")
	o.unknown("document", "documentFile", "hosts", "sourceRanges", "minReplicas", "maxReplicas", "oidc", "rateLimitRedis")
	if d, err := gatewaydoc.Parse(g.Document); err == nil {
		for i, r := range d.Spec.Routes {
			f := fmt.Sprintf("%s: spec.routes[%d]", g.DocumentSource, i)
			if r.Auth != nil && r.Auth.Required && g.OIDCIssuer == "" {
				ps.add(oidc.key, "required: %s asks for a user token (auth.required); give the identity provider's issuer and jwksUri", f)
				break
			}
		}
		for i, r := range d.Spec.Routes {
			if r.RateLimit != nil && r.RateLimit.GlobalRequestsPerMinute > 0 && g.RateLimitRedis == nil {
				ps.add(redis.key, "required: %s: spec.routes[%d] sets globalRequestsPerMinute; name the Redis that counts it (type, url, namespace)", g.DocumentSource, i)
				break
			}
		}
	}
	return g
}

func meshSettings(ps *problems, cfg map[string]string, env Environment) Mesh {
	o := objectAt(ps, Key("mesh"), cfg["mesh"])
	m := Mesh{TracingSampling: DefaultTracingSampling[env], IstiodReplicas: DefaultIstiodReplicas}
	if env == "" {
		m.TracingSampling = 100
	}
	if v, key, ok := o.field("tracingSampling"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(fmt.Sprint(v)), 64)
		switch {
		case err != nil:
			ps.add(key, "%s is not a number; give a percentage from 0 to 100", describe(v))
		case f < 0 || f > 100:
			ps.add(key, "%g is not a percentage; allowed: 0 to 100", f)
		default:
			m.TracingSampling = f
		}
	}
	if v, key, ok := o.field("istiodReplicas"); ok {
		if n, ok := asInt(ps, key, v); ok {
			if n < DefaultIstiodReplicas {
				ps.add(key, "%d leaves the mesh's control plane a single point of failure; allowed: %d or more", n, DefaultIstiodReplicas)
			}
			m.IstiodReplicas = n
		}
	}
	o.unknown("tracingSampling", "istiodReplicas")
	return m
}

func security(ps *problems, cfg map[string]string, c Cloud) Security {
	o := objectAt(ps, Key("security"), cfg["security"])
	var sec Security
	acme := o.child("acme")
	if v, key, ok := acme.field("email"); ok {
		if e, ok := asString(ps, key, v); ok {
			if !strings.Contains(e, "@") {
				ps.add(key, "%q is not an email address", e)
			}
			sec.ACMEEmail = e
		}
	}
	if v, key, ok := acme.field("server"); ok {
		if u, ok := asString(ps, key, v); ok {
			if p, err := url.Parse(u); err != nil || p.Scheme != "https" {
				ps.add(key, "%q is not an https URL", u)
			}
			sec.ACMEServer = u
		}
	}
	if v, key, ok := acme.field("dnsZone"); ok {
		if z, ok := asString(ps, key, v); ok {
			if !hostname(z) {
				ps.add(key, "%q is not a DNS zone", z)
			}
			sec.ACMEZone = z
		}
	}
	if sec.ACMEEmail != "" && sec.ACMEServer == "" {
		sec.ACMEServer = DefaultACMEServer
	}
	if len(acme.m) > 0 && (sec.ACMEEmail == "" || sec.ACMEZone == "") {
		ps.add(acme.key, "needs email and dnsZone (certificates are proven with DNS-01 records in that zone)")
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"azureSubscriptionId", &sec.ACMEZoneSubscription}, {"azureResourceGroup", &sec.ACMEZoneResourceGroup}} {
		if v, key, ok := acme.field(f.name); ok {
			if str, ok := asString(ps, key, v); ok {
				if c != Azure {
					ps.add(key, "is read only by cloud azure, not %s; remove it", c)
				} else if f.name == "azureSubscriptionId" && !guid.MatchString(str) {
					ps.add(key, "%q is not a subscription id (a GUID)", str)
				}
				*f.to = str
			}
		}
	}
	switch {
	case len(acme.m) > 0 && c == Local:
		ps.add(acme.key, "is not used by cloud local (no public DNS); remove it")
	case sec.ACMEEmail != "" && c == Azure && (sec.ACMEZoneSubscription == "" || sec.ACMEZoneResourceGroup == ""):
		ps.add(acme.key, "on azure also needs azureSubscriptionId and azureResourceGroup of the DNS zone")
	}
	acme.unknown("email", "server", "dnsZone", "azureSubscriptionId", "azureResourceGroup")
	o.unknown("acme")
	return sec
}

// redisURL checks the rate-limit service's REDIS_URL form.
func redisURL(typ, url string) bool {
	addrs := strings.Split(url, ",")
	switch typ {
	case "SENTINEL":
		if len(addrs) < 2 || !masterName.MatchString(addrs[0]) {
			return false
		}
		addrs = addrs[1:]
	case "SINGLE":
		if len(addrs) != 1 {
			return false
		}
	}
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return false
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
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

func decodeJSON(raw string, v any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
