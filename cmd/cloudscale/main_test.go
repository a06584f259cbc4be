package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/stacks"
	"github.com/cloudscale/platform/stacks/mockstack"
)

// run executes the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--project-dir", "../.."}, args...))
	err := root.Execute()
	if err == nil {
		return 0, out.String()
	}
	out.WriteString("error: " + err.Error())
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, out.String()
	}
	return 1, out.String()
}

func TestPolicyCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	clean := write("clean.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: shop}\ndata: {LOG_LEVEL: info}\n")
	bad := write("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {type: NodePort}\n")
	invalid := write("invalid.yaml", "apiVersion: v1\nkind: [unclosed\n")
	noExpiry := write("waivers.yaml", "waivers:\n  - {rule: CS-NET-006, resource: '*', reason: r, owner: o}\n")
	private := write("private.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: job, namespace: shop}\nspec:\n  containers:\n  - {name: job, image: registry.acme.internal/platform/job:1.0}\n")
	settings := write("gate.yaml", "allowedRegistries: [registry.acme.internal/platform]\n")
	badSettings := write("bad-gate.yaml", "allowedRegistry: [registry.acme.internal]\n")

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"clean manifests", []string{"policy", "check", "--manifests", clean}, 0, "PASS: 1 sources"},
		{"violation", []string{"policy", "check", "--manifests", bad}, 1, "CS-NET-006"},
		{"advisory env", []string{"policy", "check", "--env", "dev", "--manifests", bad}, 1, "MANDATORY"},
		{"invalid YAML", []string{"policy", "check", "--manifests", invalid}, 2, "invalid.yaml: document 1: invalid YAML"},
		{"missing file", []string{"policy", "check", "--manifests", filepath.Join(dir, "nope.yaml")}, 2, "nope.yaml: no such file or directory"},
		{"unknown format", []string{"policy", "check", "--format", "xml", "--manifests", clean}, 2, `--format "xml": want one of table, json, sarif, junit`},
		{"waiver without expiry", []string{"policy", "check", "--waivers", noExpiry, "--manifests", bad}, 2, "missing expires"},
		{"two inputs", []string{"policy", "check", "--stack", "prod", "--manifests", clean}, 2, "give exactly one of"},
		{"unknown stack", []string{"policy", "check", "--stack", "qa"}, 2, `unknown stack "qa"`},
		{"every stack", []string{"policy", "check", "--all-stacks"}, 0, "PASS: 6 sources"},
		{"sarif to a file", []string{"policy", "check", "--stack", "prod", "--format", "sarif", "--output", filepath.Join(dir, "out.sarif")}, 0, "0 mandatory violations"},
		{"built-in settings", []string{"policy", "check", "--manifests", private}, 1, "pulls registry.acme.internal/platform/job, not from an allowed registry"},
		{"settings file", []string{"policy", "check", "--config", settings, "--manifests", private}, 1, "settings: " + settings},
		{"bad settings file", []string{"policy", "check", "--config", badSettings, "--manifests", private}, 2, `allowedRegistry: Unsupported value: unknown key (did you mean "allowedRegistries"?)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(t, tc.args...)
			assert.Equal(t, tc.code, code, out)
			assert.Contains(t, out, tc.want)
		})
	}
	// The private registry passes CS-SEC-007 under the settings file.
	_, out := run(t, "policy", "check", "--config", settings, "--manifests", private)
	assert.NotContains(t, out, "CS-SEC-007")
	sarif, err := os.ReadFile(filepath.Join(dir, "out.sarif"))
	require.NoError(t, err)
	assert.Contains(t, string(sarif), `"version": "2.1.0"`)
}

func TestValidateAndStacks(t *testing.T) {
	code, out := run(t, "stacks")
	assert.Equal(t, 0, code, out)
	for _, s := range []string{"local", "dev", "staging", "prod", "prod-azure", "prod-gcp"} {
		assert.Contains(t, out, s)
	}
	assert.Contains(t, out, "6 stacks, 6 valid")

	code, out = run(t, "validate")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "6 stack files checked: 6 valid, 0 invalid")

	bad := filepath.Join(t.TempDir(), "Pulumi.bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("config:\n  cloudscale:cloud: aws\n  cloudscale:environment: prod\n  cloudscale:region: us-east-1\n  cloudscale:replicaCount: 0\n"), 0o644))
	code, out = run(t, "validate", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "cloudscale:replicaCount: Invalid value: 0: out of range; allowed: 3 to 100")
}

func TestChaosCommands(t *testing.T) {
	dir := t.TempDir()
	pinned := filepath.Join("..", "..", "chaos", "spof", "testdata", "pinned-to-one-zone.yaml")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"every stack passes", []string{"chaos", "spof", "--all-stacks"}, 0, []string{"6 sources", "(0 where mandatory)", "mocks:prod (env prod, mandatory"}},
		{"a Deployment pinned to one zone", []string{"chaos", "spof", "--manifests", pinned}, 1,
			[]string{"SPOF     zone   apps/Deployment shop/checkout", "nodeSelector pins every replica to topology.kubernetes.io/zone=us-east-1a", "2 single points of failure where the gate is mandatory"}},
		{"advisory in dev", []string{"chaos", "spof", "--env", "dev", "--manifests", pinned}, 0, []string{"(env dev, advisory", "(0 where mandatory)"}},
		{"json", []string{"chaos", "spof", "--format", "json", "--manifests", pinned}, 1, []string{`"domain": "zone"`, `"verdict": "spof"`, `"component": "checkout"`}},
		{"junit to a file", []string{"chaos", "spof", "--stack", "prod", "--format", "junit", "--output", filepath.Join(dir, "spof.xml")}, 0, []string{"28 components"}},
		{"unknown format", []string{"chaos", "spof", "--format", "xml", "--all-stacks"}, 2, []string{`--format "xml": want one of table, json, sarif, junit`}},
		{"no zones", []string{"chaos", "spof", "--zones", "0", "--manifests", pinned}, 2, []string{"--zones/--nodes: zones 0: want 1 or more"}},
		{"two inputs", []string{"chaos", "spof", "--stack", "prod", "--manifests", pinned}, 2, []string{"give exactly one of"}},
		{"plan of prod", []string{"chaos", "plan", "--stack", "prod"}, 0,
			[]string{"zone-outage-us-east-1a", "zone-outage-us-east-1b", "zone-outage-us-east-1c", "topology.kubernetes.io/zone=us-east-1c", "targets:  istio-ingress/Deployment/ingress-gateway", "nothing was applied"}},
		{"plan as yaml", []string{"chaos", "plan", "--stack", "staging", "--format", "yaml"}, 0, []string{"kind: Schedule", "concurrencyPolicy: Forbid", "abortWithStatusCheck: true"}},
		{"plan needs a stack", []string{"chaos", "plan"}, 2, []string{"give exactly one of --stack, --all-stacks"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(t, tc.args...)
			assert.Equal(t, tc.code, code, out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
	xml, err := os.ReadFile(filepath.Join(dir, "spof.xml"))
	require.NoError(t, err)
	assert.Contains(t, string(xml), `survives one zone`)
	assert.NotContains(t, string(xml), "<failure")
}

// A copy of the prod stack with replicaCount 1: the program refuses the
// configuration before any resource (exit 2, naming the key), and a prod
// stack whose state holds one replica (a `pulumi stack export` where the
// gateway was scaled to 1) is a single point of failure (exit 1, naming
// the component and the domains).
func TestChaosGateOnAProdCopyWithOneReplica(t *testing.T) {
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte("name: cloudscale\nruntime: go\nstackConfigDir: stacks\n"), 0o644))
	require.NoError(t, os.CopyFS(filepath.Join(project, "stacks"), os.DirFS("../../stacks")))
	prod, err := os.ReadFile("../../stacks/Pulumi.prod.yaml")
	require.NoError(t, err)
	copied := strings.Replace(string(prod), "cloudscale:replicaCount: 3", "cloudscale:replicaCount: 1", 1)
	require.NotEqual(t, string(prod), copied, "the prod stack sets replicaCount")
	require.NoError(t, os.WriteFile(filepath.Join(project, "stacks", "Pulumi.prod-copy.yaml"), []byte(copied), 0o644))
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"--project-dir", project, "chaos", "spof", "--stack", "prod-copy"})
	err = root.Execute()
	var ee *exitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 2, ee.code, out.String())
	assert.Contains(t, err.Error(), "cloudscale:replicaCount: Invalid value: 1: too few for prod")

	res, err := mockstack.RunDir("../../stacks", "prod", stacks.Options{})
	require.NoError(t, err)
	var resources []map[string]any
	for _, r := range res.Graph.Resources {
		in := r.Inputs
		if r.Name == "ingress-gateway" {
			if spec, ok := in["spec"].(map[string]any); ok {
				if _, ok := spec["replicas"]; ok {
					spec["replicas"] = 1.0
				}
				if _, ok := spec["minReplicas"]; ok {
					spec["minReplicas"] = 1.0
				}
			}
		}
		resources = append(resources, map[string]any{"urn": r.URN, "type": r.Type, "parent": r.Parent, "inputs": in})
	}
	export, err := json.Marshal(map[string]any{"version": 3, "deployment": map[string]any{"resources": resources}})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "prod-export.json")
	require.NoError(t, os.WriteFile(file, export, 0o644))
	code, text := run(t, "chaos", "spof", "--pulumi-export", file, "--env", "prod")
	assert.Equal(t, 1, code, text)
	for _, d := range []string{"pod ", "node", "zone"} {
		assert.Contains(t, text, "SPOF     "+d+"   apps/Deployment istio-ingress/ingress-gateway: 0 of 1 remain, 1 needed")
	}
	assert.Contains(t, text, "where the gate is mandatory")
}
