// Package security is the platform's security baseline: the namespaces the
// tiers run in, held to Pod Security Admission "restricted", and the
// default-deny network policies that every workload's own policy opens up.
package security

import (
	"errors"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/components/contract"
)

// BaselineArgs name the namespaces to create.
type BaselineArgs struct {
	// Namespaces to create for workloads; the first is the platform's own.
	Namespaces []string
	// Mesh labels those namespaces for sidecar injection.
	Mesh bool
	// System are operator namespaces (mesh control plane, cert-manager,
	// Vault, External Secrets), each as its tier declares it: same PSA and
	// default-deny, no sidecars, and the access their charts' pods need.
	System []contract.OperatorNamespace
	// Annotations are set on the workload namespaces (not the operator
	// ones), e.g. the chaos tier's injection opt-in.
	Annotations map[string]string
}

// Baseline is the security baseline of one stack.
type Baseline struct {
	pulumi.ResourceState

	// Namespaces maps a namespace name to its resource, so tiers can
	// depend on it.
	Namespaces map[string]*corev1.Namespace
	// NamespaceNames are the created namespaces' names, in order.
	NamespaceNames pulumi.StringArrayOutput
}

// Validate checks the arguments; New registers nothing unless they pass.
func (a *BaselineArgs) Validate() error {
	if a == nil || len(a.Namespaces) == 0 {
		return errors.New("at least one namespace is required")
	}
	var errs []error
	seen := map[string]bool{}
	names := append([]string(nil), a.Namespaces...)
	for _, sn := range a.System {
		names = append(names, sn.Name)
	}
	for _, sn := range a.System {
		switch sn.PodSecurity {
		case "", "restricted", "baseline", "privileged":
		default:
			errs = append(errs, fmt.Errorf("namespace %s: pod security level %q is not restricted, baseline or privileged", sn.Name, sn.PodSecurity))
		}
	}
	for _, ns := range names {
		if seen[ns] {
			errs = append(errs, fmt.Errorf("namespace %s is listed twice", ns))
		}
		seen[ns] = true
	}
	return errors.Join(errs...)
}

// NewBaseline registers the namespaces and their default-deny policies.
func NewBaseline(ctx *pulumi.Context, name string, args *BaselineArgs, opts ...pulumi.ResourceOption) (*Baseline, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("security baseline %s: %w", name, err)
	}
	b := &Baseline{Namespaces: map[string]*corev1.Namespace{}}
	if err := ctx.RegisterComponentResource("cloudscale:security:Baseline", name, b, opts...); err != nil {
		return nil, err
	}
	var names pulumi.StringArray
	system := map[string]contract.OperatorNamespace{}
	all := append([]string(nil), args.Namespaces...)
	for _, sn := range args.System {
		system[sn.Name] = sn
		all = append(all, sn.Name)
	}
	for _, ns := range all {
		_, isSystem := system[ns]
		labels := pulumi.StringMap{
			"app.kubernetes.io/part-of":                  pulumi.String("cloudscale"),
			"pod-security.kubernetes.io/enforce":         pulumi.String("restricted"),
			"pod-security.kubernetes.io/enforce-version": pulumi.String("latest"),
			"pod-security.kubernetes.io/warn":            pulumi.String("restricted"),
			"pod-security.kubernetes.io/audit":           pulumi.String("restricted"),
			"kubernetes.io/metadata.name":                pulumi.String(ns),
			"cloudscale.io/default-deny":                 pulumi.String("true"),
		}
		if args.Mesh && !isSystem {
			labels["istio-injection"] = pulumi.String("enabled")
		}
		if level := system[ns].PodSecurity; level != "" {
			// warn and audit follow, or every admission of the pods that
			// need the level would warn.
			for _, mode := range []string{"enforce", "warn", "audit"} {
				labels["pod-security.kubernetes.io/"+mode] = pulumi.String(level)
			}
		}
		meta := &metav1.ObjectMetaArgs{Name: pulumi.String(ns), Labels: labels}
		if !isSystem && len(args.Annotations) > 0 {
			meta.Annotations = pulumi.ToStringMap(args.Annotations)
		}
		n, err := corev1.NewNamespace(ctx, ns, &corev1.NamespaceArgs{Metadata: meta}, pulumi.Parent(b))
		if err != nil {
			return nil, err
		}
		b.Namespaces[ns] = n
		names = append(names, n.Metadata.Name().Elem())
		if err := denyAll(ctx, b, n, ns); err != nil {
			return nil, err
		}
		if sn, ok := system[ns]; ok {
			if err := operatorAccess(ctx, b, n, sn); err != nil {
				return nil, err
			}
		}
	}
	b.NamespaceNames = names.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(b, pulumi.Map{"namespaces": b.NamespaceNames}); err != nil {
		return nil, err
	}
	return b, nil
}

// denyAll blocks all ingress and egress in ns except DNS lookups, so a
// workload talks only to the peers its own NetworkPolicy admits.
func denyAll(ctx *pulumi.Context, b *Baseline, n *corev1.Namespace, ns string) error {
	opts := []pulumi.ResourceOption{pulumi.Parent(b), pulumi.DependsOn([]pulumi.Resource{n})}
	_, err := networkingv1.NewNetworkPolicy(ctx, ns+"-default-deny", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("default-deny"), Namespace: pulumi.String(ns)},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		},
	}, opts...)
	if err != nil {
		return err
	}
	_, err = networkingv1.NewNetworkPolicy(ctx, ns+"-allow-dns", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("allow-dns"), Namespace: pulumi.String(ns)},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{&networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
						"kubernetes.io/metadata.name": pulumi.String("kube-system"),
					}},
					PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
						"k8s-app": pulumi.String("kube-dns"),
					}},
				}},
				Ports: networkingv1.NetworkPolicyPortArray{
					&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)},
					&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(53)},
				},
			}},
		},
	}, opts...)
	return err
}

// operatorAccess opens an operator namespace's served ports to any source
// (the API server calls webhooks from outside the pod network) and its
// calls to the listed ports, within the namespace on any port.
func operatorAccess(ctx *pulumi.Context, b *Baseline, n *corev1.Namespace, sn contract.OperatorNamespace) error {
	ports := func(ps []int) networkingv1.NetworkPolicyPortArray {
		var out networkingv1.NetworkPolicyPortArray
		for _, p := range ps {
			out = append(out, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
		}
		return out
	}
	sameNS := networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{}}}
	// A rule with neither peers nor ports admits everything: an empty
	// port list adds no rule.
	ingress := networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{From: sameNS}}
	if len(sn.IngressPorts) > 0 {
		ingress = append(ingress, &networkingv1.NetworkPolicyIngressRuleArgs{Ports: ports(sn.IngressPorts)})
	}
	egress := networkingv1.NetworkPolicyEgressRuleArray{&networkingv1.NetworkPolicyEgressRuleArgs{To: sameNS}}
	if len(sn.EgressPorts) > 0 {
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{Ports: ports(sn.EgressPorts)})
	}
	_, err := networkingv1.NewNetworkPolicy(ctx, sn.Name+"-operator-access", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("operator-access"), Namespace: pulumi.String(sn.Name)},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress:     ingress,
			Egress:      egress,
		},
	}, pulumi.Parent(b), pulumi.DependsOn([]pulumi.Resource{n}))
	return err
}
