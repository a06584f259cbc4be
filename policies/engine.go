// Package policies is CloudScale's policy gate: Rego rules (rego/, embedded)
// with their metadata, and the engine that evaluates them on a resource
// graph from any source (mocks, rendered YAML, Pulumi export or preview
// events). It imports no cloud SDK: rules read plain data.
package policies

import (
	"context"
	"embed"
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
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/graph"
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
	categories = map[string]bool{"encryption": true, "network": true, "ha": true, "security": true, "platform": true}
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
}

// Option configures an Engine.
type Option func(*Engine)

// Workers sets how many goroutines evaluate resource rules (default: the
// number of CPUs).
func Workers(n int) Option { return func(e *Engine) { e.workers = max(n, 1) } }

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
// and the settings in config.yaml.
func Data() (map[string]any, error) {
	raw, err := files.ReadFile("config.yaml")
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("policies/config.yaml: %w", err)
	}
	sizes := map[string]any{}
	for cloud, list := range spec.Sizes {
		m := map[string]any{}
		for name, s := range list {
			m[name] = map[string]any{"CPU": s.CPU, "MemoryGiB": s.MemoryGiB, "NetworkGbps": s.NetworkGbps}
		}
		sizes[string(cloud)] = m
	}
	return map[string]any{"cloudscale": map[string]any{"sizes": sizes, "config": cfg}}, nil
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
	data, err := Data()
	if err != nil {
		return nil, err
	}
	store := inmem.NewFromObject(data)
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

// Input is the document rules read: the resources, indexed by type token
// and (for Kubernetes objects) by group/Kind whatever the version.
func Input(env string, rs []graph.Resource) map[string]any {
	list := make([]any, len(rs))
	byType := map[string][]any{}
	kinds := map[string][]any{}
	for i, r := range rs {
		doc := map[string]any{"type": r.Type, "name": r.Name, "urn": r.URN, "parent": r.Parent, "inputs": r.Inputs}
		list[i] = doc
		byType[r.Type] = append(byType[r.Type], doc)
		if k := KindKey(r.Type); k != "" {
			kinds[k] = append(kinds[k], doc)
		}
	}
	bt := make(map[string]any, len(byType))
	for k, v := range byType {
		bt[k] = v
	}
	kd := make(map[string]any, len(kinds))
	for k, v := range kinds {
		kd[k] = v
	}
	return map[string]any{"env": env, "resources": list, "by_type": bt, "kinds": kd}
}

// KindKey maps a Kubernetes type token ("kubernetes:apps/v1:Deployment",
// "kubernetes:core/v1:Service") to "apps/Deployment"; other types to "".
func KindKey(typ string) string {
	if !strings.HasPrefix(typ, "kubernetes:") {
		return ""
	}
	parts := strings.Split(typ, ":")
	if len(parts) != 3 {
		return ""
	}
	group := parts[1]
	if i := strings.LastIndex(group, "/"); i >= 0 {
		group = group[:i]
	}
	return group + "/" + parts[2]
}

// Check evaluates every rule on one resource set for an environment.
// Resource rules run over chunks in parallel; stack rules once over all.
func (e *Engine) Check(ctx context.Context, g graph.Graph, env string) (*Report, error) {
	if !contains(Environments, env) {
		return nil, fmt.Errorf("environment %q: want one of %s", env, strings.Join(Environments, ", "))
	}
	start := time.Now()
	chunks := split(g.Resources, e.workers)
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
			results[i].raw, results[i].err = eval(ctx, e.resource, Input(env, chunk), "cloudscale.rules")
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		results[len(chunks)].raw, results[len(chunks)].err = eval(ctx, e.stack, Input(env, g.Resources), "cloudscale.stackrules")
	}()
	wg.Wait()

	index := map[string]graph.Resource{}
	for _, r := range g.Resources {
		index[r.URN] = r
	}
	rep := &Report{Source: g.Source, Env: env, Resources: len(g.Resources), Rules: len(e.rules)}
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
func eval(ctx context.Context, q rego.PreparedEvalQuery, input map[string]any, prefix string) (map[string][]rawFinding, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, fmt.Errorf("policies: input: %w", err)
	}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(v))
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

func split(rs []graph.Resource, n int) [][]graph.Resource {
	if n < 1 {
		n = 1
	}
	size := (len(rs) + n - 1) / n
	if size == 0 {
		return [][]graph.Resource{nil}
	}
	var out [][]graph.Resource
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
