# CloudScale: the two commands of the README, and the steps behind them.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: up test vet build validate stacks

# The main job on the local default: deploy the local stack.
up:
	$(GO) run ./cmd/cloudscale up --stack local

# Everything CI runs: vet, then every test.
test: vet
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/cloudscale ./cmd/cloudscale

validate:
	$(GO) run ./cmd/cloudscale validate

stacks:
	$(GO) run ./cmd/cloudscale stacks
