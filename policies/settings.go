package policies

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cloudscale/platform/strict"
)

// BuiltinSettings names the settings compiled into the gate
// (policies/config.yaml) in reports.
const BuiltinSettings = "policies/config.yaml (built in)"

// Settings are the data the rules read as data.cloudscale.config. The
// built-in ones (policies/config.yaml) fit the platform's own stacks; a
// settings file (`cloudscale policy check --config FILE`) adapts the gate to
// manifests that are not the platform's: each key it sets replaces the
// built-in value, keys it leaves out keep it.
type Settings struct {
	// AllowedRegistries are the image name prefixes CS-SEC-007 accepts: a
	// registry ("registry.k8s.io") or a registry and a path
	// ("docker.io/library"), read the way the container runtime reads
	// image names (Docker Hub short names are docker.io/library/<name>).
	AllowedRegistries []string `json:"allowedRegistries"`
	// MeshRootNamespace is Istio's root namespace (meshConfig.rootNamespace,
	// default istio-system), where the mesh-wide PeerAuthentication lives
	// (CS-ENC-012).
	MeshRootNamespace string `json:"meshRootNamespace"`
	// ProtectedNamespaces are the namespaces no chaos experiment may
	// select (CS-CHAOS-001): Kubernetes' own and the operators'.
	ProtectedNamespaces []string `json:"protectedNamespaces"`
}

// DefaultSettings are the built-in settings (policies/config.yaml).
func DefaultSettings() (Settings, error) {
	raw, err := files.ReadFile("config.yaml")
	if err != nil {
		return Settings{}, err
	}
	var s Settings
	if errs := append(strict.DecodeYAML(raw, &s, nil), s.Validate(nil)...); len(errs) > 0 {
		return Settings{}, fmt.Errorf("policies/config.yaml: %v", errs.ToAggregate())
	}
	return s, nil
}

// LoadSettings reads a settings file (YAML or JSON) over the built-in
// settings. Unknown keys, values of the wrong type and invalid values are
// refused together, each with its key; the error is an *InputError.
func LoadSettings(file string) (Settings, error) {
	s, err := DefaultSettings()
	if err != nil {
		return s, err
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return s, inputErr("settings %s: %v", file, err)
	}
	errs := strict.DecodeYAML(raw, &s, nil)
	errs = append(errs, s.Validate(nil)...)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return s, inputErr("settings %s:\n  %s", file, strings.Join(msgs, "\n  "))
	}
	return s, nil
}

// Validate checks each setting: registries are non-empty prefixes without
// a scheme, tag or digest; the root namespace is a DNS-1123 label.
func (s Settings) Validate(root *field.Path) field.ErrorList {
	var errs field.ErrorList
	p := root.Child("allowedRegistries")
	if len(s.AllowedRegistries) == 0 {
		errs = append(errs, field.Required(p, "list at least one registry prefix (e.g. registry.k8s.io, docker.io/library)"))
	}
	for i, r := range s.AllowedRegistries {
		switch {
		case strings.TrimSpace(r) == "":
			errs = append(errs, field.Invalid(p.Index(i), r, "must not be empty"))
		case strings.Contains(r, "://"):
			errs = append(errs, field.Invalid(p.Index(i), r, "a registry prefix has no scheme (write ghcr.io/acme, not https://ghcr.io/acme)"))
		case strings.ContainsAny(r, "@ ") || strings.Contains(r[strings.LastIndex(r, "/")+1:], ":") && strings.Contains(r, "/"):
			errs = append(errs, field.Invalid(p.Index(i), r, "a registry prefix has no tag or digest"))
		}
	}
	if s.MeshRootNamespace != "" {
		for _, msg := range validation.IsDNS1123Label(s.MeshRootNamespace) {
			errs = append(errs, field.Invalid(root.Child("meshRootNamespace"), s.MeshRootNamespace, msg))
		}
	}
	for i, ns := range s.ProtectedNamespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(root.Child("protectedNamespaces").Index(i), ns, msg))
		}
	}
	return errs
}

// data is the document rules read under data.cloudscale.config.
func (s Settings) data() map[string]any {
	regs := make([]any, len(s.AllowedRegistries))
	for i, r := range s.AllowedRegistries {
		regs[i] = r
	}
	ns := s.MeshRootNamespace
	if ns == "" {
		ns = "istio-system"
	}
	protected := make([]any, len(s.ProtectedNamespaces))
	for i, p := range s.ProtectedNamespaces {
		protected[i] = p
	}
	return map[string]any{"allowedRegistries": regs, "meshRootNamespace": ns, "protectedNamespaces": protected}
}
