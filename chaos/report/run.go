// Package report turns what a chaos run recorded into verdicts a reader can
// trust: per component and failure domain, whether the steady state held
// (with the evidence: what the fault hit, the fewest ready replicas seen
// against the quorum needed, the time back to full strength, the SLO
// gate's samples and the StatusCheck records), the static analysis'
// prediction beside it, and a resilience score (docs/chaos.md defines it).
//
// The score of a run is 100 * sum(weight of held pairs) / sum(weight of
// held + breached pairs), over its component x failure-domain pairs, a
// component's weight being Component.Weight (1 when unset): the weighted
// share of the pairs a fault actually hit that kept their steady state.
// Not-run, not-hit and failed pairs are counted apart and never as passes
// (Coverage says how many pairs were hit at all); when no pair was hit the
// score is undefined ("n/a"), never 100.
//
// A run is plain data (Run), written by `cloudscale chaos run` as
// run.json in its directory and read back by `cloudscale chaos report`;
// this package imports no Kubernetes client.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FileName is the run record inside a run directory.
const FileName = "run.json"

// Run is one `chaos run`: the stack, the components it watched and the
// experiments it ran one after another.
type Run struct {
	// Stack and Env name the stack; Source says where the run happened
	// ("local cluster <kubeconfig>", or "cluster" for --from-cluster).
	Stack  string `json:"stack"`
	Env    string `json:"env"`
	Source string `json:"source"`
	// Zones are the cluster's zones, Nodes its node count at the start.
	Zones []string `json:"zones"`
	Nodes int      `json:"nodes"`
	// Started and Finished bound the whole run (UTC).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Interrupted is true when the run was stopped (SIGINT) before its
	// last experiment; what it created was still cleaned up.
	Interrupted bool `json:"interrupted,omitempty"`
	// Components are the workloads the run watched, with the static
	// analysis' prediction for each domain.
	Components []Component `json:"components"`
	// Experiments ran (or were skipped) in this order.
	Experiments []Experiment `json:"experiments"`
}

// Component is one workload the run watched.
type Component struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Kind is Deployment or StatefulSet (apps/v1).
	Kind string `json:"kind"`
	// Replicas is its desired size, Needed the ready replicas its steady
	// state needs (1, or a majority for a quorum), from the analysis.
	Replicas int `json:"replicas"`
	Needed   int `json:"needed"`
	// Weight is its criticality in the score: 2 in the request path (the
	// application namespaces), 1 otherwise.
	Weight int `json:"weight"`
	// Predicted is the failure-domain analysis' verdict per domain
	// ("survives", "degraded", "spof"), keyed by domain.
	Predicted map[string]string `json:"predicted"`
	// Reasons are the analysis' reasons, per domain, where it found a risk.
	Reasons map[string]string `json:"reasons,omitempty"`
}

// Key is namespace/name.
func (c Component) Key() string { return c.Namespace + "/" + c.Name }

// Status says whether an experiment ran.
type Status string

// The statuses of an experiment.
const (
	// Ran: the fault was injected and the steady state observed.
	Ran Status = "ran"
	// NotRun: the experiment cannot act here (NotRunReason says why).
	NotRun Status = "not-run"
	// Failed: the run could not inject the fault or observe the outcome
	// (an error, an interruption); it is never a pass.
	Failed Status = "failed"
)

