// Package tier holds what every tier's constructor does the same way.
// Tiers depend on each other through one mechanism: a tier is created with
// pulumi.DependsOn the components it needs (the security baseline, the
// mesh), never on flattened lists of their children, and its own children
// inherit that dependency through Children.
package tier

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Children returns the options a tier registers its children with:
// parented to the tier, and depending on what the tier was given with
// pulumi.DependsOn (a component there stands for all of its children).
// Pulumi passes a parent's provider to its children but not its
// dependencies, so without this a tier's objects could be sent before the
// namespace or the kinds they need exist.
func Children(parent pulumi.Resource, opts []pulumi.ResourceOption) []pulumi.ResourceOption {
	out := []pulumi.ResourceOption{pulumi.Parent(parent)}
	if ro, err := pulumi.NewResourceOptions(opts...); err == nil && len(ro.DependsOn) > 0 {
		out = append(out, pulumi.DependsOn(ro.DependsOn))
	}
	return out
}
