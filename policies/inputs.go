package policies

import (
	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/load"
)

// InputError is bad input (a missing file, invalid YAML or JSON, an unknown
// format, a bad settings or waiver file): the CLI exits 2 on it, not 1.
type InputError = load.InputError

func inputErr(format string, args ...any) error { return load.Errorf(format, args...) }

// LoadManifests reads Kubernetes YAML or JSON files and directories (see
// load.Manifests).
func LoadManifests(paths ...string) (graph.Graph, error) { return load.Manifests(paths...) }

// LoadPulumiJSON reads Pulumi state, a preview or engine events (see
// load.PulumiJSON).
func LoadPulumiJSON(file string) (graph.Graph, error) { return load.PulumiJSON(file) }

// Unsecret replaces Pulumi's serialised secrets with graph.SecretValue
// (see load.Unsecret).
func Unsecret(v any) any { return load.Unsecret(v) }
