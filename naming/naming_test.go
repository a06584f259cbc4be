package naming

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNames(t *testing.T) {
	cases := []struct {
		name, got, want string
		max             int
	}{
		{"plain", Resource("prod", "eks", 100), "cloudscale-prod-eks", 100},
		{"image namespace", ImageNamespace("Prod-Azure"), "cloudscale-prod-azure", 63},
		{"lowercased", Resource("Prod", "VPC", 100), "cloudscale-prod-vpc", 100},
		{"compact", Compact("prod-azure", "bk", 24), "cloudscaleprodazurebk", 24},
		{"compact cut", Compact("prod-azure", "backups", 24), "cloudscaleprodazur" + hash("cloudscaleprodazurebackups")[:6], 24},
		{"cut with hash", Resource("a-very-long-stack-name", "backups", 24), "cloudscale-a-very-" + hash("cloudscale-a-very-long-stack-name-backups")[:6], 24},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.got)
			assert.LessOrEqual(t, len(tc.got), tc.max)
		})
	}
}

func TestGlobalNamesDependOnScope(t *testing.T) {
	a := Global("prod", "backups", "111111111111", 63)
	b := Global("prod", "backups", "222222222222", 63)
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^cloudscale-prod-backups-[0-9a-f]{8}$`, a)
	assert.LessOrEqual(t, len(Global("prod-azure", "kv", "00000000-0000-0000-0000-000000000000", 24)), 24)
}

func TestCompactGlobal(t *testing.T) {
	n := CompactGlobal("prod-azure", "bk", "11111111-2222-3333-4444-555555555555", 24)
	assert.Regexp(t, `^[a-z0-9]{3,24}$`, n)
	assert.NotEqual(t, n, CompactGlobal("prod-azure", "bk", "other-subscription", 24))
}
