package spof

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// helmRelease is the type token of a Helm release the platform installs
// with values it sets (pulumi-kubernetes helm.sh/v3 Release).
const helmRelease = "kubernetes:helm.sh/v3:Release"

// releaseInputs are the inputs of a Release the analysis reads.
type releaseInputs struct {
	Name      string          `json:"name"`
	Chart     string          `json:"chart"`
	Version   string          `json:"version"`
	Namespace string          `json:"namespace"`
	Values    json.RawMessage `json:"values"`
}

// charts read the releases of charts whose workloads the analysis knows,
// from the values the platform sets and the chart's documented defaults.
var charts = map[string]func(releaseInputs) ([]*component, error){
	"vault":            one(vaultRelease),
	"istiod":           one(istiodRelease),
	"cert-manager":     replicatedChart(certManagerParts),
	"external-secrets": replicatedChart(externalSecretsParts),
	"chaos-mesh":       replicatedChart(chaosMeshParts),
}

// chaosMeshParts is Chaos Mesh's controller manager (chaos-mesh
// helm/chaos-mesh: values.yaml's controllerManager.replicaCount defaults
// to 3, leader-elected; _helpers.tpl's selector labels plus the
// component). It serves the admission webhook of every chaos kind, so
// without it no experiment can be created or recovered. The dashboard
// (one replica, a UI) and chaos-daemon (per node) are not on that path.
var chaosMeshParts = []chartPart{
	{"controllerManager", "-controller-manager", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "chaos-mesh", "app.kubernetes.io/instance": r, "app.kubernetes.io/component": "controller-manager"}
	}, 3},
}

func one(read func(releaseInputs) (*component, error)) func(releaseInputs) ([]*component, error) {
	return func(in releaseInputs) ([]*component, error) {
		c, err := read(in)
		if err != nil {
			return nil, err
		}
		c.name = in.Name
		return []*component{c}, nil
	}
}

func release(r graph.Resource) ([]*component, error) {
	in, err := kube.Decode[releaseInputs](r.Inputs)
	if err != nil {
		return nil, err
	}
	read, ok := charts[in.Chart]
	if !ok {
		return nil, nil
	}
	if in.Name == "" {
		in.Name = r.Name
	}
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	comps, err := read(in)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: values: %w", in.Chart, in.Version, err)
	}
	for _, c := range comps {
		c.kind, c.namespace, c.urn = "helm.sh/Release", in.Namespace, r.URN
	}
	return comps, nil
}

func values[T any](raw json.RawMessage) (T, error) {
	var out T
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	err := json.Unmarshal(raw, &out)
	return out, err
}

// chartAffinity is a chart's affinity value, which charts accept as an
// object or as a YAML string (a template).
type chartAffinity struct {
	set      bool
	affinity *corev1.Affinity
}

func (a *chartAffinity) UnmarshalJSON(b []byte) error {
	a.set = true
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s == "" {
			return nil
		}
		var aff corev1.Affinity
		if err := yaml.Unmarshal([]byte(s), &aff); err != nil {
			return fmt.Errorf("affinity is a string that is not YAML (a template is not evaluated here): %w", err)
		}
		a.affinity = &aff
		return nil
	}
	var aff corev1.Affinity
	if err := json.Unmarshal(b, &aff); err != nil {
		return err
	}
	a.affinity = &aff
	return nil
}

// vaultValues are the vault chart's values the analysis reads.
type vaultValues struct {
	Server struct {
		HA struct {
			Enabled  bool `json:"enabled"`
			Replicas *int `json:"replicas"`
			Raft     struct {
				Enabled bool `json:"enabled"`
			} `json:"raft"`
			DisruptionBudget struct {
				Enabled        *bool `json:"enabled"`
				MaxUnavailable *int  `json:"maxUnavailable"`
			} `json:"disruptionBudget"`
		} `json:"ha"`
		Affinity                  chartAffinity                     `json:"affinity"`
		TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
		NodeSelector              map[string]string                 `json:"nodeSelector"`
		ExtraLabels               map[string]string                 `json:"extraLabels"`
	} `json:"server"`
}

