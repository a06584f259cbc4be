package infra

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubnet(t *testing.T) {
	cases := []struct {
		base          string
		newBits, idx  int
		want, wantErr string
	}{
		{"10.0.0.0/16", 4, 0, "10.0.0.0/20", ""},
		{"10.0.0.0/16", 4, 2, "10.0.32.0/20", ""},
		{"10.30.0.0/16", 8, 200, "10.30.200.0/24", ""},
		{"10.8.0.0/14", 2, 3, "10.11.0.0/16", ""},
		{"10.0.0.0/16", 4, 16, "", `subnet of "10.0.0.0/16": index 16 out of range for 4 new bits`},
		{"10.0.0.0/30", 4, 0, "", `subnet of "10.0.0.0/30": /34 does not fit`},
		{"nope", 4, 0, "", `subnet of "nope": invalid CIDR address: nope`},
	}
	for _, tc := range cases {
		got, err := Subnet(tc.base, tc.newBits, tc.idx)
		if tc.wantErr != "" {
			assert.EqualError(t, err, tc.wantErr)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}
