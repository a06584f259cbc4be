// Package load reads the inputs every reader of a stack accepts (the
// policy gate, the failure-domain analysis, the chaos planner) into a
// graph.Graph: Kubernetes YAML or JSON manifests, and Pulumi state,
// previews and engine events. Bad input is an *InputError that names the
// file (and the document or line) and what is wrong.
package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
)

// InputError is bad input (a missing file, invalid YAML or JSON, an unknown
// format): the CLI exits 2 on it, not 1.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Errorf is an *InputError with a formatted message.
func Errorf(format string, args ...any) error { return inputErr(format, args...) }

func inputErr(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Manifests reads Kubernetes YAML or JSON from files and directories
// (recursively: *.yaml, *.yml, *.json): multi-document files, List kinds,
// and documents that are empty or only comments (skipped).
func Manifests(paths ...string) (graph.Graph, error) {
	g := graph.Graph{Source: "manifests:" + strings.Join(paths, ",")}
	if len(paths) == 0 {
		return g, inputErr("no manifest paths given")
	}
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return g, inputErr("%s: %v", p, errors.Unwrap(err))
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(f)) {
			case ".yaml", ".yml", ".json":
				if !d.IsDir() {
					files = append(files, f)
				}
			}
			return nil
		})
		if err != nil {
			return g, inputErr("%s: %v", p, err)
		}
	}
	sort.Strings(files)
	for _, f := range files {
		rs, err := manifestFile(f)
		if err != nil {
			return g, err
		}
		g.Resources = append(g.Resources, rs...)
	}
	return g, nil
}

func manifestFile(file string) ([]graph.Resource, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, inputErr("%s: %v", file, err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []graph.Resource
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, inputErr("%s: document %d: %v", file, doc, err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return nil, inputErr("%s: document %d: invalid YAML: %v", file, doc, err)
		}
		if len(obj) == 0 {
			continue // empty or only comments
		}
		items, err := listItems(obj)
		if err != nil {
			return nil, inputErr("%s: document %d: %v", file, doc, err)
		}
		for i, it := range items {
			r, err := Object(it)
			if err != nil {
				return nil, inputErr("%s: document %d: %v", file, doc, err)
			}
			r.URN = fmt.Sprintf("%s#%d", file, doc)
			if len(items) > 1 {
				r.URN += fmt.Sprintf(".%d", i)
			}
			r.URN += ":" + kube.Kind(r.Type) + ":" + r.Name
			out = append(out, r)
		}
	}
	return out, nil
}

// listItems are the objects of a List kind, or obj itself. Items of a
// typed list (PodList, DeploymentList) that leave out apiVersion and kind,
// as the API server's list responses do, take them from the list.
func listItems(obj map[string]any) ([]map[string]any, error) {
	kind, _ := obj["kind"].(string)
	if !strings.HasSuffix(kind, "List") || obj["items"] == nil {
		return []map[string]any{obj}, nil
	}
	list, ok := obj["items"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s.items is not a list", kind)
	}
	apiVersion, _ := obj["apiVersion"].(string)
	itemKind := strings.TrimSuffix(kind, "List")
	var items []map[string]any
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.items[%d] is not an object", kind, i)
		}
		if m["kind"] == nil && itemKind != "" {
			m["kind"] = itemKind
		}
		if m["apiVersion"] == nil && apiVersion != "" {
			m["apiVersion"] = apiVersion
		}
		items = append(items, m)
	}
	return items, nil
}

// Object turns a Kubernetes object into the resource shape Pulumi's
// Kubernetes provider gives: type kubernetes:<group>/<version>:<Kind>,
// name "<namespace>/<name>" (no URN).
func Object(obj map[string]any) (graph.Resource, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return graph.Resource{}, errors.New("not a Kubernetes object: apiVersion and kind are required")
	}
	gv := apiVersion
	if !strings.Contains(gv, "/") {
		gv = "core/" + gv
	}
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if ns, _ := md["namespace"].(string); ns != "" {
		name = ns + "/" + name
	}
	return graph.Resource{Type: "kubernetes:" + gv + ":" + kind, Name: name, Inputs: obj}, nil
}

