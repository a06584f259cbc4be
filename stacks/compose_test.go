package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/cloudscale/platform/components/componenttest"
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/stacks/spec"
)

// Every stack composes under mocks, and every stack hands the Kubernetes
// tiers the same contract: a provider, the encrypted default storage class
// and the baseline namespace with its default-deny policy.
func TestAllStacksCompose(t *testing.T) {
	names, err := spec.Discover(".")
	require.NoError(t, err)
	require.Len(t, names, 6)
	clusterType := map[spec.Cloud]string{
		spec.Local: "cloudscale:infra:LocalCluster", spec.AWS: "cloudscale:infra:AwsCluster",
		spec.Azure: "cloudscale:infra:AzureCluster", spec.GCP: "cloudscale:infra:GcpCluster",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			res := run(t, name)
			g := res.Graph
			root := named(t, g, "cloudscale:stack:Platform", name)
			cluster := one(t, g, clusterType[res.Spec.Cloud])
			assert.Equal(t, root.URN, cluster.Parent)
			sc := one(t, g, "kubernetes:storage.k8s.io/v1:StorageClass")
			assert.Equal(t, "cloudscale-encrypted", sc.String("metadata.name"))
			assert.Equal(t, cluster.URN, sc.Parent)
			var names []string
			for _, ns := range g.OfType("kubernetes:core/v1:Namespace") {
				names = append(names, ns.String("metadata.name"))
			}
			assert.ElementsMatch(t, []string{"cloudscale", "istio-ingress", "istio-system", "cert-manager", "vault", "external-secrets", "chaos",
				"cnpg-system", "monitoring", "psmdb-system", "rabbitmq-system", "logging", "elastic-system", "opentelemetry-operator-system"}, names)
			// Every tier is composed into every stack.
			for _, tier := range []string{"cloudscale:security:Baseline", "cloudscale:mesh:Mesh", "cloudscale:security:Certs",
				"cloudscale:security:Vault", "cloudscale:security:Secrets", "cloudscale:gateway:Gateway", "cloudscale:chaos:Resilience",
				"cloudscale:data:Postgres", "cloudscale:data:Redis", "cloudscale:data:MongoDB", "cloudscale:data:RabbitMQ",
				"cloudscale:monitoring:Metrics", "cloudscale:monitoring:Logging", "cloudscale:monitoring:Tracing"} {
				c := one(t, g, tier)
				assert.Equal(t, root.URN, c.Parent, tier)
			}
			gw := componenttest.Object[networkingv1.Gateway](t, g, "kubernetes:networking.istio.io/v1:Gateway", "gateway")
			assert.Equal(t, "production-cert", gw.Spec.Servers[0].GetTls().GetCredentialName())
			cert := named(t, g, "kubernetes:cert-manager.io/v1:Certificate", "certs-istio-ingress-production-cert")
			assert.Equal(t, "istio-ingress", cert.String("metadata.namespace"))
			charts := len(g.OfType("kubernetes:helm.sh/v3:Release"))
			if res.Spec.Cloud == spec.Local {
				assert.Zero(t, charts, "no chart is fetched for the local stack")
				assert.NotEmpty(t, g.OfType("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"))
			} else {
				assert.Equal(t, 15, charts, "istio base, cni, istiod, cert-manager, vault, external-secrets, chaos-mesh, cloudnative-pg, "+
					"plugin-barman-cloud, prometheus-operator-crds, psmdb-operator, kube-prometheus-stack, eck-operator, "+
					"opentelemetry-operator, fluent-bit")
				// RabbitMQ's operators publish release manifests, not charts.
				assert.Len(t, g.OfType("kubernetes:yaml/v2:ConfigFile"), 2, "rabbitmq cluster-operator, messaging-topology-operator")
			}
			one(t, g, "pulumi:providers:kubernetes")
			for _, r := range g.Resources {
				if r.URN != root.URN {
					assert.NotEmpty(t, r.Parent, "%s %s has no parent", r.Type, r.Name)
				}
			}
			if res.Spec.Cloud != spec.Local {
				k8s := one(t, g, "pulumi:providers:kubernetes")
				assert.Equal(t, graph.SecretValue, k8s.Inputs["kubeconfig"], "a cloud kubeconfig is a secret")
			}
		})
	}
}
