package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/components/monitoring/slo"
)

func exampleReceivers() []Receiver {
	return []Receiver{
		{Name: "oncall", Severity: slo.Page, Type: PagerDuty, VaultPath: "monitoring/pagerduty"},
		{Name: "platform", Severity: slo.Ticket, Type: Slack, Channel: "#platform-alerts", VaultPath: "monitoring/slack"},
		{Name: "tracker", Severity: slo.Ticket, Type: Webhook, URL: "http://tickets.tools.svc:8080/alerts"},
	}
}

// amtool runs Debian's amtool on the rendered configuration.
func amtool(t *testing.T, cfg []byte, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("amtool")
	require.NoError(t, err, "amtool not found on PATH (`make tools` installs Debian's prometheus-alertmanager)")
	path := filepath.Join(t.TempDir(), "alertmanager.yaml")
	require.NoError(t, os.WriteFile(path, cfg, 0o600))
	out, err := exec.Command(bin, append(args, "--config.file="+path)...).Output()
	require.NoError(t, err, "amtool %v:\n%s\nconfig:\n%s", args, out, cfg)
	return string(out)
}

func TestAlertmanagerConfigPassesAmtool(t *testing.T) {
	for name, rs := range map[string][]Receiver{"receivers": exampleReceivers(), "none": nil} {
		t.Run(name, func(t *testing.T) {
			cfg, err := AlertmanagerConfig(rs)
			require.NoError(t, err)
			bin, err := exec.LookPath("amtool")
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "alertmanager.yml")
			require.NoError(t, os.WriteFile(path, cfg, 0o600))
			out, err := exec.Command(bin, "check-config", path).CombinedOutput()
			require.NoError(t, err, "%s\n%s", out, cfg)
			assert.Contains(t, string(out), "SUCCESS")
			assert.NotContains(t, string(cfg), "vault", "no credential in the file")
		})
	}
}

// TestAlertmanagerRoutes asks amtool where alerts go: pages to the
// pager, tickets to both ticket receivers, the rest nowhere.
func TestAlertmanagerRoutes(t *testing.T) {
	cfg, err := AlertmanagerConfig(exampleReceivers())
	require.NoError(t, err)
	for _, c := range []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=AvailabilityBudgetBurn", "service=api-service", "severity=page"}, "oncall"},
		{[]string{"alertname=AvailabilityBudgetBurn", "service=api-service", "severity=ticket"}, "platform,tracker"},
		{[]string{"alertname=VaultSealed", "tier=security", "severity=info"}, "null"},
	} {
		out := amtool(t, cfg, append([]string{"config", "routes", "test"}, c.labels...)...)
		assert.Equal(t, c.want, strings.TrimSpace(out), c.labels)
	}
	// Without a ticket receiver, tickets go nowhere but pages still page.
	cfg, err = AlertmanagerConfig(exampleReceivers()[:1])
	require.NoError(t, err)
	assert.Equal(t, "null", strings.TrimSpace(amtool(t, cfg, "config", "routes", "test", "severity=ticket")))
	assert.Equal(t, "oncall", strings.TrimSpace(amtool(t, cfg, "config", "routes", "test", "severity=page")))
}

func TestAlertmanagerCredentialsAreFiles(t *testing.T) {
	cfg, err := AlertmanagerConfig(exampleReceivers())
	require.NoError(t, err)
	s := string(cfg)
	assert.Contains(t, s, "routing_key_file: /etc/alertmanager/secrets/alertmanager-receivers-oncall/credential")
	assert.Contains(t, s, "api_url_file: /etc/alertmanager/secrets/alertmanager-receivers-platform/credential")
	assert.Equal(t, []string{"alertmanager-receivers-oncall", "alertmanager-receivers-platform"}, receiverSecretNames(exampleReceivers()))
	vs := ReceiverSecrets(exampleReceivers())
	require.Len(t, vs, 2)
	assert.Equal(t, "monitoring/pagerduty", vs[0].VaultPath)
	assert.Equal(t, Namespace, vs[0].Namespace)
}

func TestValidateReceivers(t *testing.T) {
	for _, c := range []struct {
		name string
		r    Receiver
		want string
	}{
		{"type", Receiver{Name: "x", Severity: slo.Page, Type: "email"}, `type "email" is not pagerduty, slack or webhook`},
		{"severity", Receiver{Name: "x", Severity: "critical", Type: PagerDuty, VaultPath: "a"}, `severity "critical" is not page or ticket`},
		{"pagerduty key", Receiver{Name: "x", Severity: slo.Page, Type: PagerDuty}, "needs vaultPath"},
		{"slack channel", Receiver{Name: "x", Severity: slo.Page, Type: Slack, VaultPath: "a", Channel: "alerts"}, `channel "alerts"`},
		{"webhook plain", Receiver{Name: "x", Severity: slo.Page, Type: Webhook, URL: "http://example.com/"}, "must be https"},
		{"name", Receiver{Name: "null", Severity: slo.Page, Type: Webhook, URL: "https://x"}, "name must be a DNS label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorContains(t, ValidateReceivers([]Receiver{c.r}), c.want)
		})
	}
	dup := exampleReceivers()[:1]
	assert.ErrorContains(t, ValidateReceivers(append(dup, dup[0])), "repeats")
}