// PulumiJSON reads `pulumi stack export` JSON, `pulumi preview --json`
// output, or a preview's engine-event log (JSON lines), and returns the
// resources with their inputs.
func PulumiJSON(file string) (graph.Graph, error) {
	g := graph.Graph{Source: "pulumi:" + file}
	data, err := os.ReadFile(file)
	if err != nil {
		return g, inputErr("%s: %v", file, errors.Unwrap(err))
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return g, inputErr("%s: empty file", file)
	}
	var doc map[string]any
	if json.Unmarshal(trimmed, &doc) == nil {
		switch {
		case doc["deployment"] != nil:
			return fromExport(g, file, doc)
		case doc["steps"] != nil:
			return fromPreview(g, file, doc)
		}
		if _, ok := doc["resourcePreEvent"]; !ok {
			return g, inputErr("%s: unknown format: want `pulumi stack export` JSON (a deployment key), `pulumi preview --json` (steps) or engine events (JSON lines)", file)
		}
	}
	return fromEvents(g, file, trimmed)
}

func fromExport(g graph.Graph, file string, doc map[string]any) (graph.Graph, error) {
	dep, _ := doc["deployment"].(map[string]any)
	list, ok := dep["resources"].([]any)
	if !ok && dep["resources"] != nil {
		return g, inputErr("%s: deployment.resources is not a list", file)
	}
	for i, item := range list {
		m, _ := item.(map[string]any)
		r, err := stateResource(m)
		if err != nil {
			return g, inputErr("%s: deployment.resources[%d]: %v", file, i, err)
		}
		if r.Type == "pulumi:pulumi:Stack" {
			continue
		}
		g.Resources = append(g.Resources, r)
	}
	return g, nil
}

func fromPreview(g graph.Graph, file string, doc map[string]any) (graph.Graph, error) {
	steps, ok := doc["steps"].([]any)
	if !ok {
		return g, inputErr("%s: steps is not a list", file)
	}
	for i, item := range steps {
		step, _ := item.(map[string]any)
		if op, _ := step["op"].(string); op == "delete" || op == "discard" {
			continue
		}
		state, _ := step["newState"].(map[string]any)
		if state == nil {
			continue
		}
		r, err := stateResource(state)
		if err != nil {
			return g, inputErr("%s: steps[%d].newState: %v", file, i, err)
		}
		if r.Type != "pulumi:pulumi:Stack" {
			g.Resources = append(g.Resources, r)
		}
	}
	return g, nil
}

func fromEvents(g graph.Graph, file string, data []byte) (graph.Graph, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	seen := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var ev struct {
			ResourcePreEvent *struct {
				Metadata struct {
					Op  string         `json:"op"`
					New map[string]any `json:"new"`
				} `json:"metadata"`
			} `json:"resourcePreEvent"`
		}
		if err := json.Unmarshal(text, &ev); err != nil {
			return g, inputErr("%s: line %d: invalid JSON: %v", file, line, err)
		}
		if ev.ResourcePreEvent == nil || ev.ResourcePreEvent.Metadata.New == nil || ev.ResourcePreEvent.Metadata.Op == "delete" {
			continue
		}
		r, err := stateResource(ev.ResourcePreEvent.Metadata.New)
		if err != nil {
			return g, inputErr("%s: line %d: %v", file, line, err)
		}
		if r.Type == "pulumi:pulumi:Stack" {
			continue
		}
		if i, ok := seen[r.URN]; ok {
			g.Resources[i] = r
			continue
		}
		seen[r.URN] = len(g.Resources)
		g.Resources = append(g.Resources, r)
	}
	if err := sc.Err(); err != nil {
		return g, inputErr("%s: %v", file, err)
	}
	if len(g.Resources) == 0 {
		return g, inputErr("%s: unknown format: no resourcePreEvent with inputs; want `pulumi stack export` JSON, `pulumi preview --json` or an engine event log", file)
	}
	return g, nil
}

// secretSig marks a secret in Pulumi's serialised state.
const secretSig = "4dabf18193072939515e22adb298388d"

func stateResource(m map[string]any) (graph.Resource, error) {
	typ, _ := m["type"].(string)
	urn, _ := m["urn"].(string)
	if typ == "" || urn == "" {
		return graph.Resource{}, errors.New("a resource needs type and urn")
	}
	parent, _ := m["parent"].(string)
	inputs, _ := m["inputs"].(map[string]any)
	if inputs == nil {
		inputs = map[string]any{}
	}
	name := urn[strings.LastIndex(urn, "::")+2:]
	return graph.Resource{Type: typ, Name: name, URN: urn, Parent: parent, Inputs: unsecret(inputs).(map[string]any)}, nil
}

// Unsecret replaces Pulumi's serialised secrets (in state, events and the
// analyzer protocol) with graph.SecretValue.
func Unsecret(v any) any { return unsecret(v) }

func unsecret(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t[secretSig] == "1b47061264138c4ac30d75fd1eb44270" {
			return graph.SecretValue
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = unsecret(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = unsecret(x)
		}
		return out
	}
	return v
}
