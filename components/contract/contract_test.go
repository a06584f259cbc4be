package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedisAddressesAndPeer(t *testing.T) {
	cases := []struct {
		name    string
		redis   Redis
		master  string
		addrs   []string
		ports   []int
		problem string
	}{
		{"single", Redis{Mode: RedisSingle, URL: "redis.cloudscale:6380", Namespace: "cloudscale"}, "", []string{"redis.cloudscale:6380"}, []int{6380}, ""},
		{"cluster", Redis{Mode: RedisCluster, URL: "a:6379,b:6379", Namespace: "cloudscale"}, "", []string{"a:6379", "b:6379"}, []int{6379}, ""},
		{"sentinel: the Sentinels and the data port they hand out", Redis{Mode: RedisSentinel, URL: "mymaster,s1:26379,s2:26379", Namespace: "istio-ingress"},
			"mymaster", []string{"s1:26379", "s2:26379"}, []int{6379, 26379}, ""},
		{"sentinel without a master", Redis{Mode: RedisSentinel, URL: "s1:26379"}, "", nil, nil, "want master,host:port[,host:port...]"},
		{"two addresses for one server", Redis{Mode: RedisSingle, URL: "a:6379,b:6379"}, "", nil, nil, "want one host:port"},
		{"no port", Redis{Mode: RedisSingle, URL: "redis"}, "", nil, nil, `"redis" is not host:port`},
		{"port out of range", Redis{Mode: RedisCluster, URL: "a:70000"}, "", nil, nil, `"a:70000": port out of range`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			master, addrs, err := tc.redis.Addresses()
			if tc.problem != "" {
				assert.EqualError(t, err, tc.problem)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.master, master)
			assert.Equal(t, tc.addrs, addrs)
			p := tc.redis.Peer()
			assert.Equal(t, tc.ports, p.Ports)
			assert.Equal(t, map[string]string{NameLabel: "redis"}, p.PodLabels)
			assert.Equal(t, InNamespace(tc.redis.Namespace), p.NamespaceLabels)
		})
	}
}

func TestPeerSelectsSomething(t *testing.T) {
	assert.False(t, Peer{Ports: []int{80}}.Selects(), "no selector: would admit every source")
	assert.True(t, Peer{PodLabels: map[string]string{"a": "b"}}.Selects())
	assert.True(t, Peer{NamespaceLabels: InNamespace("x")}.Selects())
	assert.True(t, Peer{CIDRs: []string{"10.0.0.0/8"}}.Selects())
}

func TestEndpointAddress(t *testing.T) {
	assert.Equal(t, "vault.vault.svc:8200", Endpoint{Host: "vault.vault.svc", Port: 8200}.Address())
}