// vaultRelease reads the vault chart (hashicorp/vault-helm, values.yaml
// and templates/_helpers.tpl): servers labelled by the chart's name,
// the release and component=server; HA with raft is a quorum of
// server.ha.replicas (default 3); without HA, one server. The default
// server.affinity is a required anti-affinity on kubernetes.io/hostname.
// The budget's maxUnavailable defaults to (replicas-1)/2, and a 0 given
// is replaced by that default (the template tests the value's truth).
func vaultRelease(in releaseInputs) (*component, error) {
	v, err := values[vaultValues](in.Values)
	if err != nil {
		return nil, err
	}
	s := v.Server
	labels := map[string]string{"app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": in.Name, "component": "server"}
	for k, val := range s.ExtraLabels {
		labels[k] = val
	}
	n, quorum := 1, false
	if s.HA.Enabled {
		n = 3
		if s.HA.Replicas != nil {
			n = *s.HA.Replicas
		}
		quorum = s.HA.Raft.Enabled
	}
	affinity := s.Affinity.affinity
	if !s.Affinity.set {
		affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey: corev1.LabelHostname,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
					"app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": in.Name, "component": "server",
				}},
			}},
		}}
	}
	c := &component{
		replicas: n, needed: 1, quorum: quorum, replicasField: "server.ha.replicas",
		shape: podShape{namespace: in.Namespace, labels: labels, field: "server",
			spec: corev1.PodSpec{Affinity: affinity, TopologySpreadConstraints: s.TopologySpreadConstraints, NodeSelector: s.NodeSelector}},
	}
	if quorum {
		c.needed = n/2 + 1
	}
	if s.HA.Enabled && (s.HA.DisruptionBudget.Enabled == nil || *s.HA.DisruptionBudget.Enabled) {
		allowed := (n - 1) / 2
		if m := s.HA.DisruptionBudget.MaxUnavailable; m != nil && *m != 0 {
			allowed = min(*m, n)
		}
		c.operatorBudget, c.operatorBudgetText = &allowed, fmt.Sprintf("the chart's PodDisruptionBudget (maxUnavailable %d)", allowed)
	}
	return c, nil
}

// pilotValues are istiod's scheduling values, read at the top level
// (Istio 1.24 and later) or under pilot.
type pilotValues struct {
	ReplicaCount              *int                              `json:"replicaCount"`
	AutoscaleEnabled          *bool                             `json:"autoscaleEnabled"`
	AutoscaleMin              *int                              `json:"autoscaleMin"`
	Affinity                  chartAffinity                     `json:"affinity"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	NodeSelector              map[string]string                 `json:"nodeSelector"`
}

type istiodValues struct {
	pilotValues `json:",inline"`
	Pilot       pilotValues `json:"pilot"`
	Global      struct {
		DefaultPodDisruptionBudget struct {
			Enabled *bool `json:"enabled"`
		} `json:"defaultPodDisruptionBudget"`
	} `json:"global"`
}

// istiodRelease reads the istiod chart (istio/manifests/charts/istio-control
// /istio-discovery): pods labelled app=istiod and istio=pilot; the replica
// floor is autoscaleMin when the autoscaler is on (the default, floor 1),
// else replicaCount (default 1); no anti-affinity or spread by default;
// the default budget keeps minAvailable 1.
func istiodRelease(in releaseInputs) (*component, error) {
	v, err := values[istiodValues](in.Values)
	if err != nil {
		return nil, err
	}
	p := v.pilotValues
	if p.ReplicaCount == nil && p.AutoscaleMin == nil {
		p = v.Pilot
	}
	n := 1
	if p.AutoscaleEnabled == nil || *p.AutoscaleEnabled {
		if p.AutoscaleMin != nil {
			n = *p.AutoscaleMin
		}
	} else if p.ReplicaCount != nil {
		n = *p.ReplicaCount
	}
	c := &component{
		replicas: n, needed: 1, replicasField: "autoscaleMin (and replicaCount)",
		shape: podShape{namespace: in.Namespace, labels: map[string]string{"app": "istiod", "istio": "pilot"}, field: "the chart's values",
			spec: corev1.PodSpec{Affinity: p.Affinity.affinity, TopologySpreadConstraints: p.TopologySpreadConstraints, NodeSelector: p.NodeSelector}},
	}
	if e := v.Global.DefaultPodDisruptionBudget.Enabled; e == nil || *e {
		allowed := max(n-1, 0)
		c.operatorBudget, c.operatorBudgetText = &allowed, "the chart's PodDisruptionBudget (minAvailable 1)"
	}
	return c, nil
}

// chartPart is one workload of a chart that runs several (cert-manager's
// controller, webhook and cainjector): the values key that configures it
// ("" for the top level), its name suffix and its pods' labels.
type chartPart struct {
	key, suffix string
	labels      func(release string) map[string]string
	// replicas is the chart's default replicaCount (0: 1).
	replicas int
}

// certManagerParts are cert-manager's workloads (jetstack/cert-manager
// deploy/charts/cert-manager, _helpers.tpl labels).
var certManagerParts = []chartPart{
	{"", "", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/instance": r, "app.kubernetes.io/component": "controller"}
	}, 0},
	{"webhook", "-webhook", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "webhook", "app.kubernetes.io/instance": r, "app.kubernetes.io/component": "webhook"}
	}, 0},
	{"cainjector", "-cainjector", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "cainjector", "app.kubernetes.io/instance": r, "app.kubernetes.io/component": "cainjector"}
	}, 0},
}

// externalSecretsParts are the External Secrets Operator's workloads
// (external-secrets deploy/charts/external-secrets, _helpers.tpl).
var externalSecretsParts = []chartPart{
	{"", "", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "external-secrets", "app.kubernetes.io/instance": r}
	}, 0},
	{"webhook", "-webhook", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "external-secrets-webhook", "app.kubernetes.io/instance": r}
	}, 0},
	{"certController", "-cert-controller", func(r string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": "external-secrets-cert-controller", "app.kubernetes.io/instance": r}
	}, 0},
}

// replicatedValues are the scheduling values both charts give each
// workload: replicaCount (default 1), a disruption budget off by default
// (minAvailable 1 when on and neither bound is set), affinity, spread and
// node selector (none by default).
type replicatedValues struct {
	ReplicaCount        *int `json:"replicaCount"`
	PodDisruptionBudget struct {
		Enabled        bool                `json:"enabled"`
		MinAvailable   *intstr.IntOrString `json:"minAvailable"`
		MaxUnavailable *intstr.IntOrString `json:"maxUnavailable"`
	} `json:"podDisruptionBudget"`
	Affinity                  chartAffinity                     `json:"affinity"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	NodeSelector              map[string]string                 `json:"nodeSelector"`
}

