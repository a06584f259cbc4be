package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/gateway/gatewaydoc"
)

// withoutDir drops the unexported directory, for comparisons.
func (s Spec) withoutDir() Spec { s.dir = ""; return s }

// prodAWS is a valid prod stack; each bad case changes one thing.
func prodAWS() map[string]string {
	return map[string]string{
		"cloudscale:cloud":        "aws",
		"cloudscale:environment":  "prod",
		"cloudscale:region":       "us-east-1",
		"cloudscale:zones":        `["us-east-1a","us-east-1b","us-east-1c"]`,
		"cloudscale:replicaCount": "3",
		"cloudscale:cluster":      `{"kubernetesVersion":"1.33","nodeCount":6,"nodeSize":"m6i.xlarge","nodeDiskGiB":100}`,
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestLoadDefaultsFromTheGuide(t *testing.T) {
	s, err := Load("prod", map[string]string{
		"cloudscale:cloud": "aws", "cloudscale:environment": "prod", "cloudscale:region": "eu-west-1",
	})
	require.NoError(t, err)
	assert.Equal(t, 3, s.ReplicaCount)
	assert.Equal(t, "2000m", s.Resources.Limits.CPU)
	assert.Equal(t, "4Gi", s.Resources.Limits.Memory)
	assert.True(t, s.Persistence.Enabled)
	assert.Equal(t, "100Gi", s.Persistence.Size)
	assert.Equal(t, Zones{"eu-west-1a", "eu-west-1b", "eu-west-1c"}, s.Zones)
	assert.Equal(t, "cloudscale", s.Namespace)
	assert.Equal(t, "1.33", s.Cluster.KubernetesVersion)
	assert.Equal(t, 3, s.Cluster.NodeCount)
	assert.Equal(t, "m6i.xlarge", s.Cluster.NodeSize)
	assert.Equal(t, 100, s.Cluster.NodeDiskGiB)
	assert.Empty(t, s.Cluster.APIAllowedCIDRs, "the API endpoint stays private unless CIDRs are given")
	assert.Equal(t, 1, s.NodesPerZone())
}

func TestLoadReadsEveryKey(t *testing.T) {
	s, err := Load("prod-gcp", map[string]string{
		"cloudscale:cloud":        "gcp",
		"environment":             "staging", // Pulumi's project namespace is implied
		"cloudscale:region":       "europe-west4",
		"cloudscale:zones":        `["europe-west4-a","europe-west4-b","europe-west4-c"]`,
		"cloudscale:namespace":    "platform",
		"cloudscale:replicaCount": "5",
		"cloudscale:resources":    `{"limits":{"cpu":"4","memory":"8Gi"},"requests":{"cpu":"1","memory":"2Gi"}}`,
		"cloudscale:persistence":  `{"enabled":false,"size":"250Gi"}`,
		"cloudscale:cluster":      `{"kubernetesVersion":"1.31","nodeCount":9,"nodeSize":"n2-standard-8","nodeDiskGiB":200,"apiAllowedCidrs":["198.51.100.0/24"]}`,
		"cloudscale:network":      `{"cidr":"10.8.0.0/14"}`,
		"cloudscale:gcp":          `{"project":"acme-platform"}`,
		"gcp:project":             "ignored-by-cloudscale",
		"cloudscale:services":     `[{"name":"web","port":80,"canaryWeight":20,"callers":["api"],"slo":{"availability":99.5,"latencyMs":250,"latencyTarget":95}},{"name":"api","port":8080}]`,
		"cloudscale:gateway": `{"document":{"apiVersion":"gateway.cloudscale.io/v1","kind":"Gateway","metadata":{"name":"edge"},` +
			`"spec":{"listeners":[{"port":443,"protocol":"HTTPS","tls":{"mode":"TERMINATE","certificateRef":"production-cert"}}],` +
			`"routes":[{"match":{"path":"/*"},"backend":{"service":"web","port":80}}]}},` +
			`"hosts":["api.example.com"],"sourceRanges":["203.0.113.0/24"],"minReplicas":4,"maxReplicas":12,` +
			`"oidc":{"issuer":"https://id.example.com","jwksUri":"https://id.example.com/jwks"}}`,
		"cloudscale:postgres": `{"databases":[{"name":"orders","owner":"api","clients":["web"]}],"instances":3,"backupRetentionDays":14,` +
			`"slowQueryMs":250,"restore":{"database":"orders","source":"postgres-orders-old","targetTime":"2026-11-30T12:00:00Z"}}`,
		"cloudscale:redis": `{"replicas":5,"volumeSize":"20Gi","clients":["api"]}`,
		"cloudscale:mongodb": `{"shards":3,"members":3,"mongosReplicas":4,"volumeSize":"50Gi","backupRetentionDays":7,` +
			`"collections":[{"database":"catalog","collection":"products","shardKey":["sku"],"hashed":true,"textIndex":["name"],"owner":"api","clients":["web"]}]}`,
		"cloudscale:rabbitmq": `{"replicas":5,"volumeSize":"30Gi","queues":[{"name":"orders.created","vhost":"shop","exchange":"orders",` +
			`"routingKey":"order.*","deliveryLimit":3,"priority":true,"publishers":["api"],"consumers":["web"]}],` +
			`"federation":{"exchanges":[],"upstreams":[]}}`,
		"cloudscale:mesh": `{"tracingSampling":2.5,"istiodReplicas":3}`,
		"cloudscale:monitoring": `{"prometheus":{"replicas":3,"retention":"30d","retentionSize":"180GiB","volumeSize":"200Gi"},"alertmanagerReplicas":5,` +
			`"receivers":[{"name":"oncall","severity":"page","type":"pagerduty","vaultPath":"monitoring/pagerduty"},` +
			`{"name":"tickets","severity":"ticket","type":"webhook","url":"http://tickets.tools.svc:8080/alerts"}],` +
			`"logs":{"elasticsearchNodes":5,"kibanaReplicas":3,"retentionDays":30,"volumeSize":"500Gi"},"collectorReplicas":3}`,
		"cloudscale:security": `{"acme":{"email":"ops@example.com","dnsZone":"example.com"}}`,
		"cloudscale:chaos":    `{"enabled":false,"schedule":"*/30 9-16 * * 1-5","businessHoursOnly":true,"historyLimit":10}`,
	})
	require.NoError(t, err)
	require.NotNil(t, s.Gateway.Document)
	assert.Equal(t, "edge", s.Gateway.Document.Metadata.Name)
	assert.Equal(t, gatewaydoc.Backend{Service: "web", Port: 80}, s.Gateway.Document.Spec.Routes[0].Backend)
	s.Gateway.Document = nil
	assert.Equal(t, Spec{
		Stack: "prod-gcp", Cloud: GCP, Environment: Staging, Region: "europe-west4",
		Zones: []string{"europe-west4-a", "europe-west4-b", "europe-west4-c"}, Namespace: "platform", ReplicaCount: 5,
		Resources:   Resources{Limits: ResourceList{"4", "8Gi"}, Requests: ResourceList{"1", "2Gi"}},
		Persistence: Persistence{Enabled: false, Size: "250Gi"},
		Cluster: Cluster{KubernetesVersion: "1.31", NodeCount: 9, NodeSize: "n2-standard-8", NodeDiskGiB: 200,
			APIAllowedCIDRs: []string{"198.51.100.0/24"}},
		Network: Network{CIDR: "10.8.0.0/14"},
		GCP:     GCPSettings{Project: "acme-platform"},
		Services: []Service{{Name: "web", Port: 80, CanaryWeight: 20, Callers: []string{"api"},
			SLO: &ServiceSLO{Availability: 99.5, LatencyMs: 250, LatencyTarget: 95}}, {Name: "api", Port: 8080}},
		Gateway: Gateway{DocumentSource: "cloudscale:gateway.document", Hosts: []string{"api.example.com"},
			SourceRanges: []string{"203.0.113.0/24"}, MinReplicas: 4, MaxReplicas: 12,
			OIDC: OIDC{Issuer: "https://id.example.com", JWKSURI: "https://id.example.com/jwks"}},
		Postgres: Postgres{Databases: []Database{{Name: "orders", Owner: "api", Clients: []string{"web"}}}, Instances: 3, PoolerInstances: 2,
			BackupRetentionDays: 14, SlowQueryMs: 250,
			Restore: &PostgresRestore{Database: "orders", Source: "postgres-orders-old", TargetTime: "2026-11-30T12:00:00Z"}},
		Redis: Redis{Replicas: 5, VolumeSize: "20Gi", Clients: []string{"api"}},
		MongoDB: MongoDB{Shards: 3, Members: 3, MongosReplicas: 4, VolumeSize: "50Gi", BackupRetentionDays: 7,
			Collections: []MongoCollection{{Database: "catalog", Collection: "products", ShardKey: []string{"sku"}, Hashed: true,
				TextIndex: []string{"name"}, Owner: "api", Clients: []string{"web"}}}},
		RabbitMQ: RabbitMQ{Replicas: 5, VolumeSize: "30Gi", Queues: []RabbitMQQueue{{Name: "orders.created", Vhost: "shop", Exchange: "orders",
			RoutingKey: "order.*", DeliveryLimit: 3, Priority: true, Publishers: []string{"api"}, Consumers: []string{"web"}}},
			Federation: RabbitMQFederation{Exchanges: []string{}, Upstreams: []RabbitMQUpstream{}}},
		Mesh: Mesh{TracingSampling: 2.5, IstiodReplicas: 3},
		Monitoring: Monitoring{Prometheus: PrometheusSettings{Replicas: 3, Retention: "30d", RetentionSize: "180GiB", VolumeSize: "200Gi"},
			AlertmanagerReplicas: 5, CollectorReplicas: 3,
			Receivers: []Receiver{{Name: "oncall", Severity: "page", Type: "pagerduty", VaultPath: "monitoring/pagerduty"},
				{Name: "tickets", Severity: "ticket", Type: "webhook", URL: "http://tickets.tools.svc:8080/alerts"}},
			Logs: LogSettings{ElasticsearchNodes: 5, KibanaReplicas: 3, RetentionDays: 30, VolumeSize: "500Gi"}},
		Security: Security{ACME: &ACME{Email: "ops@example.com", Server: DefaultACMEServer, DNSZone: "example.com"}},
		Chaos:    Chaos{Enabled: false, Schedule: "*/30 9-16 * * 1-5", BusinessHoursOnly: true, HistoryLimit: 10},
	}, s.withoutDir())
	assert.Equal(t, 3, s.NodesPerZone())
}

type badCase struct {
	name string
	cfg  map[string]string
	want []string
}

func badCases() []badCase {
	return []badCase{
		{"unknown cloud", with(prodAWS(), "cloudscale:cloud", "digitalocean"),
			[]string{
				`cloudscale:cloud: Unsupported value: "digitalocean": supported values: "aws", "azure", "gcp", "local"`,
			}},
		{"missing environment", with(prodAWS(), "cloudscale:environment", "<unset>"),
			[]string{
				`cloudscale:environment: Required value: allowed: dev, staging, prod`,
			}},
		{"unknown environment", with(prodAWS(), "cloudscale:environment", "production"),
			[]string{
				`cloudscale:environment: Unsupported value: "production": supported values: "dev", "staging", "prod"`,
			}},
		{"replicaCount 0", with(prodAWS(), "cloudscale:environment", "dev", "cloudscale:replicaCount", "0"),
			[]string{
				`cloudscale:replicaCount: Invalid value: 0: out of range; allowed: 1 to 100`,
			}},
		{"replicaCount 2 in prod", with(prodAWS(), "cloudscale:replicaCount", "2"),
			[]string{
				`cloudscale:replicaCount: Invalid value: 2: too few for prod; allowed: 3 to 100`,
			}},
		{"replicaCount not a number", with(prodAWS(), "cloudscale:replicaCount", "three"),
			[]string{
				`cloudscale:replicaCount: Invalid value: "three": not an integer`,
			}},
		{"memory written as 4 GB", with(prodAWS(), "cloudscale:resources", `{"limits":{"memory":"4 GB"}}`),
			[]string{
				`cloudscale:resources.limits.memory: Invalid value: "4 GB": not a Kubernetes quantity; e.g. 4Gi`,
			}},
		{"cpu written as 2 cores", with(prodAWS(), "cloudscale:resources", `{"limits":{"cpu":"2 cores"}}`),
			[]string{
				`cloudscale:resources.limits.cpu: Invalid value: "2 cores": not a Kubernetes quantity; e.g. 2000m`,
			}},
		{"request above limit", with(prodAWS(), "cloudscale:resources", `{"limits":{"memory":"1Gi"},"requests":{"memory":"2Gi"}}`),
			[]string{
				`cloudscale:resources.requests.memory: Invalid value: "2Gi": more than the limit 1Gi; a request must not exceed its limit`,
			}},
		{"chaos at night in prod", with(prodAWS(), "cloudscale:chaos", `{"schedule":"0 2 * * *"}`),
			[]string{
				`cloudscale:chaos.schedule: Invalid value: "0 2 * * *": fires at 02:00, outside 09:00-17:00, Monday to Friday`,
			}},
		{"chaos schedule not cron, no history", with(prodAWS(), "cloudscale:chaos", `{"schedule":"daily","businessHoursOnly":false,"historyLimit":0}`),
			[]string{
				`cloudscale:chaos.schedule: Invalid value: "daily": expected 5 to 6 fields, found 1: [daily]`,
				`cloudscale:chaos.historyLimit: Invalid value: 0: keeps no run; allowed: 1 or more`,
			}},
		{"2 zones in prod", with(prodAWS(), "cloudscale:zones", `["us-east-1a","us-east-1b"]`, "cloudscale:cluster", `{"nodeCount":6}`),
			[]string{
				`cloudscale:zones: Invalid value: ["us-east-1a","us-east-1b"]: prod needs at least 3 availability zones`,
			}},
		{"zone outside the region", with(prodAWS(), "cloudscale:zones", `["us-east-1a","us-east-1b","us-west-2c"]`),
			[]string{
				`cloudscale:zones[2]: Invalid value: "us-west-2c": not a zone of region us-east-1; e.g. us-east-1a`,
			}},
		{"duplicate zone", with(prodAWS(), "cloudscale:zones", `["us-east-1a","us-east-1b","us-east-1a"]`),
			[]string{
				`cloudscale:zones[2]: Duplicate value: "us-east-1a"`,
			}},
		{"Kubernetes 1.24", with(prodAWS(), "cloudscale:cluster", `{"kubernetesVersion":"1.24","nodeCount":6}`),
			[]string{
				`cloudscale:cluster.kubernetesVersion: Invalid value: "1.24": older than the guide's minimum; allowed: 1.25 or newer`,
			}},
		{"Kubernetes version as a YAML number", with(prodAWS(), "cloudscale:cluster", `{"kubernetesVersion":1.3,"nodeCount":6}`),
			[]string{
				`cloudscale:cluster.kubernetesVersion: Invalid value: "1.3": a number where text is expected; quote it ("1.3"), since YAML reads 1.30 as 1.3`,
			}},
		{"negative disk size", with(prodAWS(), "cloudscale:cluster", `{"nodeCount":6,"nodeDiskGiB":-10}`),
			[]string{
				`cloudscale:cluster.nodeDiskGiB: Invalid value: -10: below the guide's minimum; allowed: 100 or more (GiB of SSD per node)`,
			}},
		{"two nodes", with(prodAWS(), "cloudscale:cluster", `{"nodeCount":2}`),
			[]string{
				`cloudscale:cluster.nodeCount: Invalid value: 2: below the guide's minimum; allowed: 3 or more nodes`,
			}},
		{"nodes uneven over zones in prod", with(prodAWS(), "cloudscale:cluster", `{"nodeCount":4}`),
			[]string{
				`cloudscale:cluster.nodeCount: Invalid value: 4: does not spread evenly over 3 zones; prod needs a multiple of 3`,
			}},
		{"node with 8 GiB", with(prodAWS(), "cloudscale:cluster", `{"nodeCount":6,"nodeSize":"m6i.large"}`),
			[]string{
				`cloudscale:cluster.nodeSize: Invalid value: "m6i.large": has 8 GiB of memory; the guide needs at least 16 GiB per node (e.g. m6i.xlarge)`,
			}},
		{"node below 10 Gbps in prod", map[string]string{"cloudscale:cloud": "gcp", "cloudscale:environment": "prod", "cloudscale:region": "us-central1", "cloudscale:gcp": `{"project":"acme-platform"}`, "cloudscale:cluster": `{"nodeSize":"e2-standard-4"}`},
			[]string{
				`cloudscale:cluster.nodeSize: Invalid value: "e2-standard-4": has 8 Gbps of network bandwidth; the guide needs 10 Gbps between nodes in prod (e.g. n2-standard-4)`,
			}},
		{"unknown node size", with(prodAWS(), "cloudscale:cluster", `{"nodeCount":6,"nodeSize":"x1.huge"}`),
			[]string{
				`cloudscale:cluster.nodeSize: Unsupported value: "x1.huge": supported values: "c6i.2xlarge", "m6i.2xlarge", "m6i.4xlarge", "m6i.large", "m6i.xlarge", "m7i.2xlarge", "m7i.4xlarge", "m7i.xlarge", "r6i.2xlarge", "r6i.xlarge", "t3.large", "t3.xlarge"`,
			}},
		{"API open to the internet", with(prodAWS(), "cloudscale:cluster", `{"nodeCount":6,"apiAllowedCidrs":["0.0.0.0/0"]}`),
			[]string{
				`cloudscale:cluster.apiAllowedCidrs[0]: Invalid value: "0.0.0.0/0": opens the API server to the whole internet; list your office or VPN ranges, or none for a private endpoint`,
			}},
		{"unknown top-level key", with(prodAWS(), "cloudscale:replicas", "3"),
			[]string{
				`cloudscale:replicas: Unsupported value: unknown key (did you mean "replicaCount"?); allowed: cloud, environment, region, zones, namespace, replicaCount, resources, persistence, cluster, network, local, gcp, services, postgres, redis, mongodb, rabbitmq, gateway, mesh, monitoring, security, chaos`,
			}},
		{"unknown nested key", with(prodAWS(), "cloudscale:resources", `{"limit":{"cpu":"1"}}`),
			[]string{
				`cloudscale:resources.limit: Unsupported value: unknown key (did you mean "limits"?); allowed: limits, requests`,
			}},
		{"bad namespace", with(prodAWS(), "cloudscale:namespace", "Cloud_Scale"),
			[]string{
				`cloudscale:namespace: Invalid value: "Cloud_Scale": not a Kubernetes namespace name; use at most 63 lowercase letters, digits and '-'`,
			}},
		{"persistence flag not boolean", with(prodAWS(), "cloudscale:persistence", `{"enabled":"yes"}`),
			[]string{
				`cloudscale:persistence.enabled: Invalid value: string where a boolean (true or false) is expected`,
			}},
		{"missing region", with(prodAWS(), "cloudscale:region", "<unset>", "cloudscale:zones", "<unset>"),
			[]string{
				`cloudscale:region: Required value: for cloud aws; e.g. us-east-1`,
			}},
		{"gcp without project", map[string]string{"cloudscale:cloud": "gcp", "cloudscale:environment": "dev", "cloudscale:region": "us-central1"},
			[]string{
				`cloudscale:gcp.project: Required value: for cloud gcp; the project id that holds the cluster`,
			}},
		{"azure zone names", map[string]string{"cloudscale:cloud": "azure", "cloudscale:environment": "dev", "cloudscale:region": "eastus2", "cloudscale:zones": `["eastus2-1"]`},
			[]string{
				`cloudscale:zones[0]: Invalid value: "eastus2-1": not an Azure availability zone; allowed: "1", "2", "3"`,
			}},
		{"network too small", with(prodAWS(), "cloudscale:network", `{"cidr":"10.0.0.0/24"}`),
			[]string{
				`cloudscale:network.cidr: Invalid value: "10.0.0.0/24": a /24; allowed: a prefix from /8 to /16, room for node and load-balancer subnets in every zone`,
			}},
		{"kubeconfig on a cloud stack", with(prodAWS(), "cloudscale:local", `{"kubeconfig":"/tmp/kc"}`),
			[]string{
				`cloudscale:local.kubeconfig: Forbidden: read only by cloud local, not aws; remove it`,
			}},
		{"gateway backend not a service", with(prodAWS(), "cloudscale:services", `[{"name":"web","port":80}]`),
			[]string{
				`cloudscale:gateway.document[the guide's example].spec.routes[0].backend.service: Unsupported value: "api-service": supported values: "web"`,
			}},
		{"bad inline gateway document", with(prodAWS(), "cloudscale:gateway", `{"document":{"apiVersion":"gateway.cloudscale.io/v2","kind":"Gateway","metadata":{"name":"g"},"spec":{"listeners":[{"port":70000,"protocol":"HTTPS","tls":{"mode":"TERMINATE","certificateRef":"c"}}]}}}`),
			[]string{
				`cloudscale:gateway.document.apiVersion: Unsupported value: "gateway.cloudscale.io/v2": supported values: "gateway.cloudscale.io/v1"`,
				`cloudscale:gateway.document.spec.listeners[0].port: Invalid value: 70000: out of range; allowed: 1 to 65535`,
			}},
		{"missing gateway file", with(prodAWS(), "cloudscale:gateway", `{"documentFile":"/nonexistent/gw.yaml"}`),
			[]string{
				`cloudscale:gateway.documentFile: Invalid value: "/nonexistent/gw.yaml": cannot read /nonexistent/gw.yaml: no such file or directory`,
			}},
		{"gateway too few replicas", with(prodAWS(), "cloudscale:gateway", `{"minReplicas":2,"sourceRanges":["10.0.0.0/33"]}`),
			[]string{
				`cloudscale:gateway.sourceRanges[0]: Invalid value: "10.0.0.0/33": not a CIDR; e.g. 203.0.113.0/24`,
				`cloudscale:gateway.minReplicas: Invalid value: 2: too few for prod; allowed: 3 or more`,
			}},
		{"half an OIDC setting", with(prodAWS(), "cloudscale:gateway", `{"oidc":{"issuer":"http://id.example.com"}}`),
			[]string{
				`cloudscale:gateway.oidc.issuer: Invalid value: "http://id.example.com": not an https URL`,
				`cloudscale:gateway.oidc: Required value: give both issuer and jwksUri, or neither`,
			}},
		{"services", with(prodAWS(), "cloudscale:services", `[{"name":"api-service","port":8080,"canaryWeight":150,"callers":["ghost"]},{"name":"api-service","port":0}]`),
			[]string{
				`cloudscale:services[0].canaryWeight: Invalid value: 150: not a percentage; allowed: 0 to 100`,
				`cloudscale:services[1].name: Duplicate value: "api-service"`,
				`cloudscale:services[1].port: Invalid value: 0: out of range; allowed: 1 to 65535`,
				`cloudscale:services[0].callers[0]: Unsupported value: "ghost": supported values: "api-service"`,
			}},
		{"mesh", with(prodAWS(), "cloudscale:mesh", `{"tracingSampling":120,"istiodReplicas":1,"sampling":5}`),
			[]string{
				`cloudscale:mesh.sampling: Unsupported value: unknown key; allowed: tracingSampling, istiodReplicas`,
				`cloudscale:mesh.tracingSampling: Invalid value: 120: not a percentage; allowed: 0 to 100`,
				`cloudscale:mesh.istiodReplicas: Invalid value: 1: leaves the mesh's control plane a single point of failure; allowed: 2 or more`,
			}},
		{"reserved namespace", with(prodAWS(), "cloudscale:namespace", "vault"),
			[]string{
				`cloudscale:namespace: Invalid value: "vault": a namespace the platform's own tiers use; allowed: any other name (reserved: istio-system, istio-ingress, cert-manager, vault, external-secrets, default, kube-*)`,
			}},
		{"kube- namespace", with(prodAWS(), "cloudscale:namespace", "kube-node-lease"),
			[]string{
				`cloudscale:namespace: Invalid value: "kube-node-lease": a namespace the platform's own tiers use; allowed: any other name (reserved: istio-system, istio-ingress, cert-manager, vault, external-secrets, default, kube-*)`,
			}},
		{"token route without OIDC", with(prodAWS(), "cloudscale:gateway", `{"document":{"apiVersion":"gateway.cloudscale.io/v1","kind":"Gateway","metadata":{"name":"g"},"spec":{"listeners":[{"port":443,"protocol":"HTTPS","tls":{"mode":"TERMINATE","certificateRef":"c"}}],"routes":[{"match":{"path":"/me"},"backend":{"service":"api-service","port":8080},"auth":{"required":true}}]}}}`),
			[]string{
				`cloudscale:gateway.oidc: Required value: cloudscale:gateway.document: spec.routes[0] asks for a user token (auth.required); give the identity provider's issuer and jwksUri`,
			}},
		{"bad databases", with(prodAWS(), "cloudscale:postgres", `{"databases":[{"name":"Orders","owner":"billing"},{"name":"carts","clients":["web"]},{"name":"carts","owner":"api-service"}],"instances":2,"poolerInstances":2,"backupRetentionDays":0,"slowQueryMs":-1}`),
			[]string{
				`cloudscale:postgres.databases[0].name: Invalid value: "Orders": not a database name; use at most 40 lowercase letters, digits and '_', starting with a letter`,
				`cloudscale:postgres.databases[0].owner: Unsupported value: "billing": supported values: "api-service"`,
				`cloudscale:postgres.databases[1].owner: Required value: the service that owns the database`,
				`cloudscale:postgres.databases[1].clients[0]: Unsupported value: "web": supported values: "api-service"`,
				`cloudscale:postgres.databases[2].name: Duplicate value: "carts"`,
				`cloudscale:postgres.instances: Invalid value: 2: too few for prod; allowed: 3 or more`,
				`cloudscale:postgres.poolerInstances: Invalid value: 2: too few for prod; allowed: 3 or more`,
				`cloudscale:postgres.backupRetentionDays: Invalid value: 0: keeps no backup; allowed: 1 or more`,
				`cloudscale:postgres.slowQueryMs: Invalid value: -1: allowed: 0 (every statement) or more`,
			}},
		{"instances over the zones", with(prodAWS(), "cloudscale:postgres", `{"instances":5}`),
			[]string{
				`cloudscale:postgres.instances: Invalid value: 5: more than the 3 zones; at most one instance per zone`,
			}},
		{"bad restore", with(prodAWS(), "cloudscale:postgres", `{"databases":[{"name":"orders","owner":"api-service"}],"restore":{"database":"carts","source":"Old_Server","targetTime":"yesterday"}}`),
			[]string{
				`cloudscale:postgres.restore.database: Unsupported value: "carts": supported values: "orders"`,
				`cloudscale:postgres.restore.source: Invalid value: "Old_Server": not a server name (a Cluster's name, e.g. postgres-orders)`,
				`cloudscale:postgres.restore.targetTime: Invalid value: "yesterday": not an RFC 3339 time; e.g. 2026-11-30T12:00:00Z`,
			}},
		{"bad redis", with(prodAWS(), "cloudscale:redis", `{"replicas":4,"volumeSize":"lots","clients":["web"]}`),
			[]string{
				`cloudscale:redis.replicas: Invalid value: 4: a Sentinel set needs an odd number of members, 3 or more in prod (a majority must survive one loss)`,
				`cloudscale:redis.volumeSize: Invalid value: "lots": not a size; e.g. 10Gi`,
				`cloudscale:redis.clients[0]: Unsupported value: "web": supported values: "api-service"`,
			}},
		{"bad mongodb", with(prodAWS(), "cloudscale:mongodb", `{"shards":1,"members":4,"mongosReplicas":2,"volumeSize":"x","backupRetentionDays":0,"collections":[{"database":"admin","collection":"Products","shardKey":["a","b"],"hashed":true,"textIndex":["na me"],"owner":"billing","clients":["web"]},{"database":"catalog","collection":"items","owner":""},{"database":"catalog","collection":"items","shardKey":["sku"],"owner":"api-service"}]}`),
			[]string{
				`cloudscale:mongodb.shards: Invalid value: 1: a sharded cluster needs 2 or more shards`,
				`cloudscale:mongodb.members: Invalid value: 4: a replica set needs an odd number of members, 3 or more in prod`,
				`cloudscale:mongodb.mongosReplicas: Invalid value: 2: too few for prod; allowed: 3 or more`,
				`cloudscale:mongodb.volumeSize: Invalid value: "x": not a size; e.g. 100Gi`,
				`cloudscale:mongodb.backupRetentionDays: Invalid value: 0: keeps no backup; allowed: 1 or more`,
				`cloudscale:mongodb.collections[0].database: Invalid value: "admin": a lowercase database name, not admin, config or local`,
				`cloudscale:mongodb.collections[0].collection: Invalid value: "Products": a lowercase collection name (letters, digits, _ and -)`,
				`cloudscale:mongodb.collections[0].shardKey: Invalid value: ["a","b"]: a hashed shard key has exactly one field`,
				`cloudscale:mongodb.collections[0].textIndex[0]: Invalid value: "na me": not a field path (e.g. name, description)`,
				`cloudscale:mongodb.collections[0].owner: Unsupported value: "billing": supported values: "api-service"`,
				`cloudscale:mongodb.collections[0].clients[0]: Unsupported value: "web": supported values: "api-service"`,
				`cloudscale:mongodb.collections[1].shardKey: Required value: the fields the collection is sharded on`,
				`cloudscale:mongodb.collections[1].owner: Required value: a declared service`,
				`cloudscale:mongodb.collections[2].collection: Duplicate value: "catalog.items"`,
			}},
		{"mongodb members over the zones", with(prodAWS(), "cloudscale:mongodb", `{"members":5}`),
			[]string{
				`cloudscale:mongodb.members: Invalid value: 5: more than the 3 zones; prod places one member per zone`,
			}},
		{"bad rabbitmq", with(prodAWS(), "cloudscale:rabbitmq", `{"replicas":2,"volumeSize":"0","queues":[{"name":"amq.orders","exchange":"amq.topic","routingKey":"a b","deliveryLimit":-1,"publishers":["billing"],"consumers":["web"]},{"name":"orders.created","exchange":"orders","routingKey":"order.created"},{"name":"orders.created","exchange":"orders","routingKey":"#","publishers":["api-service"]}],"federation":{"exchanges":["payments"],"upstreams":[{"name":"EU","uriSecret":"amqps://user:secret@eu.example.com"}]}}`),
			[]string{
				`cloudscale:rabbitmq.replicas: Invalid value: 2: an odd number of nodes, 3 or more in prod (quorum queues keep a majority through one loss)`,
				`cloudscale:rabbitmq.volumeSize: Invalid value: "0": not a size; e.g. 20Gi`,
				`cloudscale:rabbitmq.queues[0].name: Invalid value: "amq.orders": letters, digits and _ . : -; not amq.* (reserved) nor ending .dlq or .dlx (the dead-letter names)`,
				`cloudscale:rabbitmq.queues[0].exchange: Invalid value: "amq.topic": an exchange name; amq.* is reserved`,
				`cloudscale:rabbitmq.queues[0].routingKey: Invalid value: "a b": a binding key: words separated by '.', with * and #`,
				`cloudscale:rabbitmq.queues[0].deliveryLimit: Invalid value: -1: allowed: 1 or more`,
				`cloudscale:rabbitmq.queues[0].publishers[0]: Unsupported value: "billing": supported values: "api-service"`,
				`cloudscale:rabbitmq.queues[0].consumers[0]: Unsupported value: "web": supported values: "api-service"`,
				`cloudscale:rabbitmq.queues[1].publishers: Required value: at least one declared service`,
				`cloudscale:rabbitmq.queues[2].name: Duplicate value: "orders.created"`,
				`cloudscale:rabbitmq.federation.exchanges[0]: Invalid value: "payments": not a declared queue's exchange in vhost /`,
				`cloudscale:rabbitmq.federation.upstreams[0].name: Invalid value: "EU": a unique lowercase name (letters, digits, -)`,
				`cloudscale:rabbitmq.federation.upstreams[0].uriSecret: Invalid value: "amqps://user:secret@eu.example.com": the name of a Secret (key uri) holding the upstream's amqps:// URI, never the URI itself`,
			}},
		{"bad monitoring", with(prodAWS(), "cloudscale:monitoring", `{"prometheus":{"replicas":1,"retention":"2 weeks","retentionSize":"40G","volumeSize":"lots"},"alertmanagerReplicas":1,"logs":{"elasticsearchNodes":4,"retentionDays":0},"receivers":[{"name":"oncall","severity":"critical","type":"pagerduty"},{"name":"chat","severity":"ticket","type":"slack","channel":"alerts","vaultPath":"monitoring/slack"},{"name":"chat","severity":"page","type":"email"},{"name":"hook","severity":"ticket","type":"webhook","url":"http://example.com/"}]}`),
			[]string{
				`cloudscale:monitoring.prometheus.replicas: Invalid value: 1: too few for prod; allowed: 2 or more`,
				`cloudscale:monitoring.alertmanagerReplicas: Invalid value: 1: too few for prod; allowed: 2 or more`,
				`cloudscale:monitoring.logs.elasticsearchNodes: Invalid value: 4: must be odd: a majority of master-eligible nodes elects`,
				`cloudscale:monitoring.prometheus.retention: Invalid value: "2 weeks": not a Prometheus duration such as 15d or 2w (and not 0)`,
				`cloudscale:monitoring.prometheus.retentionSize: Invalid value: "40G": not a size such as 40GiB`,
				`cloudscale:monitoring.prometheus.volumeSize: Invalid value: "lots": not a positive quantity such as 50Gi`,
				`cloudscale:monitoring.logs.retentionDays: Invalid value: 0: allowed: 1 to 3650`,
				`cloudscale:monitoring.receivers[0].severity: Unsupported value: "critical": supported values: "page", "ticket"`,
				`cloudscale:monitoring.receivers[0].vaultPath: Required value: the Vault KV path of the credential (property credential), never the credential itself`,
				`cloudscale:monitoring.receivers[1].channel: Invalid value: "alerts": not a Slack channel such as #platform-alerts`,
				`cloudscale:monitoring.receivers[2].name: Duplicate value: "chat"`,
				`cloudscale:monitoring.receivers[2].type: Unsupported value: "email": supported values: "pagerduty", "slack", "webhook"`,
				`cloudscale:monitoring.receivers[3].url: Invalid value: "http://example.com/": must be https, or http to a cluster Service (*.svc)`,
			}},
		{"service replicas and canary image", with(prodAWS(), "cloudscale:services",
			`[{"name":"api-service","port":8080,"replicas":2,"canaryImage":"ghcr.io/cloudscale/api-service@sha256:`+strings.Repeat("a", 64)+`"},`+
				`{"name":"order-worker","port":8080,"canaryWeight":5,"canaryImage":"ghcr.io/cloudscale/order-worker:1.0"}]`),
			[]string{
				`cloudscale:services[0].canaryImage: Forbidden: runs only with a canaryWeight above 0; remove it or set canaryWeight`,
				`cloudscale:services[0].replicas: Invalid value: 2: too few for prod; allowed: 3 or more (or unset: replicaCount)`,
				`cloudscale:services[1].canaryImage: Invalid value: "ghcr.io/cloudscale/order-worker:1.0": not an image by digest; e.g. ghcr.io/cloudscale/api-service@sha256:<64 hex>`,
			}},
		{"bad slo", with(prodAWS(), "cloudscale:services", `[{"name":"api-service","port":8080,"slo":{"availability":100,"latencyMs":300}}]`),
			[]string{
				`cloudscale:services[0].slo.availability: Invalid value: 100: a percentage above 0 and below 100, such as 99.9`,
				`cloudscale:services[0].slo.latencyMs: Invalid value: 300: not a bucket of the mesh's request duration histogram; allowed: 0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000`,
			}},
		{"acme on local", map[string]string{"cloudscale:cloud": "local", "cloudscale:environment": "dev", "cloudscale:security": `{"acme":{"email":"ops@example.com","dnsZone":"example.com"}}`},
			[]string{
				`cloudscale:security.acme: Forbidden: not used by cloud local (no public DNS); remove it`,
			}},
		{"acme on azure without the zone's group", map[string]string{"cloudscale:cloud": "azure", "cloudscale:environment": "dev", "cloudscale:region": "eastus2", "cloudscale:security": `{"acme":{"email":"ops@example.com","dnsZone":"example.com"}}`},
			[]string{
				`cloudscale:security.acme: Required value: on azure also azureSubscriptionId and azureResourceGroup of the DNS zone`,
			}},
		{"azure zone fields on aws", with(prodAWS(), "cloudscale:security", `{"acme":{"email":"ops@example.com","dnsZone":"example.com","azureResourceGroup":"dns"}}`),
			[]string{
				`cloudscale:security.acme.azureResourceGroup: Forbidden: read only by cloud azure, not aws; remove it`,
			}},
		{"acme without zone", with(prodAWS(), "cloudscale:security", `{"acme":{"email":"ops"}}`),
			[]string{
				`cloudscale:security.acme.email: Invalid value: "ops": not an email address`,
				`cloudscale:security.acme: Required value: email and dnsZone (certificates are proven with DNS-01 records in that zone)`,
			}},
		{"several errors together", with(prodAWS(), "cloudscale:cloud", "openstack", "cloudscale:replicaCount", "0", "cloudscale:persistence", `{"size":"-5Gi"}`),
			[]string{
				`cloudscale:cloud: Unsupported value: "openstack": supported values: "aws", "azure", "gcp", "local"`,
				`cloudscale:replicaCount: Invalid value: 0: out of range; allowed: 3 to 100`,
				`cloudscale:persistence.size: Invalid value: "-5Gi": must be greater than zero`,
			}},
	}
}

func TestLoadRejectsBadConfig(t *testing.T) {
	cases := badCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("prod", tc.cfg)
			require.Error(t, err)
			var se *Error
			require.True(t, errors.As(err, &se), "want *spec.Error, got %T", err)
			var got []string
			for _, p := range se.Problems {
				got = append(got, p.String())
			}
			assert.Equal(t, tc.want, got)
			assert.Contains(t, err.Error(), "stack prod:")
		})
	}
	assert.GreaterOrEqual(t, len(cases), 15)
}

