// Package policies is CloudScale's policy gate: Rego rules (rego/, embedded)
// with their metadata, and the engine that evaluates them on a resource
// graph from any source (mocks, rendered YAML, Pulumi export or preview
// events). It imports no cloud SDK: rules read plain data.
package policies

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/graph/kube"
	"github.com/cloudscale/platform/stacks/spec"
)

//go:embed rego config.yaml
var files embed.FS

// Environments are the enforcement columns of every rule.
var Environments = []string{"dev", "staging", "prod"}

// Enforcement levels.
const (
	Mandatory = "mandatory"
	Advisory  = "advisory"
)

var (
	severities = map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}
	categories = map[string]bool{"encryption": true, "network": true, "ha": true, "security": true, "platform": true, "resilience": true, "observability": true}
)

// Rule is one rule's metadata, read from its # METADATA block.
type Rule struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Severity    string            `json:"severity"`
	Category    string            `json:"category"`
	Enforcement map[string]string `json:"enforcement"`
	Fix         string            `json:"fix"`
	// Stack rules read the whole resource set; the others one resource at a time.
	Stack bool   `json:"stack"`
	Path  string `json:"-"`
	File  string `json:"file"`
	Line  int    `json:"line"`
}

// Engine holds the compiled rules and the prepared queries. It is safe for
// concurrent use.
type Engine struct {
	rules    map[string]Rule // by Rego path, e.g. cloudscale.rules.encryption.cs_enc_001
	byID     map[string]Rule
	resource rego.PreparedEvalQuery
	stack    rego.PreparedEvalQuery
	workers  int
	// settings and where they came from (a file, or BuiltinSettings).
	settings       *Settings
	settingsSource string
}

// Option configures an Engine.
type Option func(*Engine)

// Workers sets how many goroutines evaluate resource rules (default: the
// number of CPUs).
func Workers(n int) Option { return func(e *Engine) { e.workers = max(n, 1) } }

// WithSettings gives the rules these settings instead of the built-in ones;
// source (the settings file) is named in every report.
func WithSettings(s Settings, source string) Option {
	return func(e *Engine) { e.settings, e.settingsSource = &s, source }
}

// Modules returns the embedded rule sources by file name; with tests, the
// *_test.rego files too (for the OPA tester; the engine leaves them out).
func Modules(tests bool) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(files, "rego", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".rego" {
			return err
		}
		if strings.HasSuffix(p, "_test.rego") && !tests {
			return nil
		}
		b, err := files.ReadFile(p)
		out[p] = string(b)
		return err
	})
	return out, err
}

// Data is what rules read under data.cloudscale: the node size catalogue
// and the settings (config).
func Data(settings Settings) map[string]any {
	sizes := map[string]any{}
	for cloud, list := range spec.Sizes {
		m := map[string]any{}
		for name, s := range list {
			m[name] = map[string]any{"CPU": s.CPU, "MemoryGiB": s.MemoryGiB, "NetworkGbps": s.NetworkGbps}
		}
		sizes[string(cloud)] = m
	}
	return map[string]any{"cloudscale": map[string]any{"sizes": sizes, "config": settings.data()}}
}

// Compile parses and compiles the embedded rules with their annotations.
func Compile() (*ast.Compiler, error) {
	mods, err := Modules(false)
	if err != nil {
		return nil, err
	}
	return ast.CompileModulesWithOpt(mods, ast.CompileOpts{
		ParserOptions: ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1},
	})
}

// New compiles the rules once and prepares both queries.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(e)
	}
	compiler, err := Compile()
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	if e.rules, err = readRules(compiler); err != nil {
		return nil, err
	}
	e.byID = map[string]Rule{}
	for _, r := range e.rules {
		e.byID[r.ID] = r
	}
	if e.settings == nil {
		def, err := DefaultSettings()
		if err != nil {
			return nil, err
		}
		e.settings, e.settingsSource = &def, BuiltinSettings
	}
	store := inmem.NewFromObject(Data(*e.settings))
	ctx := context.Background()
	if e.resource, err = rego.New(rego.Compiler(compiler), rego.Store(store), rego.Query("data.cloudscale.rules")).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("policies: prepare: %w", err)
	}
	if e.stack, err = rego.New(rego.Compiler(compiler), rego.Store(store), rego.Query("data.cloudscale.stackrules")).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("policies: prepare: %w", err)
	}
	return e, nil
}

