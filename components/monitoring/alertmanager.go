package monitoring

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/components/contract"
	"github.com/cloudscale/platform/components/monitoring/slo"
)

// Receiver types Alertmanager delivers to. Their credentials (PagerDuty's
// routing key, Slack's webhook URL, a webhook's bearer token) stay in
// Vault and reach Alertmanager as files, never in its configuration.
const (
	PagerDuty = "pagerduty"
	Slack     = "slack"
	Webhook   = "webhook"
)

// Receiver is where alerts of one severity go.
type Receiver struct {
	// Name is a DNS label, unique among the receivers.
	Name string
	// Severity is slo.Page or slo.Ticket: the alerts routed here.
	Severity string
	// Type is PagerDuty, Slack or Webhook.
	Type string
	// Channel is Slack's channel (e.g. "#platform-alerts").
	Channel string
	// URL is a webhook's address (https, or http inside the cluster); its
	// bearer token, when VaultPath is set, is read from Vault.
	URL string
	// VaultPath is the KV path of the credential (property "credential"):
	// required for PagerDuty and Slack.
	VaultPath string
}

// ReceiverSecretsName prefixes the Secrets the secrets tier fills with
// the receivers' credentials: alertmanager-receivers-<receiver>, key
// "credential", which the Alertmanager mounts.
const ReceiverSecretsName = "alertmanager-receivers"

var slackChannel = regexp.MustCompile(`^[#@][a-z0-9._-]{1,80}$`)

// ValidateReceivers checks the receivers: unique names, known types and
// severities, the fields each type needs.
func ValidateReceivers(rs []Receiver) error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range rs {
		at := fmt.Sprintf("receivers[%d] (%s)", i, r.Name)
		if !dnsRe.MatchString(r.Name) || r.Name == nullReceiver {
			errs = append(errs, fmt.Errorf("%s: name must be a DNS label other than %q", at, nullReceiver))
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("%s: name repeats an earlier receiver's", at))
		}
		seen[r.Name] = true
		if r.Severity != slo.Page && r.Severity != slo.Ticket {
			errs = append(errs, fmt.Errorf("%s: severity %q is not %s or %s", at, r.Severity, slo.Page, slo.Ticket))
		}
		switch r.Type {
		case PagerDuty:
			if r.VaultPath == "" {
				errs = append(errs, fmt.Errorf("%s: a pagerduty receiver needs vaultPath, where its routing key is kept", at))
			}
		case Slack:
			if r.VaultPath == "" {
				errs = append(errs, fmt.Errorf("%s: a slack receiver needs vaultPath, where its webhook URL is kept", at))
			}
			if !slackChannel.MatchString(r.Channel) {
				errs = append(errs, fmt.Errorf("%s: channel %q is not a Slack channel (#name)", at, r.Channel))
			}
		case Webhook:
			if !strings.HasPrefix(r.URL, "https://") && (!strings.HasPrefix(r.URL, "http://") || !strings.Contains(r.URL, ".svc")) {
				errs = append(errs, fmt.Errorf("%s: url %q must be https, or http to a cluster Service (*.svc)", at, r.URL))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: type %q is not %s, %s or %s", at, r.Type, PagerDuty, Slack, Webhook))
		}
	}
	return errors.Join(errs...)
}

// ReceiverSecrets is what the secrets tier delivers from Vault: a Secret
// per receiver with a credential (property "credential" at its VaultPath).
func ReceiverSecrets(rs []Receiver) []contract.VaultSecret {
	var out []contract.VaultSecret
	for _, r := range rs {
		if r.VaultPath == "" {
			continue
		}
		out = append(out, contract.VaultSecret{
			Name: ReceiverSecretsName + "-" + r.Name, Namespace: Namespace, VaultPath: r.VaultPath,
			Keys: map[string]string{"credential": "credential"},
		})
	}
	return out
}

// receiverSecret is the Secret holding r's credential.
func receiverSecret(r Receiver) string { return ReceiverSecretsName + "-" + r.Name }

// credentialFile is where r's credential is mounted in the Alertmanager
// pods (the operator mounts spec.secrets at /etc/alertmanager/secrets/<name>).
func credentialFile(r Receiver) string {
	return "/etc/alertmanager/secrets/" + receiverSecret(r) + "/credential"
}