// Experiment is one fault and what was seen around it.
type Experiment struct {
	Name string `json:"name"`
	// Fault is pod-kill, container-kill, node-loss, zone-outage,
	// zone-drain, network-delay, ...; Domain is pod, node, zone or drain
	// (and container, network, stress, dns for faults run in containers).
	Fault  string `json:"fault"`
	Domain string `json:"domain"`
	// Component is set when the fault targets one component
	// (namespace/name); empty for a node, zone or drain, which hit
	// whatever runs there.
	Component string `json:"component,omitempty"`
	Zone      string `json:"zone,omitempty"`
	Node      string `json:"node,omitempty"`
	// Executor is chaos-mesh (the real controller acted) or cloudscale
	// (the run drove the API itself: nodes, cordons, evictions).
	Executor string `json:"executor"`
	Status   Status `json:"status"`
	// NotRunReason says why an experiment did not run; Error why it failed.
	NotRunReason string `json:"notRunReason,omitempty"`
	Error        string `json:"error,omitempty"`
	// Started, FaultStarted, FaultEnded, Finished (UTC; zero when not
	// reached): the steady state is sampled before FaultStarted, during
	// the fault, and after FaultEnded until Finished.
	Started      time.Time `json:"started"`
	FaultStarted time.Time `json:"faultStarted,omitzero"`
	FaultEnded   time.Time `json:"faultEnded,omitzero"`
	Finished     time.Time `json:"finished,omitzero"`
	// Targets are what the fault selected (pods, nodes), Injected how
	// many it actually hit: from the chaos object's records
	// (injectedCount) or the pods the run deleted, evicted or lost.
	Targets  []string `json:"targets,omitempty"`
	Injected int      `json:"injected"`
	// Evidence names where Injected comes from.
	Evidence string `json:"evidence,omitempty"`
	// Blocked are evictions a PodDisruptionBudget refused after every
	// retry (a drain finding).
	Blocked []string `json:"blocked,omitempty"`
	// Aborted is true when a StatusCheck aborted the workflow.
	Aborted bool `json:"aborted"`
	// StatusChecks are the Chaos Mesh StatusCheck records of the workflow.
	StatusChecks []StatusCheckRecord `json:"statusChecks,omitempty"`
	// SteadyState are the SLO gate's answers for the whole platform.
	SteadyState []Sample `json:"steadyState,omitempty"`
	// Impacts are what each watched component went through.
	Impacts []Impact `json:"impacts,omitempty"`
}

// StatusCheckRecord is one probe of a Chaos Mesh StatusCheck.
type StatusCheckRecord struct {
	Check   string    `json:"check"`
	Time    time.Time `json:"time"`
	Outcome string    `json:"outcome"` // Success or Failure
	Message string    `json:"message,omitempty"`
}

// Phase of a steady-state sample.
const (
	Before = "before"
	During = "during"
	After  = "after"
)

// Sample is one answer of the SLO gate.
type Sample struct {
	Phase  string    `json:"phase"`
	Time   time.Time `json:"time"`
	OK     bool      `json:"ok"`
	Reason string    `json:"reason,omitempty"`
}

// Impact is one component through one experiment.
type Impact struct {
	// Component is namespace/name.
	Component string `json:"component"`
	// Hit is how many of its pods the fault took (deleted, evicted or on
	// a lost node); 0 means the fault did not touch it.
	Hit int `json:"hit"`
	// Replicas and Needed as in Component; MinReady is the fewest ready
	// replicas seen from the fault's start until it was back to full
	// strength (every pod event counted, not a poll).
	Replicas int `json:"replicas"`
	Needed   int `json:"needed"`
	MinReady int `json:"minReady"`
	// RecoverySeconds is the time from the fault's end until every
	// replica was ready again; -1 when it was not within the run's limit.
	RecoverySeconds float64 `json:"recoverySeconds"`
	// Basis says where MinReady and RecoverySeconds come from: empty when
	// the run counted every pod event; BasisStatusChecks when only the
	// SLO gate's StatusChecks were recorded (a Schedule on a cluster):
	// then MinReady is Needed when every check passed and 0 when one
	// failed, and RecoverySeconds is 0 or -1 alike; no count is implied.
	Basis string `json:"basis,omitempty"`
}

// BasisStatusChecks marks an impact judged by StatusChecks alone.
const BasisStatusChecks = "status-checks"

// Load reads the run record of a run directory (or a run.json file).
func Load(path string) (*Run, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, FileName)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Stack == "" || r.Started.IsZero() {
		return nil, fmt.Errorf("%s: not a chaos run record (no stack or start time)", path)
	}
	return &r, nil
}

// Save writes the run record into dir (created if needed), atomically: a
// reader never sees half a record.
func (r *Run) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, FileName+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, FileName))
}