// readRules collects each cs_* rule's metadata and checks it is complete.
func readRules(c *ast.Compiler) (map[string]Rule, error) {
	rules := map[string]Rule{}
	ids := map[string]string{}
	var problems []string
	for _, ref := range c.GetAnnotationSet().Flatten() {
		p := strings.TrimPrefix(ref.Path.String(), "data.")
		last := p[strings.LastIndex(p, ".")+1:]
		if !strings.HasPrefix(last, "cs_") || ref.Annotations == nil {
			continue
		}
		a := ref.Annotations
		r := Rule{Title: a.Title, Description: a.Description, Path: p, Stack: strings.HasPrefix(p, "cloudscale.stackrules."),
			Enforcement: map[string]string{}}
		if ref.Location != nil {
			r.File, r.Line = ref.Location.File, ref.Location.Row
		}
		str := func(k string) string { s, _ := a.Custom[k].(string); return s }
		r.ID, r.Severity, r.Category, r.Fix = str("id"), str("severity"), str("category"), str("fix")
		if enf, ok := a.Custom["enforcement"].(map[string]any); ok {
			for k, v := range enf {
				r.Enforcement[k], _ = v.(string)
			}
		}
		where := fmt.Sprintf("%s (%s:%d)", p, r.File, r.Line)
		switch {
		case r.ID == "" || r.Title == "" || r.Description == "" || r.Fix == "":
			problems = append(problems, where+": id, title, description and fix are required")
		case severities[r.Severity] == 0:
			problems = append(problems, fmt.Sprintf("%s: severity %q is not critical, high, medium or low", where, r.Severity))
		case !categories[r.Category]:
			problems = append(problems, fmt.Sprintf("%s: category %q is unknown", where, r.Category))
		case ids[r.ID] != "":
			problems = append(problems, fmt.Sprintf("%s: id %s is also used by %s", where, r.ID, ids[r.ID]))
		}
		for _, env := range Environments {
			if lvl := r.Enforcement[env]; lvl != Mandatory && lvl != Advisory {
				problems = append(problems, fmt.Sprintf("%s: enforcement for %s is %q, want mandatory or advisory", where, env, lvl))
			}
		}
		ids[r.ID] = p
		rules[p] = r
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("policies: bad rule metadata:\n  %s", strings.Join(problems, "\n  "))
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("policies: no rules found")
	}
	return rules, nil
}

