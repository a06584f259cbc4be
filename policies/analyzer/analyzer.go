// Package analyzer serves the policy gate as a Pulumi analyzer plugin, so
// `pulumi preview --policy-pack <cloudscale-policy binary>` enforces the
// same rules with the same enforcement as `cloudscale policy check`:
// resource rules on each resource before it changes, stack rules on the
// whole stack at the end.
package analyzer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudscale/platform/graph"
	"github.com/cloudscale/platform/policies"
)

// Name and Version identify the pack in Pulumi's output.
const (
	Name    = "cloudscale"
	Version = "1.0.0"
)

// Server implements pulumirpc.AnalyzerServer.
type Server struct {
	pulumirpc.UnimplementedAnalyzerServer

	engine  *policies.Engine
	waivers []policies.Waiver

	mu  sync.Mutex
	env string
}

// New prepares the engine. Waivers come from the file named by
// CLOUDSCALE_WAIVERS, when set.
func New() (*Server, error) {
	e, err := policies.New()
	if err != nil {
		return nil, err
	}
	s := &Server{engine: e, env: "prod"}
	if f := os.Getenv("CLOUDSCALE_WAIVERS"); f != "" {
		if s.waivers, err = policies.LoadWaivers(f, e); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) environment() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.env
}

// ConfigureStack reads the stack's environment, which sets enforcement.
func (s *Server) ConfigureStack(_ context.Context, req *pulumirpc.AnalyzerStackConfigureRequest) (*pulumirpc.AnalyzerStackConfigureResponse, error) {
	env := req.GetConfig()["cloudscale:environment"]
	if env == "" {
		env = "prod" // the strictest, when the stack does not say
	}
	valid := false
	for _, e := range policies.Environments {
		valid = valid || e == env
	}
	if !valid {
		return nil, fmt.Errorf("cloudscale policy pack: stack %s has environment %q; want one of %v", req.GetStack(), env, policies.Environments)
	}
	s.mu.Lock()
	s.env = env
	s.mu.Unlock()
	return &pulumirpc.AnalyzerStackConfigureResponse{}, nil
}

// Handshake accepts the engine's address; the pack needs nothing from it.
func (s *Server) Handshake(context.Context, *pulumirpc.AnalyzerHandshakeRequest) (*pulumirpc.AnalyzerHandshakeResponse, error) {
	return &pulumirpc.AnalyzerHandshakeResponse{}, nil
}

// Configure takes per-policy config; the rules have none.
func (s *Server) Configure(context.Context, *pulumirpc.ConfigureAnalyzerRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// Cancel has nothing to stop: every analysis is short.
func (s *Server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// GetPluginInfo reports the pack's version.
func (s *Server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// GetAnalyzerInfo lists every rule with its enforcement for the stack.
func (s *Server) GetAnalyzerInfo(context.Context, *emptypb.Empty) (*pulumirpc.AnalyzerInfo, error) {
	env := s.environment()
	info := &pulumirpc.AnalyzerInfo{Name: Name, DisplayName: "CloudScale policy gate", Version: Version}
	for _, r := range s.engine.Rules() {
		info.Policies = append(info.Policies, &pulumirpc.PolicyInfo{
			Name: r.ID, DisplayName: r.Title, Description: r.Description, Message: r.Fix,
			EnforcementLevel: level(r.Enforcement[env]), Severity: severity(r.Severity), RemediationSteps: r.Fix,
		})
	}
	return info, nil
}

// Analyze runs the resource rules on one resource, before it changes.
func (s *Server) Analyze(ctx context.Context, req *pulumirpc.AnalyzeRequest) (*pulumirpc.AnalyzeResponse, error) {
	g := graph.Graph{Source: "pulumi:analyze", Resources: []graph.Resource{resource(req.GetType(), req.GetName(), req.GetUrn(), "", req.GetProperties())}}
	return s.check(ctx, g, policies.ResourceRules)
}

// AnalyzeStack runs the stack rules on every resource of the stack.
func (s *Server) AnalyzeStack(ctx context.Context, req *pulumirpc.AnalyzeStackRequest) (*pulumirpc.AnalyzeResponse, error) {
	g := graph.Graph{Source: "pulumi:stack"}
	for _, r := range req.GetResources() {
		g.Resources = append(g.Resources, resource(r.GetType(), r.GetName(), r.GetUrn(), r.GetParent(), r.GetProperties()))
	}
	return s.check(ctx, g, policies.StackRules)
}

func (s *Server) check(ctx context.Context, g graph.Graph, scope policies.Scope) (*pulumirpc.AnalyzeResponse, error) {
	rep, err := s.engine.CheckScope(ctx, g, s.environment(), scope)
	if err != nil {
		return nil, err
	}
	rep.Apply(s.waivers, time.Now())
	out := &pulumirpc.AnalyzeResponse{}
	for _, f := range rep.Findings {
		if f.Waived {
			continue
		}
		out.Diagnostics = append(out.Diagnostics, &pulumirpc.AnalyzeDiagnostic{
			PolicyName: f.RuleID, PolicyPackName: Name, PolicyPackVersion: Version,
			Description: f.Title, Message: f.Message + ". Fix: " + f.Fix,
			EnforcementLevel: level(f.Enforcement), Urn: f.Resource, Severity: severity(f.Severity),
		})
	}
	return out, nil
}

func resource(typ, name, urn, parent string, props *structpb.Struct) graph.Resource {
	inputs, _ := policies.Unsecret(props.AsMap()).(map[string]any)
	if inputs == nil {
		inputs = map[string]any{}
	}
	return graph.Resource{Type: typ, Name: name, URN: urn, Parent: parent, Inputs: inputs}
}

func level(enforcement string) pulumirpc.EnforcementLevel {
	if enforcement == policies.Mandatory {
		return pulumirpc.EnforcementLevel_MANDATORY
	}
	return pulumirpc.EnforcementLevel_ADVISORY
}

func severity(s string) pulumirpc.PolicySeverity {
	switch s {
	case "critical":
		return pulumirpc.PolicySeverity_POLICY_SEVERITY_CRITICAL
	case "high":
		return pulumirpc.PolicySeverity_POLICY_SEVERITY_HIGH
	case "medium":
		return pulumirpc.PolicySeverity_POLICY_SEVERITY_MEDIUM
	}
	return pulumirpc.PolicySeverity_POLICY_SEVERITY_LOW
}
