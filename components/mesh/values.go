package mesh

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/cloudscale/platform/components/workload"
)

// BaseValues are the values of Istio's base chart the platform sets.
type BaseValues struct {
	DefaultRevision string `json:"defaultRevision"`
}

// CNIValues are the values of Istio's cni chart the platform sets.
type CNIValues struct {
	Global CNIGlobal `json:"global"`
}

// CNIGlobal holds the CNI's platform ("gke" on GKE).
type CNIGlobal struct {
	Platform string `json:"platform"`
}

// IstiodValues are the values of Istio's istiod chart the platform sets.
// Since Istio 1.24 the chart reads the pilot settings at the top level
// and still accepts them under pilot; both are set (PilotValues inline and
// under Pilot).
type IstiodValues struct {
	PilotValues `json:",inline"`
	// ConfigMap false: the component writes the mesh config itself.
	ConfigMap bool         `json:"configMap"`
	Pilot     PilotValues  `json:"pilot"`
	Global    IstiodGlobal `json:"global"`
}

// PilotValues are istiod's replicas (with the floor the autoscaler
// keeps), the CNI, the seccomp profile the namespace's "restricted" level
// requires, and its resources.
type PilotValues struct {
	ReplicaCount   int                         `json:"replicaCount"`
	AutoscaleMin   int                         `json:"autoscaleMin"`
	AutoscaleMax   int                         `json:"autoscaleMax"`
	CNI            Enabled                     `json:"cni"`
	SeccompProfile corev1.SeccompProfile       `json:"seccompProfile"`
	Resources      corev1.ResourceRequirements `json:"resources"`
	// TopologySpreadConstraints spread istiod over zones (the chart sets
	// none).
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
}

// IstiodGlobal turns on the chart's disruption budgets and JSON logs.
type IstiodGlobal struct {
	DefaultPodDisruptionBudget Enabled `json:"defaultPodDisruptionBudget"`
	LogAsJSON                  bool    `json:"logAsJson"`
}

// Enabled is a chart's {enabled: true|false} switch.
type Enabled struct {
	Enabled bool `json:"enabled"`
}

// NewIstiodValues are istiod's values for a.
func NewIstiodValues(a *Args) (IstiodValues, error) {
	res, err := a.Resources.Requirements()
	if err != nil {
		return IstiodValues{}, err
	}
	pilot := PilotValues{
		ReplicaCount: a.IstiodReplicas, AutoscaleMin: a.IstiodReplicas, AutoscaleMax: a.IstiodReplicas * 3,
		CNI:            Enabled{true},
		SeccompProfile: corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		Resources:      res,
		// The labels the istiod chart gives its pods.
		TopologySpreadConstraints: workload.Spread(map[string]string{"app": "istiod", "istio": "pilot"}),
	}
	return IstiodValues{
		PilotValues: pilot, ConfigMap: false, Pilot: pilot,
		Global: IstiodGlobal{DefaultPodDisruptionBudget: Enabled{true}, LogAsJSON: true},
	}, nil
}