func TestRepositoryStacksAreValid(t *testing.T) {
	names, err := Discover("..")
	require.NoError(t, err)
	assert.Equal(t, []string{"dev", "local", "prod", "prod-azure", "prod-gcp", "staging"}, names)
	want := map[string]struct {
		cloud Cloud
		env   Environment
	}{
		"local": {Local, Staging}, "dev": {AWS, Dev}, "staging": {AWS, Staging}, "prod": {AWS, Prod},
		"prod-azure": {Azure, Prod}, "prod-gcp": {GCP, Prod},
	}
	for _, n := range names {
		s, err := LoadFile(FilePath("..", n))
		require.NoError(t, err, n)
		assert.Equal(t, want[n].cloud, s.Cloud, n)
		assert.Equal(t, want[n].env, s.Environment, n)
		assert.Len(t, s.Zones, 3, n)
		assert.Equal(t, "1.33", s.Cluster.KubernetesVersion, n)
	}
}

func TestLoadFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	_, err := LoadFile(filepath.Join(dir, "Pulumi.missing.yaml"))
	assert.ErrorContains(t, err, "Pulumi.missing.yaml: cannot read stack file")

	_, err = LoadFile(write("Pulumi.broken.yaml", "config:\n  cloudscale:cloud: [aws\n"))
	assert.ErrorContains(t, err, "Pulumi.broken.yaml: invalid YAML")

	_, err = LoadFile(write("Pulumi.typo.yaml", "confg:\n  cloudscale:cloud: aws\n"))
	assert.ErrorContains(t, err, `confg: Unsupported value: unknown key (did you mean "config"?); allowed: config, secretsprovider`)

	_, err = LoadFile(write("stack.yaml", "config: {}\n"))
	assert.ErrorContains(t, err, "a stack file must be named Pulumi.<stack>.yaml")

	p := write("Pulumi.bad.yaml", "config:\n  cloudscale:cloud: aws\n  cloudscale:environment: prod\n  cloudscale:region: us-east-1\n  cloudscale:replicaCount: 0\n")
	_, err = LoadFile(p)
	require.Error(t, err)
	assert.Equal(t, p+": 1 problem in stack configuration:\n  - cloudscale:replicaCount: Invalid value: 0: out of range; allowed: 3 to 100", err.Error())
	assert.True(t, strings.HasPrefix(err.Error(), p))
}
