package resilience

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/cloudscale/platform/components/upstream"
	"github.com/cloudscale/platform/components/workload"
)

// ControllerLabels select the controller manager's pods: the chart's
// selector labels (chaos-mesh.selectors plus the component).
func ControllerLabels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "chaos-mesh",
		"app.kubernetes.io/instance":  Release,
		"app.kubernetes.io/component": "controller-manager",
	}
}

// Values are the Chaos Mesh chart's values the platform sets (the chart's
// values.yaml at upstream.ChaosMeshVersion names them); the rest keep the
// chart's defaults.
type Values struct {
	ClusterScoped bool `json:"clusterScoped"`
	// EnableProfiling serves pprof; EnableCtrlServer a GraphQL debugging
	// API into the controller and the daemons. Both off in a platform.
	EnableProfiling   bool              `json:"enableProfiling"`
	EnableCtrlServer  bool              `json:"enableCtrlServer"`
	Images            Images            `json:"images"`
	ControllerManager ControllerManager `json:"controllerManager"`
	ChaosDaemon       ChaosDaemon       `json:"chaosDaemon"`
	Dashboard         Dashboard         `json:"dashboard"`
	DNSServer         Enabled           `json:"dnsServer"`
	Webhook           Webhook           `json:"webhook"`
}

// Images pins every Chaos Mesh image (the chart's default tag is latest).
type Images struct {
	Tag string `json:"tag"`
}

// ControllerManager is the controller's deployment.
type ControllerManager struct {
	ReplicaCount int `json:"replicaCount"`
	// EnableFilterNamespace limits injection to namespaces annotated
	// chaos-mesh.org/inject=enabled (InjectAnnotation).
	EnableFilterNamespace bool                        `json:"enableFilterNamespace"`
	Resources             corev1.ResourceRequirements `json:"resources"`
	Affinity              *corev1.Affinity            `json:"affinity,omitempty"`
	LeaderElection        Enabled                     `json:"leaderElection"`
	PodChaos              PodChaos                    `json:"podChaos"`
}

// PodChaos pins the image pod-failure swaps a container's for.
type PodChaos struct {
	PodFailure struct {
		PauseImage string `json:"pauseImage"`
	} `json:"podFailure"`
}

// ChaosDaemon is the node agent that injects faults inside containers.
type ChaosDaemon struct {
	Runtime    string                      `json:"runtime"`
	SocketPath string                      `json:"socketPath"`
	Resources  corev1.ResourceRequirements `json:"resources"`
}

// Dashboard is Chaos Mesh's web UI.
type Dashboard struct {
	Create bool `json:"create"`
	// SecurityMode makes every user sign in with a service account token,
	// so the dashboard can do no more than that account's RBAC allows.
	SecurityMode bool                        `json:"securityMode"`
	Service      ServiceType                 `json:"service"`
	Resources    corev1.ResourceRequirements `json:"resources"`
}

// ServiceType is a chart Service's type.
type ServiceType struct {
	Type string `json:"type"`
}

// Enabled switches a chart part.
type Enabled struct {
	Enabled bool `json:"enabled,omitempty"`
	Create  bool `json:"create,omitempty"`
}

// Webhook has cert-manager (the platform's certificate tier runs it)
// issue the admission webhook's certificate, from the chart's own
// self-signed Issuer, rather than one Helm generates anew at every upgrade.
type Webhook struct {
	CertManager Enabled `json:"certManager"`
}

// NewValues are the chart's values for a: the controller confined to the
// annotated namespaces, replicated with leader election and spread over
// zones (see ControllerReplicas), chaos-daemon on the cluster's runtime,
// the dashboard in security mode behind a ClusterIP Service, the DNS
// server that DNSChaos needs, every image pinned.
func NewValues(a *Args) (Values, error) {
	res, err := a.Resources.Requirements()
	if err != nil {
		return Values{}, err
	}
	v := Values{
		ClusterScoped: true,
		Images:        Images{Tag: "v" + upstream.ChaosMeshVersion},
		ControllerManager: ControllerManager{
			ReplicaCount: ControllerReplicas(a), EnableFilterNamespace: true, Resources: res,
			Affinity: workload.ZoneAntiAffinity(ControllerLabels(), a.Production), LeaderElection: Enabled{Enabled: true},
		},
		ChaosDaemon: ChaosDaemon{Runtime: a.Runtime.Name, SocketPath: a.Runtime.Socket, Resources: res},
		Dashboard:   Dashboard{Create: true, SecurityMode: true, Service: ServiceType{Type: "ClusterIP"}, Resources: res},
		DNSServer:   Enabled{Create: true},
		Webhook:     Webhook{CertManager: Enabled{Enabled: true}},
	}
	v.ControllerManager.PodChaos.PodFailure.PauseImage = upstream.PauseImage
	return v, nil
}

// ControllerReplicas is the controller manager's replica count. In
// production, one replica per zone but one (2 over 3 zones) under a
// required zone anti-affinity: a zone's loss leaves a leader candidate,
// and a rolling update's surge pod (the chart's Deployment keeps the
// default 25% surge, 0 unavailable at 3 replicas) has a free zone to start
// in, where one per zone in every zone would leave it Pending and stall
// every upgrade. Elsewhere the stack's replica count, spread preferred.
func ControllerReplicas(a *Args) int {
	if a.Production {
		return max(2, a.Zones-1)
	}
	return max(1, a.Replicas)
}