// Rules lists the rules, sorted by id.
func (e *Engine) Rules() []Rule {
	out := make([]Rule, 0, len(e.rules))
	for _, r := range e.rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Rule returns a rule by id.
func (e *Engine) Rule(id string) (Rule, bool) {
	r, ok := e.byID[id]
	return r, ok
}

// Input is the document rules read: the resources, indexed by type token,
// by group/Kind for Kubernetes objects whatever the version, and by
// group/Kind and namespace (so joins stay within a namespace). Each
// Kubernetes resource also carries its "kind" key.
func Input(env string, rs []graph.Resource) (ast.Value, error) {
	docs, err := docTerms(rs)
	if err != nil {
		return nil, err
	}
	return inputValue(env, docs), nil
}

// doc is one resource converted to Rego once, with what the indexes need.
type doc struct {
	term          *ast.Term
	typ, kind, ns string
	// selectorKeys index objects that select pods (NetworkPolicy,
	// PodDisruptionBudget) by each "key=value" of their matchLabels, or "*"
	// when they have none, so joins look only at likely matches.
	selectorKeys []string
	// target is "<namespace>/<Kind>/<name>" of what an autoscaler scales.
	target string
}

// selectorPaths are where selecting objects keep their pod selector.
var selectorPaths = map[string][]string{
	"networking.k8s.io/NetworkPolicy": {"spec", "podSelector"},
	"policy/PodDisruptionBudget":      {"spec", "selector"},
}

func docTerms(rs []graph.Resource) ([]doc, error) {
	owners := kube.Present(rs)
	floors := kube.ReplicaFloors(rs)
	pods := podsByNamespace(rs, owners, floors)
	out := make([]doc, len(rs))
	for i, r := range rs {
		m := map[string]any{"type": r.Type, "name": r.Name, "urn": r.URN, "parent": r.Parent, "inputs": r.Inputs}
		d := doc{typ: r.Type}
		if k := KindKey(r.Type); k != "" {
			m["kind"] = k
			d.kind, d.ns = k, kube.Namespace(r.Inputs)
			if pod := podOf(k, r.Inputs); pod != nil {
				m["pod"] = pod
			}
			if owner, ok := kube.ControllerOf(r.Inputs); ok && owners[owner] {
				m["owned_by"] = owner.Kind + "/" + owner.Name
			}
			if scalableKinds[k] {
				m["replicas"] = float64(kube.Replicas(r.Inputs, floors, kube.Ref{Namespace: d.ns, Kind: kube.KindName(k), Name: kube.Name(r.Inputs)}))
			}
			if k == "policy/PodDisruptionBudget" {
				m["covers"] = budgetCovers(r, pods[d.ns])
			}
			if path, ok := selectorPaths[k]; ok {
				d.selectorKeys = selectorKeys(r.Inputs, path)
			}
			if t, _, ok := kube.AutoscalerTarget(k, r.Inputs); ok {
				d.target = t.String()
			}
		}
		v, err := ast.InterfaceToValue(m)
		if err != nil {
			return nil, fmt.Errorf("policies: resource %s: %w", r.URN, err)
		}
		d.term = ast.NewTerm(v)
		out[i] = d
	}
	return out, nil
}

// scalableKinds keep a replica count (lib.scalable_kinds in Rego).
var scalableKinds = map[string]bool{
	"apps/Deployment": true, "apps/StatefulSet": true, "apps/ReplicaSet": true, "core/ReplicationController": true,
}

// replicatedPods are a namespace's replicated workloads (not owned by
// another object in the set): their pod labels and replica floor.
type replicatedPods struct {
	labels labels.Set
	floor  float64
}

func podsByNamespace(rs []graph.Resource, owners map[kube.Ref]bool, floors map[kube.Ref]int32) map[string][]replicatedPods {
	out := map[string][]replicatedPods{}
	for _, r := range rs {
		k := kube.Kind(r.Type)
		if !scalableKinds[k] || kube.Owned(r.Inputs, owners) {
			continue
		}
		ns := kube.Namespace(r.Inputs)
		pod := podOf(k, r.Inputs)
		set := labels.Set{}
		for key, v := range pod["labels"].(map[string]any) {
			if s, ok := v.(string); ok {
				set[key] = s
			}
		}
		out[ns] = append(out[ns], replicatedPods{labels: set, floor: float64(kube.Replicas(r.Inputs, floors, kube.Ref{Namespace: ns, Kind: kube.KindName(k), Name: kube.Name(r.Inputs)}))})
	}
	return out
}

// budgetCovers is what a PodDisruptionBudget covers among the namespace's
// replicated workloads: {"workloads": how many it selects, "pods": the sum
// of their replica floors}, the n of the disruption controller's
// arithmetic (lib: CS-HA-011). Selection is the API's: in policy/v1 an
// empty selector selects every pod, in v1beta1 none; a selector that does
// not parse selects nothing.
func budgetCovers(r graph.Resource, pods []replicatedPods) map[string]any {
	spec, _ := r.Inputs["spec"].(map[string]any)
	raw, _ := json.Marshal(spec["selector"])
	var ls metav1.LabelSelector
	_ = json.Unmarshal(raw, &ls)
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || (sel.Empty() && strings.Contains(r.Type, "v1beta1")) {
		sel = labels.Nothing()
	}
	n, total := 0, 0.0
	for _, p := range pods {
		if sel.Matches(p.labels) {
			n++
			total += p.floor
		}
	}
	return map[string]any{"workloads": n, "pods": total}
}

// workloadKinds hold a pod template; podOf finds it once in Go so that
// every rule reads r.pod instead of walking kind-specific paths.
var workloadKinds = map[string][]string{
	"apps/Deployment":            {"spec", "template"},
	"apps/StatefulSet":           {"spec", "template"},
	"apps/DaemonSet":             {"spec", "template"},
	"apps/ReplicaSet":            {"spec", "template"},
	"batch/Job":                  {"spec", "template"},
	"batch/CronJob":              {"spec", "jobTemplate", "spec", "template"},
	"core/ReplicationController": {"spec", "template"},
	"core/PodTemplate":           {"template"},
	"core/Pod":                   {},
}

// podOf returns {spec, labels, containers} of a workload's pod template, or
// nil for other objects.
func podOf(kind string, obj map[string]any) map[string]any {
	path, ok := workloadKinds[kind]
	if !ok {
		return nil
	}
	tmpl := obj
	for _, p := range path {
		next, _ := tmpl[p].(map[string]any)
		tmpl = next
	}
	spec, _ := tmpl["spec"].(map[string]any)
	md, _ := tmpl["metadata"].(map[string]any)
	labels, _ := md["labels"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	if labels == nil {
		labels = map[string]any{}
	}
	var containers []any
	for _, key := range []string{"containers", "initContainers"} {
		if cs, ok := spec[key].([]any); ok {
			containers = append(containers, cs...)
		}
	}
	if containers == nil {
		containers = []any{}
	}
	return map[string]any{"spec": spec, "labels": labels, "containers": containers}
}

func selectorKeys(obj map[string]any, path []string) []string {
	cur := obj
	for _, p := range path {
		next, _ := cur[p].(map[string]any)
		cur = next
	}
	labels, _ := cur["matchLabels"].(map[string]any)
	var keys []string
	for k, v := range labels {
		if s, ok := v.(string); ok {
			keys = append(keys, k+"="+s)
		}
	}
	if len(keys) == 0 {
		keys = []string{"*"}
	}
	return keys
}

func inputValue(env string, docs []doc) ast.Value {
	list := make([]*ast.Term, len(docs))
	byType := map[string][]*ast.Term{}
	kinds := map[string][]*ast.Term{}
	byNS := map[string]map[string][]*ast.Term{}
	bySel := map[string]map[string][]*ast.Term{} // "kind\x00ns" -> key -> objects
	byTarget := map[string][]*ast.Term{}
	for i, d := range docs {
		if d.target != "" {
			byTarget[d.target] = append(byTarget[d.target], d.term)
		}
		for _, key := range d.selectorKeys {
			slot := d.kind + "\x00" + d.ns
			if bySel[slot] == nil {
				bySel[slot] = map[string][]*ast.Term{}
			}
			bySel[slot][key] = append(bySel[slot][key], d.term)
		}
		list[i] = d.term
		byType[d.typ] = append(byType[d.typ], d.term)
		if d.kind != "" {
			kinds[d.kind] = append(kinds[d.kind], d.term)
			if byNS[d.kind] == nil {
				byNS[d.kind] = map[string][]*ast.Term{}
			}
			byNS[d.kind][d.ns] = append(byNS[d.kind][d.ns], d.term)
		}
	}
	index := func(m map[string][]*ast.Term) *ast.Term {
		obj := ast.NewObject()
		for k, ts := range m {
			obj.Insert(ast.StringTerm(k), ast.ArrayTerm(ts...))
		}
		return ast.NewTerm(obj)
	}
	ns := ast.NewObject()
	for k, m := range byNS {
		ns.Insert(ast.StringTerm(k), index(m))
	}
	sel := ast.NewObject()
	for slot, m := range bySel {
		kind, space, _ := strings.Cut(slot, "\x00")
		perKind := sel.Get(ast.StringTerm(kind))
		if perKind == nil {
			perKind = ast.NewTerm(ast.NewObject())
			sel.Insert(ast.StringTerm(kind), perKind)
		}
		perKind.Value.(ast.Object).Insert(ast.StringTerm(space), index(m))
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("env"), ast.StringTerm(env)),
		ast.Item(ast.StringTerm("resources"), ast.ArrayTerm(list...)),
		ast.Item(ast.StringTerm("by_type"), index(byType)),
		ast.Item(ast.StringTerm("kinds"), index(kinds)),
		ast.Item(ast.StringTerm("by_ns"), ast.NewTerm(ns)),
		ast.Item(ast.StringTerm("by_selector"), ast.NewTerm(sel)),
		ast.Item(ast.StringTerm("by_target"), index(byTarget)),
	)
}

// KindKey maps a Kubernetes type token ("kubernetes:apps/v1:Deployment",
// "kubernetes:core/v1:Service") to "apps/Deployment"; other types to "".
func KindKey(typ string) string { return kube.Kind(typ) }

// Scope chooses which rules a check runs.
type Scope int

const (
	// ResourceRules judge one resource at a time.
	ResourceRules Scope = 1 << iota
	// StackRules judge the resource set as a whole.
	StackRules
	// AllRules is both.
	AllRules = ResourceRules | StackRules
)

// Check evaluates every rule on one resource set for an environment.
// Resource rules run over chunks in parallel; stack rules once over all.
func (e *Engine) Check(ctx context.Context, g graph.Graph, env string) (*Report, error) {
	return e.CheckScope(ctx, g, env, AllRules)
}

// CheckScope is Check limited to resource rules, stack rules or both.
func (e *Engine) CheckScope(ctx context.Context, g graph.Graph, env string, scope Scope) (*Report, error) {
	if !contains(Environments, env) {
		return nil, fmt.Errorf("environment %q: want one of %s", env, strings.Join(Environments, ", "))
	}
	start := time.Now()
	docs, err := docTerms(g.Resources)
	if err != nil {
		return nil, err
	}
	all := inputValue(env, docs)
	chunks := split(docs, e.workers)
	if scope&ResourceRules == 0 {
		chunks = nil
	}
	type result struct {
		raw map[string][]rawFinding
		err error
	}
	results := make([]result, len(chunks)+1)
	var wg sync.WaitGroup
	for i, chunk := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := all
			if len(chunks) > 1 {
				in = inputValue(env, chunk)
			}
			results[i].raw, results[i].err = eval(ctx, e.resource, in, "cloudscale.rules")
		}()
	}
	if scope&StackRules != 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[len(chunks)].raw, results[len(chunks)].err = eval(ctx, e.stack, all, "cloudscale.stackrules")
		}()
	}
	wg.Wait()

	index := map[string]graph.Resource{}
	for _, r := range g.Resources {
		index[r.URN] = r
	}
	rep := &Report{Source: g.Source, Env: env, Settings: e.settingsSource, Resources: len(g.Resources), Rules: len(e.rules), Findings: []Finding{}}
	seen := map[string]bool{}
	for _, res := range results {
		if res.err != nil {
			return nil, res.err
		}
		for path, findings := range res.raw {
			rule, ok := e.rules[path]
			if !ok {
				continue
			}
			for _, f := range findings {
				key := rule.ID + "\x00" + f.urn + "\x00" + f.msg
				if seen[key] {
					continue
				}
				seen[key] = true
				res := index[f.urn]
				rep.Findings = append(rep.Findings, Finding{
					RuleID: rule.ID, Title: rule.Title, Severity: rule.Severity, Category: rule.Category,
					Enforcement: rule.Enforcement[env], Resource: f.urn, Type: res.Type, Name: res.Name,
					Message: f.msg, Fix: rule.Fix,
				})
			}
		}
	}
	rep.sort()
	rep.Duration = time.Since(start)
	return rep, nil
}

type rawFinding struct{ urn, msg string }

// eval runs a prepared query and flattens its value to rule path ->
// findings.
func eval(ctx context.Context, q rego.PreparedEvalQuery, input ast.Value, prefix string) (map[string][]rawFinding, error) {
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("policies: evaluate: %w", err)
	}
	out := map[string][]rawFinding{}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return out, nil
	}
	walk(prefix, rs[0].Expressions[0].Value, out)
	return out, nil
}

func walk(p string, v any, out map[string][]rawFinding) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, child := range m {
		full := p + "." + k
		if list, ok := child.([]any); ok && strings.HasPrefix(k, "cs_") {
			for _, item := range list {
				f, _ := item.(map[string]any)
				urn, _ := f["urn"].(string)
				msg, _ := f["msg"].(string)
				out[full] = append(out[full], rawFinding{urn: urn, msg: msg})
			}
			continue
		}
		walk(full, child, out)
	}
}

func split(rs []doc, n int) [][]doc {
	if n < 1 {
		n = 1
	}
	size := (len(rs) + n - 1) / n
	if size == 0 {
		return [][]doc{nil}
	}
	var out [][]doc
	for i := 0; i < len(rs); i += size {
		out = append(out, rs[i:min(i+size, len(rs))])
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
