# CloudScale: the two commands of the README, and the steps behind them.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: up render test tools vet unit lint crds build validate stacks policy spof plan bench-policy images

# The main job on the local default: the tools, then the local stack.
up: tools
	$(GO) run ./cmd/cloudscale up --stack local

# The same program through the real engine, rendered to YAML (no cluster).
render: tools
	$(GO) run ./cmd/cloudscale up --stack local --render rendered

# Everything CI runs: the tools the real-engine tests need, vet, every test.
test: tools vet unit

tools:
	bash scripts/tools.sh

vet:
	$(GO) vet ./...

# golangci-lint with .golangci.yml (the tool is pinned in scripts/tools.sh).
lint:
	bash scripts/tools.sh golangci-lint
	.cloudscale/bin/golangci-lint run ./...

# The local stack's CRDs, generated from the operators' Go API types.
crds:
	bash scripts/tools.sh controller-gen
	bash scripts/crds.sh

# The end-to-end tests (a simulated cluster, the stack, chaos runs) take
# minutes on two cores beside every other package: hence the timeout.
unit:
	$(GO) test -count=1 -timeout 30m ./...

build:
	$(GO) build -o bin/cloudscale ./cmd/cloudscale

validate:
	$(GO) run ./cmd/cloudscale validate

# The services' OCI images, built offline and reproducibly (no Docker):
# their digests go to services/images.json, which the stack deploys by
# digest (a test fails while it is stale), and an OCI layout to
# .cloudscale/images/ (git-ignored). Push with
# `go run ./cmd/cloudscale images build --push PREFIX` (infra.Registry.Prefix).
images:
	$(GO) run ./cmd/cloudscale images build --write-lock --output .cloudscale/images

stacks:
	$(GO) run ./cmd/cloudscale stacks

# The policy gate on every stack (what CI runs).
policy:
	$(GO) run ./cmd/cloudscale policy check --all-stacks

# The single-point-of-failure gate on every stack (what CI runs).
spof:
	$(GO) run ./cmd/cloudscale chaos spof --all-stacks

# The chaos experiments of every stack, as a dry run.
plan:
	$(GO) run ./cmd/cloudscale chaos plan --all-stacks

# Policy gate performance, recorded in docs/policy-bench.md.
bench-policy:
	bash scripts/bench-policy.sh
