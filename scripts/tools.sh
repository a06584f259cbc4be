#!/usr/bin/env bash
# Installs the tools CloudScale runs with into a project-local bin dir
# (.cloudscale/bin, git-ignored), building each from the Go module proxy at a
# pinned version. Idempotent: a tool already there at its version is skipped.
#
#   scripts/tools.sh [TOOL...]     tools: pulumi, kubernetes-provider, kubernetes
#                                  (kube-apiserver, kube-controller-manager,
#                                  kube-scheduler, kubectl), kwok, etcd,
#                                  controller-gen, golangci-lint,
#                                  chaos-controller-manager, chromium, prometheus,
#                                  servers (PostgreSQL, PgBouncer, Redis, RabbitMQ
#                                  from Debian) (default: all)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CLOUDSCALE_BIN:-$ROOT/.cloudscale/bin}
WORK=${CLOUDSCALE_TOOLS_WORK:-$ROOT/.cloudscale/tools-src}
export GOFLAGS=-buildvcs=false

PULUMI_VERSION=v3.274.1
K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_LABEL=4.32.0   # what pulumi-kubernetes/sdk/v4 v4.32.0 asks the engine for
K8S_PROVIDER_SDK=v4.24.0
KUBERNETES_VERSION=v1.33.3
KUBERNETES_STAGING=v0.33.3
KWOK_VERSION=v0.7.0
CONTROLLER_TOOLS_VERSION=v0.23.0
GOLANGCI_LINT_VERSION=v2.15.0
# Chaos Mesh's tags are not served; this pseudo-version of the main module
# is (shared/notes/chaos-mesh-local.md), and its api submodule is the one
# go.mod pins. The chart and images of components/upstream are v2.7.3.
CHAOS_MESH_MODULE=github.com/chaos-mesh/chaos-mesh
CHAOS_MESH_PSEUDO=v0.9.1-0.20260902003049-47411975a8cb
CHAOS_MESH_API=v0.0.0-20260906172039-d70b66ad97ac
# The staging modules k8s.io/kubernetes replaces with ./staging; outside
# its tree each must point at its published version.
KUBERNETES_STAGING_MODULES="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
  cloud-provider cluster-bootstrap code-generator component-base component-helpers controller-manager
  cri-api cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
  pod-security-admission sample-apiserver sample-cli-plugin sample-controller"

mkdir -p "$BIN" "$WORK"
total_start=$(date +%s)

log() { printf '==> %s\n' "$*"; }

# version_ge A B: A >= B for vX.Y.Z strings.
version_ge() { [ "$(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -n1)" = "${2#v}" ]; }

install_pulumi() {
  local have
  if [ -x "$BIN/pulumi" ] && [ "$("$BIN/pulumi" version 2>/dev/null)" = "$PULUMI_VERSION" ]; then
    log "pulumi $PULUMI_VERSION: present in $BIN"; return
  fi
  if have=$(command -v pulumi 2>/dev/null) && [ "$have" != "$BIN/pulumi" ] && version_ge "$("$have" version 2>/dev/null || echo v0)" "$PULUMI_VERSION"; then
    log "pulumi: using $have ($("$have" version)), at least $PULUMI_VERSION"; return
  fi
  log "pulumi $PULUMI_VERSION: building from the Go module proxy (about 10 min cold)"
  local t=$(date +%s) d="$WORK/pulumi"
  rm -rf "$d" && mkdir -p "$d" && cd "$d"
  cat > go.mod <<MOD
module cloudscale.local/tools/pulumi

go 1.26.6

require github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION"
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  log "pulumi $PULUMI_VERSION: built in $(( $(date +%s) - t ))s"
}

