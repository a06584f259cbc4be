package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/mongodb"
	"github.com/cloudscale/platform/components/postgres"
	"github.com/cloudscale/platform/components/rabbitmq"
	"github.com/cloudscale/platform/components/redis"
	"github.com/cloudscale/platform/components/service"
	"github.com/cloudscale/platform/stacks/spec"
)

// The stores each service uses come from the data tiers' declarations in
// the committed local stack: api-service owns the database, writes the
// collection and publishes both queues; order-worker is a client of the
// database, consumes both queues and reads neither collection.
func TestStoresOfDerivesWiringFromTheDataTiers(t *testing.T) {
	s, err := spec.LoadFile("Pulumi.local.yaml")
	require.NoError(t, err)
	tiers, err := planTiers(s, Options{})
	require.NoError(t, err)
	d := dataArgs{postgres: tiers.postgres, redis: tiers.redis, mongodb: tiers.mongodb, rabbitmq: tiers.rabbitmq, ns: s.Namespace}

	api, err := storesOf("api-service", d)
	require.NoError(t, err)
	require.NotNil(t, api.Postgres)
	assert.Equal(t, "orders", api.Postgres.Endpoint.Database)
	assert.Equal(t, "postgres-orders-pooler-rw.cloudscale.svc.cluster.local", api.Postgres.Endpoint.ReadWrite.Host)
	assert.Equal(t, "api_service", api.Postgres.User, "the database owner's role")
	require.Len(t, api.Redis, 2)
	uses := map[service.RedisUse]string{}
	for _, r := range api.Redis {
		uses[r.Use] = r.Endpoint.Name
		assert.Equal(t, contract.SecretRef{Namespace: "cloudscale", Name: "redis-tls"}, r.CA)
	}
	assert.Equal(t, map[service.RedisUse]string{service.StateUse: "redis-state", service.CacheUse: "redis-cache"}, uses,
		"the instances' roles say which is the cache")
	require.NotNil(t, api.MongoDB)
	assert.Equal(t, []string{"name", "description"}, api.MongoDB.Collection.TextIndex)
	require.NotNil(t, api.RabbitMQ)
	assert.Equal(t, []string{"orders.created", "orders.express"}, queueNames(api.RabbitMQ.Publishes))
	assert.Empty(t, api.RabbitMQ.Consumes)

	worker, err := storesOf("order-worker", d)
	require.NoError(t, err)
	require.NotNil(t, worker.Postgres, "a client of the orders database")
	assert.Equal(t, "orders", worker.Postgres.Endpoint.Database)
	assert.Equal(t, "api_service", worker.Postgres.User, "a client logs in as the application role")
	assert.Len(t, worker.Redis, 2, "a client of Redis (redis.clients: every service by default)")
	assert.Nil(t, worker.MongoDB)
	require.NotNil(t, worker.RabbitMQ)
	assert.Empty(t, worker.RabbitMQ.Publishes)
	assert.Equal(t, []string{"orders.created", "orders.express"}, queueNames(worker.RabbitMQ.Consumes))
	assert.Contains(t, worker.RabbitMQ.Endpoint.Credentials, "order-worker")

	none, err := storesOf("someone-else", d)
	require.NoError(t, err)
	assert.Equal(t, service.Stores{}, none)
}

func TestStoresOfRefusesTwoDatabasesOrCollections(t *testing.T) {
	d := dataArgs{ns: "ns",
		postgres: &postgres.Args{Databases: []postgres.Database{{Name: "a", Owner: "svc"}, {Name: "b", Owner: "other", Clients: []string{"svc"}}}},
		redis:    &redis.Args{}, mongodb: &mongodb.Args{}, rabbitmq: &rabbitmq.Args{},
	}
	_, err := storesOf("svc", d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "svc uses the databases a and b; a service uses one")

	d.postgres.Databases = nil
	d.mongodb.Collections = []mongodb.Collection{{Database: "c", Collection: "x", Owner: "svc"}, {Database: "c", Collection: "y", Owner: "o", Clients: []string{"svc"}}}
	_, err = storesOf("svc", d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "svc uses the collections c.x and c.y; a service uses one")
}

// Every declared service is planned with its image by digest from the
// images lock, its replicas, its canary and who may call it.
func TestPlanServices(t *testing.T) {
	s, err := spec.LoadFile("Pulumi.local.yaml")
	require.NoError(t, err)
	tiers, err := planTiers(s, Options{})
	require.NoError(t, err)
	require.Len(t, tiers.services, 2)
	api, worker := tiers.services[0], tiers.services[1]
	assert.Equal(t, "api-service", api.name)
	digest, err := imageDigest("api-service")
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/cloudscale/api-service@"+digest, api.args.Image)
	require.NotNil(t, api.args.Canary, "canaryWeight 10")
	assert.Equal(t, api.args.Image, api.args.Canary.Image, "the same digest without canaryImage")
	assert.Equal(t, 3, api.args.Canary.Replicas, "staging's floor")
	require.Len(t, api.args.Callers, 1, "the gateway's ingress pods")
	assert.Equal(t, "istio-ingress", api.args.Callers[0].NamespaceLabels[contract.NamespaceNameLabel])
	assert.Equal(t, "order-worker", worker.name)
	assert.Nil(t, worker.args.Canary)
	assert.Empty(t, worker.args.Callers, "no route, no callers")
	assert.Equal(t, 3, worker.args.Replicas)
	for _, sa := range tiers.services {
		assert.NoError(t, sa.args.Validate(sa.name))
	}
	// The worker serves no requests: no SLO (and no SLO alerts) for it.
	var slos []string
	for _, o := range tiers.monitoring.metrics.SLOs {
		slos = append(slos, o.Service)
	}
	assert.Equal(t, []string{"api-service"}, slos)
}

func TestCanaryReplicasAndImages(t *testing.T) {
	staging := spec.Spec{Environment: spec.Staging}
	dev := spec.Spec{Environment: spec.Dev}
	assert.Equal(t, 3, canaryReplicas(staging, 3, 10), "the production floor")
	assert.Equal(t, 5, canaryReplicas(staging, 10, 50))
	assert.Equal(t, 2, canaryReplicas(dev, 2, 10))
	assert.Equal(t, 1, canaryReplicas(dev, 1, 10))
	_, err := imageDigest("not-a-service")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cloudscale:services: services/images.json has no image for not-a-service")
}

func queueNames(qs []rabbitmq.Queue) []string {
	var out []string
	for _, q := range qs {
		out = append(out, q.Name)
	}
	return out
}