func replicatedChart(parts []chartPart) func(releaseInputs) ([]*component, error) {
	return func(in releaseInputs) ([]*component, error) {
		all, err := values[map[string]json.RawMessage](in.Values)
		if err != nil {
			return nil, err
		}
		var out []*component
		for _, p := range parts {
			raw := json.RawMessage(in.Values)
			prefix := ""
			if p.key != "" {
				raw, prefix = all[p.key], p.key+"."
			}
			v, err := values[replicatedValues](raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.key, err)
			}
			n := max(1, p.replicas)
			if v.ReplicaCount != nil {
				n = *v.ReplicaCount
			}
			c := &component{
				name: in.Name + p.suffix, replicas: n, needed: 1, replicasField: prefix + "replicaCount",
				shape: podShape{namespace: in.Namespace, labels: p.labels(in.Name), field: "the chart's " + strings.TrimSuffix(prefix, ".") + " values",
					spec: corev1.PodSpec{Affinity: v.Affinity.affinity, TopologySpreadConstraints: v.TopologySpreadConstraints, NodeSelector: v.NodeSelector}},
			}
			if p.key == "" {
				c.shape.field = "the chart's top-level values"
			}
			if b := v.PodDisruptionBudget; b.Enabled {
				spec := policyv1.PodDisruptionBudgetSpec{MinAvailable: b.MinAvailable, MaxUnavailable: b.MaxUnavailable}
				if spec.MinAvailable == nil && spec.MaxUnavailable == nil {
					one := intstr.FromInt32(1)
					spec.MinAvailable = &one
				}
				allowed, err := kube.DisruptionsAllowed(spec, int32(n), int32(n))
				if err != nil {
					return nil, fmt.Errorf("%spodDisruptionBudget: %w", prefix, err)
				}
				a := int(allowed)
				c.operatorBudget, c.operatorBudgetText = &a, fmt.Sprintf("the chart's PodDisruptionBudget (%s)", budgetText(spec))
			}
			out = append(out, c)
		}
		return out, nil
	}
}
