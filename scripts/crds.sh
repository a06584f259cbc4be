#!/usr/bin/env bash
# Generates the CustomResourceDefinitions the local stack installs for the
# upstream kinds whose Go API types carry kubebuilder markers, with
# controller-gen (built by `make tools`) from the operators' own API
# packages at the versions the platform installs. Only the kinds the
# platform writes are kept (upstream.Kind with Generated: true).
#
# The packages are loaded in a module of their own (.cloudscale/crdgen):
# External Secrets' API package does not build with the project's
# controller-runtime (see components/security/externalsecrets), but
# controller-gen reads it fine with the dependencies it was released with.
#
#   scripts/crds.sh [OUT_DIR]     default: components/upstream/crds
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CLOUDSCALE_BIN:-$ROOT/.cloudscale/bin}
OUT=${1:-$ROOT/components/upstream/crds}
GEN=${CLOUDSCALE_CRDGEN:-$ROOT/.cloudscale/crdgen}
export GOFLAGS=-buildvcs=false

# cert-manager: the version go.mod pins (the tiers build their objects
# from it; it is the chart's version). External Secrets: the chart's
# version (upstream.ExternalSecrets).
CERT_MANAGER_VERSION=$(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/cert-manager/cert-manager)
EXTERNAL_SECRETS_VERSION=v0.19.2
PACKAGES=(
  github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1
  github.com/external-secrets/external-secrets/apis/externalsecrets/v1
)
# The <group>_<plural> files of the kinds the platform writes.
KEEP=(
  cert-manager.io_certificates cert-manager.io_clusterissuers cert-manager.io_issuers
  external-secrets.io_clustersecretstores external-secrets.io_externalsecrets
)
# Chaos Mesh: every kind its controller serves (the local stack installs
# them all, so chaos-controller-manager can run against the simulated
# cluster), from the api module go.mod pins. Without descriptions: a
# Workflow or Schedule embeds every fault's spec, and with them the
# definitions weigh 3 MB instead of 1.3 MB.
CHAOS_MESH_API_VERSION=$(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/chaos-mesh/chaos-mesh/api)
CHAOS_MESH_PACKAGE=github.com/chaos-mesh/chaos-mesh/api/v1alpha1
CHAOS_MESH_KEEP=(
  awschaos azurechaos blockchaos dnschaos gcpchaos httpchaos iochaos jvmchaos kernelchaos networkchaos
  physicalmachinechaos physicalmachines podchaos podhttpchaos podiochaos podnetworkchaos remoteclusters
  schedules statuschecks stresschaos timechaos workflownodes workflows
)

[ -x "$BIN/controller-gen" ] || { echo "crds.sh: $BIN/controller-gen is missing: run \`make tools\`" >&2; exit 2; }
mkdir -p "$GEN"
want="cert-manager $CERT_MANAGER_VERSION external-secrets $EXTERNAL_SECRETS_VERSION"
if [ ! -f "$GEN/versions" ] || [ "$(cat "$GEN/versions")" != "$want" ]; then
  rm -f "$GEN"/go.mod "$GEN"/go.sum
  printf 'module cloudscale.local/crdgen\n\ngo 1.26.6\n' > "$GEN/go.mod"
  { echo "package crdgen"; echo; echo "import ("; for p in "${PACKAGES[@]}"; do echo "	_ \"$p\""; done; echo ")"; } > "$GEN/crdgen.go"
  (cd "$GEN" && go get "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
      "github.com/external-secrets/external-secrets@$EXTERNAL_SECRETS_VERSION" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1) ||
    { echo "crds.sh: cannot resolve the API modules in $GEN" >&2; exit 1; }
  echo "$want" > "$GEN/versions"
fi
# Chaos Mesh in a module of its own, so its newer k8s.io/api does not
# change the other definitions' descriptions.
GEN_CM=$GEN-chaos-mesh
mkdir -p "$GEN_CM"
if [ ! -f "$GEN_CM/versions" ] || [ "$(cat "$GEN_CM/versions")" != "$CHAOS_MESH_API_VERSION" ]; then
  rm -f "$GEN_CM"/go.mod "$GEN_CM"/go.sum
  printf 'module cloudscale.local/crdgen\n\ngo 1.26.6\n' > "$GEN_CM/go.mod"
  printf 'package crdgen\n\nimport _ "%s"\n' "$CHAOS_MESH_PACKAGE" > "$GEN_CM/crdgen.go"
  (cd "$GEN_CM" && go get "github.com/chaos-mesh/chaos-mesh/api@$CHAOS_MESH_API_VERSION" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1) ||
    { echo "crds.sh: cannot resolve the Chaos Mesh API module in $GEN_CM" >&2; exit 1; }
  echo "$CHAOS_MESH_API_VERSION" > "$GEN_CM/versions"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
paths=()
for p in "${PACKAGES[@]}"; do paths+=("paths=$p"); done
(cd "$GEN" && "$BIN/controller-gen" crd:crdVersions=v1 "${paths[@]}" output:crd:dir="$tmp")
(cd "$GEN_CM" && "$BIN/controller-gen" crd:crdVersions=v1,maxDescLen=0 paths="$CHAOS_MESH_PACKAGE" output:crd:dir="$tmp")
for k in "${CHAOS_MESH_KEEP[@]}"; do KEEP+=("chaos-mesh.org_$k"); done
mkdir -p "$OUT"
rm -f "$OUT"/*.yaml
for k in "${KEEP[@]}"; do
  [ -f "$tmp/$k.yaml" ] || { echo "crds.sh: controller-gen wrote no $k.yaml" >&2; exit 1; }
  cp "$tmp/$k.yaml" "$OUT/"
done
echo "crds.sh: ${#KEEP[@]} definitions in $OUT ($want chaos-mesh-api $CHAOS_MESH_API_VERSION)"
