#!/usr/bin/env bash
# Measures the policy gate and records the numbers in docs/policy-bench.md:
#  1. the Go benchmarks (rule set on 10,000 generated objects, one core; every
#     stack end to end);
#  2. `cloudscale policy bench`: the same 10,000 objects as YAML files, parsed
#     and checked, side by side with conftest v0.56.0 running the same Rego.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export GOFLAGS=-buildvcs=false
BIN=$ROOT/.cloudscale/bin
CONFTEST_VERSION=v0.56.0
out=docs/policy-bench.md
mkdir -p "$BIN" docs

if [ ! -x "$BIN/conftest" ]; then
  echo "==> conftest $CONFTEST_VERSION: building from the Go module proxy"
  GOBIN=$BIN go install "github.com/open-policy-agent/conftest@$CONFTEST_VERSION"
fi

echo "==> go benchmarks"
bench=$(go test -run '^$' -bench 'RuleSet10k' -benchtime 5x ./policies; go test -run '^$' -bench 'PolicyGateAllStacks' -benchtime 10x ./stacks)
echo "$bench"
echo "==> side by side with conftest"
side=$(go run ./cmd/cloudscale policy bench --count 10000 --runs 3 --conftest "$BIN/conftest")
echo "$side"

{
  echo "# Policy gate performance"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(go version | awk '{print $3}'), by \`make bench-policy\`."
  echo
  echo "## Go benchmarks"
  echo
  echo '```'
  echo "$bench" | grep -E '^(Benchmark|goos|cpu|pkg)'
  echo '```'
  echo
  echo "## 10,000 generated Kubernetes objects, side by side with conftest $CONFTEST_VERSION"
  echo
  echo "$side"
  cat <<'NOTES'

## Reading the numbers

- `BenchmarkRuleSet10k` is evaluation alone (the graph already in memory) on one worker;
  `cloudscale policy engine` in the table adds reading and parsing the 100 YAML files. Both run every
  rule, stack rules included, once over all 10,000 objects.
- The issue's target of 50 µs per object on one core is **not met**: evaluation alone costs about
  more than twice that. Most of it is the nine container-security rules walking every container of 3,750
  workloads, and the Rego-to-Go conversion of the input. What brought it from 1,180 µs to this:
  converting each object to Rego once, indexing by namespace and by selector label so the
  NetworkPolicy and PodDisruptionBudget joins stop being quadratic, and computing pod facts in Go.
- The stack target (every rule on every stack, end to end, under 1 s) is met by a wide margin:
  `BenchmarkPolicyGateAllStacks` runs all six programs under mocks and checks them.
- conftest reads the same files and runs the same rule modules through a wrapper
  (`policies.ConftestWrapper`) that gives each document the engine's input shape. conftest evaluates
  one document at a time, so the cross-object rules (a workload's own NetworkPolicy, its
  PodDisruptionBudget) cannot see the other documents there and fire on every workload: that is
  the difference in the finding counts, and it makes conftest's run slightly less work, not more.

## The real-world semantics (2026-12-01): no more than 10 % slower

`BenchmarkRuleSet10k`, 4 runs each, interleaved on the same quiet machine, the first (warm-up) run
dropped: before (17be462) 104.7, 105.5, 107.6 µs/object; after 103.4, 111.0, 111.0 µs/object: about
5 % slower at the median, for 4 more rules' worth of reading (autoscaler floors, disruption arithmetic,
isolation per direction, inheritance, value-based secret checks, image normalisation). The first draft
was 15 times slower: CS-HA-011 joined every budget with every workload in Rego (1,250 × 3,750 selector
matches). The engine now computes what a budget covers in Go, one namespace at a time, with
apimachinery's label selectors (`policies.budgetCovers`), and the rules look each workload's policies and
budgets up once, check image names against the normalised prefixes computed once per run, and try cheap
string tests before regular expressions.
NOTES
} > "$out"
echo "==> wrote $out"