install_k8s_provider() {
  local target="$BIN/pulumi-resource-kubernetes"
  if [ -x "$target" ] && [ -f "$target.version" ] && [ "$(cat "$target.version")" = "$K8S_PROVIDER_LABEL" ]; then
    log "pulumi-resource-kubernetes $K8S_PROVIDER_LABEL: present in $BIN"; return
  fi
  log "pulumi-resource-kubernetes $K8S_PROVIDER_LABEL: building from the Go module proxy (about 9 min cold)"
  local t=$(date +%s) d="$WORK/pulumi-kubernetes"
  go mod download -json "$K8S_PROVIDER_MODULE@$K8S_PROVIDER_PSEUDO" > "$WORK/k8s-provider.json"
  local src
  src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' "$WORK/k8s-provider.json")
  rm -rf "$d" && cp -r "$src" "$d" && chmod -R u+w "$d"
  # The module zip lacks the generated embeds; make them from the schema it ships.
  (cd "$d/cmd/pulumi-resource-kubernetes" &&
    jq -c ".version=\"$K8S_PROVIDER_LABEL\"" schema.json > schema-embed.json &&
    jq -c . terraform-mapping.json > terraform-mapping-embed.json)
  (cd "$d" &&
    go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 &&
    go get "github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_PROVIDER_SDK" &&
    go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_LABEL" \
      -o "$target" ./cmd/pulumi-resource-kubernetes)
  echo "$K8S_PROVIDER_LABEL" > "$target.version"
  log "pulumi-resource-kubernetes $K8S_PROVIDER_LABEL: built in $(( $(date +%s) - t ))s"
}

install_kubernetes() {
  local missing=() c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    if [ -x "$BIN/$c" ] && [ -f "$BIN/$c.version" ] && [ "$(cat "$BIN/$c.version")" = "$KUBERNETES_VERSION" ]; then
      log "$c $KUBERNETES_VERSION: present in $BIN"
    else
      missing+=("$c")
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  local d="$WORK/kubernetes" t
  mkdir -p "$d" && cd "$d"
  if [ ! -f go.mod ]; then
    printf 'module cloudscale.local/tools/kubernetes\n\ngo 1.26.6\n\nrequire k8s.io/kubernetes %s\n' "$KUBERNETES_VERSION" > go.mod
    for m in $KUBERNETES_STAGING_MODULES; do
      go mod edit -replace "k8s.io/$m=k8s.io/$m@$KUBERNETES_STAGING"
    done
  fi
  local ver=${KUBERNETES_VERSION#v}
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=${ver%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$ver" | cut -d. -f2)"
  for c in "${missing[@]}"; do
    log "$c $KUBERNETES_VERSION: building from the Go module proxy (kube-apiserver about 4 min, the others about 1 min)"
    t=$(date +%s)
    go get "k8s.io/kubernetes/cmd/$c@$KUBERNETES_VERSION"
    go build -trimpath -ldflags "$ldflags" -o "$BIN/$c" "k8s.io/kubernetes/cmd/$c"
    echo "$KUBERNETES_VERSION" > "$BIN/$c.version"
    log "$c $KUBERNETES_VERSION: built in $(( $(date +%s) - t ))s"
  done
}

# go_install_tool NAME MODULE/PATH VERSION: go install a tool at a pinned
# version, recorded beside it so a later run skips it.
go_install_tool() {
  local name=$1 pkg=$2 version=$3
  if [ -x "$BIN/$name" ] && [ -f "$BIN/$name.version" ] && [ "$(cat "$BIN/$name.version")" = "$version" ]; then
    log "$name $version: present in $BIN"; return
  fi
  log "$name $version: building from the Go module proxy"
  local t=$(date +%s)
  GOBIN="$BIN" go install "$pkg@$version"
  echo "$version" > "$BIN/$name.version"
  log "$name $version: built in $(( $(date +%s) - t ))s"
}

install_etcd() {
  if command -v etcd >/dev/null; then
    log "etcd: present ($(etcd --version 2>/dev/null | head -n1))"
  else
    log "etcd: installing Debian's etcd-server"
    apt_install etcd-server
  fi
  ln -sf "$(command -v etcd)" "$BIN/etcd"
}

# install_chaos_controller builds the genuine chaos-controller-manager,
# which `cloudscale cluster start --chaos-mesh` runs beside the simulated
# control plane. The module zip leaves out ./api, which its go.mod replaces
# into place, so the api module is copied there (about 6.5 min cold).
install_chaos_controller() {
  local target="$BIN/chaos-controller-manager"
  if [ -x "$target" ] && [ -f "$target.version" ] && [ "$(cat "$target.version")" = "$CHAOS_MESH_PSEUDO" ]; then
    log "chaos-controller-manager $CHAOS_MESH_PSEUDO: present in $BIN"; return
  fi
  log "chaos-controller-manager $CHAOS_MESH_PSEUDO: building from the Go module proxy (about 6.5 min cold)"
  local t=$(date +%s) d="$WORK/chaos-mesh" src api
  src=$(go mod download -json "$CHAOS_MESH_MODULE@$CHAOS_MESH_PSEUDO" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  api=$(go mod download -json "$CHAOS_MESH_MODULE/api@$CHAOS_MESH_API" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -n "$src" ] && [ -n "$api" ] || { echo "tools.sh: chaos-mesh modules not downloaded" >&2; exit 1; }
  rm -rf "$d" && cp -r "$src" "$d" && chmod -R u+w "$d"
  rm -rf "$d/api" && cp -r "$api" "$d/api" && chmod -R u+w "$d/api"
  (cd "$d" && go build -trimpath -ldflags "-s -w" -o "$target" ./cmd/chaos-controller-manager)
  echo "$CHAOS_MESH_PSEUDO" > "$target.version"
  rm -rf "$d"
  log "chaos-controller-manager $CHAOS_MESH_PSEUDO: built in $(( $(date +%s) - t ))s"
}

apt_install() {
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; fi
}

# chromium (Debian's) renders the chaos report's HTML page in a test
# (chaos/report), headless, to check the picture a reader sees.
install_chromium() {
  if command -v chromium >/dev/null; then
    log "chromium: present ($(chromium --version 2>/dev/null | head -n1))"; return
  fi
  log "chromium: installing Debian's chromium"
  apt_install chromium
}

# prometheus (promtool, and the server a test runs on 127.0.0.1) and
# prometheus-alertmanager (amtool), Debian's: the monitoring tier's rules
# and Alertmanager configuration are checked and unit-tested with them.
install_prometheus() {
  if command -v promtool >/dev/null && command -v amtool >/dev/null && command -v prometheus >/dev/null; then
    log "prometheus: present ($(promtool --version 2>&1 | head -n1))"; return
  fi
  log "prometheus: installing Debian's prometheus and prometheus-alertmanager"
  apt_install prometheus prometheus-alertmanager
  # The packages start their services where an init system runs; the
  # tests start their own servers on 127.0.0.1.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null 2>&1 || true
  fi
}

# The real servers the services' integration and failure tests start on
# 127.0.0.1 (services/testserver), Debian's: PostgreSQL 15 and PgBouncer,
# Redis 7.0 with Sentinel, RabbitMQ 3.10 (Erlang 25).
install_servers() {
  if [ -x /usr/lib/postgresql/15/bin/postgres ] && command -v pgbouncer >/dev/null && command -v redis-server >/dev/null &&
    command -v redis-sentinel >/dev/null && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    log "servers: present (postgresql 15, $(pgbouncer --version 2>/dev/null | head -n1), $(redis-server --version | cut -d' ' -f1-3), rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null))"; return
  fi
  log "servers: installing Debian's postgresql, pgbouncer, redis-server, redis-sentinel and rabbitmq-server"
  # Their postinst scripts start the services; with no init system that is
  # refused, harmlessly.
  apt_install postgresql pgbouncer redis-server redis-sentinel rabbitmq-server
  # Where systemd runs, the started services would hold the default ports;
  # the tests start their own servers on 127.0.0.1.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now postgresql pgbouncer redis-server redis-sentinel rabbitmq-server >/dev/null 2>&1 || true
  fi
}

need_jq() {
  command -v jq >/dev/null && return
  log "jq: installing from Debian"
  apt_install jq
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(pulumi kubernetes-provider kubernetes kwok etcd controller-gen golangci-lint chaos-controller-manager chromium prometheus servers)
for t in "${tools[@]}"; do
  case "$t" in
    pulumi) install_pulumi ;;
    kubernetes-provider) need_jq; install_k8s_provider ;;
    kubernetes) install_kubernetes ;;
    kwok) go_install_tool kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" ;;
    etcd) install_etcd ;;
    # CRDs from the operators' Go API types (scripts/crds.sh).
    controller-gen) go_install_tool controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen "$CONTROLLER_TOOLS_VERSION" ;;
    # `make lint` (.golangci.yml).
    golangci-lint) go_install_tool golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION" ;;
    # `cloudscale cluster start --chaos-mesh` and `cloudscale chaos run`.
    chaos-controller-manager) install_chaos_controller ;;
    chromium) install_chromium ;;
    prometheus) install_prometheus ;;
    # The real servers of the services' tests (services/testserver).
    servers) install_servers ;;
    *) echo "tools.sh: unknown tool $t (known: pulumi, kubernetes-provider, kubernetes, kwok, etcd, controller-gen, golangci-lint, chaos-controller-manager, chromium, prometheus, servers)" >&2; exit 2 ;;
  esac
done
log "tools ready in $BIN ($(( $(date +%s) - total_start ))s)"