// The Alertmanager configuration file, the subset of its schema the
// platform writes (prometheus/alertmanager config/config.go).
type (
	amConfig struct {
		Route        amRoute      `json:"route"`
		InhibitRules []amInhibit  `json:"inhibit_rules,omitempty"`
		Receivers    []amReceiver `json:"receivers"`
	}
	amRoute struct {
		Receiver       string    `json:"receiver,omitempty"`
		GroupBy        []string  `json:"group_by,omitempty"`
		Matchers       []string  `json:"matchers,omitempty"`
		Continue       bool      `json:"continue,omitempty"`
		GroupWait      string    `json:"group_wait,omitempty"`
		GroupInterval  string    `json:"group_interval,omitempty"`
		RepeatInterval string    `json:"repeat_interval,omitempty"`
		Routes         []amRoute `json:"routes,omitempty"`
	}
	amInhibit struct {
		SourceMatchers []string `json:"source_matchers"`
		TargetMatchers []string `json:"target_matchers"`
		Equal          []string `json:"equal"`
	}
	amReceiver struct {
		Name             string        `json:"name"`
		PagerDutyConfigs []amPagerDuty `json:"pagerduty_configs,omitempty"`
		SlackConfigs     []amSlack     `json:"slack_configs,omitempty"`
		WebhookConfigs   []amWebhook   `json:"webhook_configs,omitempty"`
	}
	amPagerDuty struct {
		RoutingKeyFile string `json:"routing_key_file"`
		SendResolved   bool   `json:"send_resolved"`
	}
	amSlack struct {
		APIURLFile   string `json:"api_url_file"`
		Channel      string `json:"channel"`
		SendResolved bool   `json:"send_resolved"`
		Title        string `json:"title"`
		Text         string `json:"text"`
	}
	amWebhook struct {
		URL          string        `json:"url"`
		SendResolved bool          `json:"send_resolved"`
		HTTPConfig   *amHTTPConfig `json:"http_config,omitempty"`
	}
	amHTTPConfig struct {
		Authorization amAuthorization `json:"authorization"`
	}
	amAuthorization struct {
		CredentialsFile string `json:"credentials_file"`
	}
)

// nullReceiver takes alerts of a severity no receiver is declared for.
const nullReceiver = "null"

// AlertmanagerConfig renders alertmanager.yaml: alerts grouped by name,
// service and tier; pages and tickets each to their receivers (every
// receiver of the severity, so several can share it); a page silences
// the ticket of the same alert (the SLO alerts fire both while a budget
// burns fast), and an alert of a severity without a receiver goes
// nowhere. Credentials are files (ReceiverSecrets), so the file holds no
// secret.
func AlertmanagerConfig(rs []Receiver) ([]byte, error) {
	if err := ValidateReceivers(rs); err != nil {
		return nil, err
	}
	cfg := amConfig{
		Route: amRoute{
			Receiver: nullReceiver, GroupBy: []string{"alertname", slo.ServiceLabel, slo.SLOLabel, "tier", "namespace"},
			GroupWait: "30s", GroupInterval: "5m", RepeatInterval: "12h",
		},
		InhibitRules: []amInhibit{{
			SourceMatchers: []string{slo.SeverityLabel + `="` + slo.Page + `"`},
			TargetMatchers: []string{slo.SeverityLabel + `="` + slo.Ticket + `"`},
			Equal:          []string{"alertname", slo.ServiceLabel, slo.SLOLabel, "tier", "namespace"},
		}},
		Receivers: []amReceiver{{Name: nullReceiver}},
	}
	for _, sev := range []string{slo.Page, slo.Ticket} {
		repeat := map[string]string{slo.Page: "1h", slo.Ticket: "24h"}[sev]
		for _, r := range rs {
			if r.Severity != sev {
				continue
			}
			cfg.Route.Routes = append(cfg.Route.Routes, amRoute{
				Receiver: r.Name, Matchers: []string{slo.SeverityLabel + `="` + sev + `"`}, Continue: true, RepeatInterval: repeat,
			})
			cfg.Receivers = append(cfg.Receivers, receiverConfig(r))
		}
	}
	// A severity's last route stops the walk; null catches the rest.
	for i := range cfg.Route.Routes {
		last := i == len(cfg.Route.Routes)-1 || cfg.Route.Routes[i+1].Matchers[0] != cfg.Route.Routes[i].Matchers[0]
		cfg.Route.Routes[i].Continue = !last
	}
	slices.SortStableFunc(cfg.Receivers[1:], func(a, b amReceiver) int { return strings.Compare(a.Name, b.Name) })
	return yaml.Marshal(cfg)
}

func receiverConfig(r Receiver) amReceiver {
	out := amReceiver{Name: r.Name}
	switch r.Type {
	case PagerDuty:
		out.PagerDutyConfigs = []amPagerDuty{{RoutingKeyFile: credentialFile(r), SendResolved: true}}
	case Slack:
		out.SlackConfigs = []amSlack{{
			APIURLFile: credentialFile(r), Channel: r.Channel, SendResolved: true,
			Title: `[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}{{ .CommonLabels.tier }}`,
			Text:  `{{ range .Alerts }}{{ .Annotations.summary }}: {{ .Annotations.description }}{{ "\n" }}{{ end }}`,
		}}
	case Webhook:
		w := amWebhook{URL: r.URL, SendResolved: true}
		if r.VaultPath != "" {
			w.HTTPConfig = &amHTTPConfig{Authorization: amAuthorization{CredentialsFile: credentialFile(r)}}
		}
		out.WebhookConfigs = []amWebhook{w}
	}
	return out
}

// receiverSecretNames are the Secrets the Alertmanager mounts.
func receiverSecretNames(rs []Receiver) []string {
	var out []string
	for _, r := range rs {
		if r.VaultPath != "" {
			out = append(out, receiverSecret(r))
		}
	}
	return out
}
