package upstream

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEveryChartIsPinned(t *testing.T) {
	for _, c := range []Chart{IstioBase, IstioCNI, Istiod, CertManager, Vault, ExternalSecrets} {
		assert.NoError(t, c.Validate(), c.Name)
	}
	cases := []struct {
		chart Chart
		want  string
	}{
		{Chart{Name: "x", Repo: "https://charts.example", Version: "1.2"}, `chart x: version "1.2" is not an exact version (x.y.z)`},
		{Chart{Name: "x", Repo: "https://charts.example", Version: "^1.2.0"}, `chart x: version "^1.2.0" is not an exact version (x.y.z)`},
		{Chart{Name: "x", Repo: "http://charts.example", Version: "1.2.3"}, `chart x: repository "http://charts.example" is not an https URL`},
	}
	for _, tc := range cases {
		assert.EqualError(t, tc.chart.Validate(), tc.want)
	}
}
