package experiments

import (
	"errors"
	"fmt"
	"time"

	"github.com/cloudscale/platform/chaos/schedule"
)

// Config is how a stack runs its experiments (stack config chaos.*).
type Config struct {
	// Enabled turns the stack's Schedule on.
	Enabled bool `json:"enabled"`
	// Schedule is when the Schedule runs, in the cron syntax of Chaos
	// Mesh's own parser (see chaos/schedule).
	Schedule string `json:"schedule"`
	// BusinessHoursOnly refuses a schedule that can fire outside
	// schedule.BusinessHours: people are there to watch and to stop it.
	BusinessHoursOnly bool `json:"businessHoursOnly"`
	// HistoryLimit is how many finished runs the Schedule keeps.
	HistoryLimit int `json:"historyLimit"`
	// Zones are the stack's zones: one zone outage per zone.
	Zones []string `json:"zones"`
	// Namespaces are the application namespaces the controller may
	// inject into (its enableFilterNamespace list).
	Namespaces []string `json:"namespaces"`
	// Daemon says whether the cluster runs chaos-daemon (clouds do; the
	// simulated cluster's pods have no containers to act in).
	Daemon bool `json:"daemon"`
	// SLOGate is the base URL of the SLO gate the StatusChecks ask.
	SLOGate string `json:"sloGate"`
	// Duration is how long a fault lasts; Recovery how long the workflow
	// waits after it before checking the steady state again.
	Duration string `json:"duration"`
	Recovery string `json:"recovery"`
	// Delay is the latency a network-delay experiment adds.
	Delay string `json:"delay"`
}

// DefaultSchedule runs at 10:00 on weekdays: inside business hours.
const DefaultSchedule = "0 10 * * 1-5"

// DefaultSLOGate is the SLO gate's Service (services/slogate).
const DefaultSLOGate = "http://slo-gate." + Namespace + ".svc:8080"

// DefaultConfig is the configuration of a stack in env: enabled, on
// weekdays at 10:00, business hours only in prod, 5 runs kept, two-minute
// faults, a minute to recover, 200ms of delay.
func DefaultConfig(env string, zones, namespaces []string, daemon bool) Config {
	return Config{
		Enabled: true, Schedule: DefaultSchedule, BusinessHoursOnly: env == "prod", HistoryLimit: 5,
		Zones: zones, Namespaces: namespaces, Daemon: daemon, SLOGate: DefaultSLOGate,
		Duration: "2m", Recovery: "1m", Delay: "200ms",
	}
}

// Validate refuses a schedule Chaos Mesh's parser refuses, one that fires
// outside business hours when they are required, and durations that do
// not parse; every error names its key.
func (c Config) Validate() error {
	var errs []error
	if err := schedule.Check(c.Schedule, c.BusinessHoursOnly); err != nil {
		errs = append(errs, fmt.Errorf("chaos.schedule %q: %w", c.Schedule, err))
	}
	if c.HistoryLimit < 1 {
		errs = append(errs, fmt.Errorf("chaos.historyLimit %d: want 1 or more", c.HistoryLimit))
	}
	for _, kv := range [][2]string{{"chaos.duration", c.Duration}, {"chaos.recovery", c.Recovery}, {"chaos.delay", c.Delay}} {
		if d, err := time.ParseDuration(kv[1]); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s %q: want a positive duration such as 2m or 200ms", kv[0], kv[1]))
		}
	}
	return errors.Join(errs...)
}
