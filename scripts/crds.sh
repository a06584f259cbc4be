#!/usr/bin/env bash
# Generates the CustomResourceDefinitions the local stack installs for the
# upstream kinds whose Go API types carry kubebuilder markers, with
# controller-gen (built by `make tools`) from the operators' own API
# packages at the versions the platform installs. Only the kinds the
# platform writes are kept (upstream.Kind with Generated: true).
#
# The packages are loaded in modules of their own (.cloudscale/crdgen*),
# each with the dependencies its operators were released with: External
# Secrets' API package does not build with the project's
# controller-runtime (see components/security/externalsecrets), but
# controller-gen reads it fine there; and one module's newer k8s.io/api
# does not change another's descriptions.
#
#   scripts/crds.sh [OUT_DIR]     default: components/upstream/crds
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CLOUDSCALE_BIN:-$ROOT/.cloudscale/bin}
OUT=${1:-$ROOT/components/upstream/crds}
GEN=${CLOUDSCALE_CRDGEN:-$ROOT/.cloudscale/crdgen}
export GOFLAGS=-buildvcs=false

# gomod MODULE is the version of MODULE that go.mod pins.
gomod() { (cd "$ROOT" && go list -m -f '{{.Version}}' "$1"); }

# cert-manager: the version go.mod pins (the tiers build their objects
# from it; it is the chart's version). External Secrets: the chart's
# version (upstream.ExternalSecrets): ClusterSecretStore and
# ExternalSecret (v1), PushSecret (v1alpha1) and the Password generator.
CERT_MANAGER_VERSION=$(gomod github.com/cert-manager/cert-manager)
EXTERNAL_SECRETS_VERSION=v0.19.2
PACKAGES=(
  github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1
  github.com/external-secrets/external-secrets/apis/externalsecrets/v1
  github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1
  github.com/external-secrets/external-secrets/apis/generators/v1alpha1
)
# The <group>_<plural> files of the kinds the platform writes.
KEEP=(
  cert-manager.io_certificates cert-manager.io_clusterissuers cert-manager.io_issuers
  external-secrets.io_clustersecretstores external-secrets.io_externalsecrets external-secrets.io_pushsecrets
  generators.external-secrets.io_passwords
)
# Chaos Mesh: every kind its controller serves (the local stack installs
# them all, so chaos-controller-manager can run against the simulated
# cluster), from the api module go.mod pins. Without descriptions: a
# Workflow or Schedule embeds every fault's spec, and with them the
# definitions weigh 3 MB instead of 1.3 MB.
CHAOS_MESH_API_VERSION=$(gomod github.com/chaos-mesh/chaos-mesh/api)
CHAOS_MESH_PACKAGE=github.com/chaos-mesh/chaos-mesh/api/v1alpha1
CHAOS_MESH_KEEP=(
  awschaos azurechaos blockchaos dnschaos gcpchaos httpchaos iochaos jvmchaos kernelchaos networkchaos
  physicalmachinechaos physicalmachines podchaos podhttpchaos podiochaos podnetworkchaos remoteclusters
  schedules statuschecks stresschaos timechaos workflownodes workflows
)
# The data tier's operators, at the versions go.mod pins (the charts
# upstream.CloudNativePG, upstream.BarmanCloud and
# upstream.PrometheusOperatorCRDs ship the same): CloudNativePG's
# Cluster, Pooler and ScheduledBackup, the Barman Cloud plugin's
# ObjectStore, and the PodMonitor, ServiceMonitor and PrometheusRule
# their clusters are watched with. CloudNativePG's API imports the
# prometheus-operator's, so they share a module. CloudNativePG and
# prometheus-operator without descriptions: a Pooler embeds a pod
# template and a Cluster most of a pod's spec, and the six definitions
# weigh 1.3 MB with descriptions, 0.4 MB without. The ObjectStore keeps
# its descriptions (37 kB).
CNPG_VERSION=$(gomod github.com/cloudnative-pg/cloudnative-pg)
BARMAN_CLOUD_VERSION=$(gomod github.com/cloudnative-pg/plugin-barman-cloud)
PROMETHEUS_OPERATOR_VERSION=$(gomod github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring)
CNPG_PACKAGES=(
  github.com/cloudnative-pg/cloudnative-pg/api/v1
  github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1
)
BARMAN_CLOUD_PACKAGE=github.com/cloudnative-pg/plugin-barman-cloud/api/v1
CNPG_KEEP=(
  postgresql.cnpg.io_clusters postgresql.cnpg.io_poolers postgresql.cnpg.io_scheduledbackups
  barmancloud.cnpg.io_objectstores
  monitoring.coreos.com_podmonitors monitoring.coreos.com_servicemonitors monitoring.coreos.com_prometheusrules
  monitoring.coreos.com_prometheuses monitoring.coreos.com_alertmanagers
)

# The document store's and the message queue's operators, at the versions
# go.mod pins (upstream.PerconaMongoDB, RabbitMQClusterOperator and
# RabbitMQTopologyOperator install the same): the PerconaServerMongoDB,
# the RabbitmqCluster, and the topology operator's Queue, Exchange,
# Binding, Policy, User, Permission and Federation. Without descriptions:
# a PerconaServerMongoDB embeds a pod's affinity, probes and volumes per
# replica set and weighs 1.3 MB with them. Percona's types hold floats
# (backup and PITR compression settings): allowDangerousTypes, as
# Percona's own Makefile generates them.
PSMDB_VERSION=$(gomod github.com/percona/percona-server-mongodb-operator)
RABBITMQ_VERSION=$(gomod github.com/rabbitmq/cluster-operator/v2)
TOPOLOGY_VERSION=$(gomod github.com/rabbitmq/messaging-topology-operator)
MQ_PACKAGES=(
  github.com/percona/percona-server-mongodb-operator/pkg/apis/psmdb/v1
  github.com/rabbitmq/cluster-operator/v2/api/v1beta1
  github.com/rabbitmq/messaging-topology-operator/api/v1beta1
)
MQ_KEEP=(
  psmdb.percona.com_perconaservermongodbs rabbitmq.com_rabbitmqclusters
  rabbitmq.com_queues rabbitmq.com_exchanges rabbitmq.com_bindings rabbitmq.com_policies
  rabbitmq.com_users rabbitmq.com_permissions rabbitmq.com_federations
)

# The monitoring tier's logs and traces, at the versions go.mod pins
# (upstream.ECKOperator and OpenTelemetryOperator install the same): ECK's
# Elasticsearch and Kibana, the OpenTelemetry operator's collector.
# Without descriptions: each embeds a pod template. With the embedded
# objects' metadata, as both projects generate theirs: ECK finds a
# nodeSet's data volume by its claim template's name (elasticsearch-data),
# which the API server would otherwise prune.
ECK_VERSION=$(gomod github.com/elastic/cloud-on-k8s/v3)
OTEL_VERSION=$(gomod github.com/open-telemetry/opentelemetry-operator/apis)
OBS_PACKAGES=(
  github.com/elastic/cloud-on-k8s/v3/pkg/apis/elasticsearch/v1
  github.com/elastic/cloud-on-k8s/v3/pkg/apis/kibana/v1
  github.com/open-telemetry/opentelemetry-operator/apis/v1beta1
)
OBS_KEEP=(
  elasticsearch.k8s.elastic.co_elasticsearches kibana.k8s.elastic.co_kibanas opentelemetry.io_opentelemetrycollectors
)

[ -x "$BIN/controller-gen" ] || { echo "crds.sh: $BIN/controller-gen is missing: run \`make tools\`" >&2; exit 2; }

# module DIR WANT PACKAGE... -- MODULE@VERSION... makes DIR a module that
# imports the packages at the modules' versions, unless it already is one
# for WANT.
module() {
  local dir=$1 want=$2 pkgs=() mods=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do pkgs+=("$1"); shift; done
  shift
  mods=("$@")
  mkdir -p "$dir"
  if [ -f "$dir/versions" ] && [ "$(cat "$dir/versions")" = "$want" ]; then
    return
  fi
  rm -f "$dir"/go.mod "$dir"/go.sum
  printf 'module cloudscale.local/crdgen\n\ngo 1.26.6\n' > "$dir/go.mod"
  { echo "package crdgen"; echo; echo "import ("; for p in "${pkgs[@]}"; do echo "	_ \"$p\""; done; echo ")"; } > "$dir/crdgen.go"
  (cd "$dir" && go get "${mods[@]}" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1) ||
    { echo "crds.sh: cannot resolve the API modules in $dir (${mods[*]})" >&2; exit 1; }
  echo "$want" > "$dir/versions"
}

want="cert-manager $CERT_MANAGER_VERSION external-secrets $EXTERNAL_SECRETS_VERSION"
module "$GEN" "$want" "${PACKAGES[@]}" -- \
  "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
  "github.com/external-secrets/external-secrets@$EXTERNAL_SECRETS_VERSION"
GEN_CM=$GEN-chaos-mesh
module "$GEN_CM" "$CHAOS_MESH_API_VERSION" "$CHAOS_MESH_PACKAGE" -- \
  "github.com/chaos-mesh/chaos-mesh/api@$CHAOS_MESH_API_VERSION"
GEN_CNPG=$GEN-cnpg
want_cnpg="cloudnative-pg $CNPG_VERSION plugin-barman-cloud $BARMAN_CLOUD_VERSION prometheus-operator $PROMETHEUS_OPERATOR_VERSION"
module "$GEN_CNPG" "$want_cnpg" "${CNPG_PACKAGES[@]}" "$BARMAN_CLOUD_PACKAGE" -- \
  "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" \
  "github.com/cloudnative-pg/plugin-barman-cloud@$BARMAN_CLOUD_VERSION" \
  "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring@$PROMETHEUS_OPERATOR_VERSION"

GEN_MQ=$GEN-mq
want_mq="psmdb $PSMDB_VERSION cluster-operator $RABBITMQ_VERSION topology-operator $TOPOLOGY_VERSION"
module "$GEN_MQ" "$want_mq" "${MQ_PACKAGES[@]}" -- \
  "github.com/percona/percona-server-mongodb-operator@$PSMDB_VERSION" \
  "github.com/rabbitmq/cluster-operator/v2@$RABBITMQ_VERSION" \
  "github.com/rabbitmq/messaging-topology-operator@$TOPOLOGY_VERSION"

GEN_OBS=$GEN-obs
want_obs="eck $ECK_VERSION opentelemetry-operator $OTEL_VERSION"
module "$GEN_OBS" "$want_obs" "${OBS_PACKAGES[@]}" -- \
  "github.com/elastic/cloud-on-k8s/v3@$ECK_VERSION" \
  "github.com/open-telemetry/opentelemetry-operator/apis@$OTEL_VERSION"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
paths() { for p in "$@"; do printf 'paths=%s\n' "$p"; done; }
mapfile -t p < <(paths "${PACKAGES[@]}")
(cd "$GEN" && "$BIN/controller-gen" crd:crdVersions=v1 "${p[@]}" output:crd:dir="$tmp")
(cd "$GEN_CM" && "$BIN/controller-gen" crd:crdVersions=v1,maxDescLen=0 paths="$CHAOS_MESH_PACKAGE" output:crd:dir="$tmp")
mapfile -t p < <(paths "${CNPG_PACKAGES[@]}")
(cd "$GEN_CNPG" && "$BIN/controller-gen" crd:crdVersions=v1,maxDescLen=0 "${p[@]}" output:crd:dir="$tmp")
(cd "$GEN_CNPG" && "$BIN/controller-gen" crd:crdVersions=v1 paths="$BARMAN_CLOUD_PACKAGE" output:crd:dir="$tmp")
mapfile -t p < <(paths "${MQ_PACKAGES[@]}")
(cd "$GEN_MQ" && "$BIN/controller-gen" crd:crdVersions=v1,maxDescLen=0,allowDangerousTypes=true "${p[@]}" output:crd:dir="$tmp")
mapfile -t p < <(paths "${OBS_PACKAGES[@]}")
(cd "$GEN_OBS" && "$BIN/controller-gen" crd:crdVersions=v1,maxDescLen=0,generateEmbeddedObjectMeta=true "${p[@]}" output:crd:dir="$tmp")
for k in "${CHAOS_MESH_KEEP[@]}"; do KEEP+=("chaos-mesh.org_$k"); done
KEEP+=("${CNPG_KEEP[@]}" "${MQ_KEEP[@]}" "${OBS_KEEP[@]}")
mkdir -p "$OUT"
rm -f "$OUT"/*.yaml
for k in "${KEEP[@]}"; do
  [ -f "$tmp/$k.yaml" ] || { echo "crds.sh: controller-gen wrote no $k.yaml" >&2; exit 1; }
  cp "$tmp/$k.yaml" "$OUT/"
done
echo "crds.sh: ${#KEEP[@]} definitions in $OUT ($want chaos-mesh-api $CHAOS_MESH_API_VERSION $want_cnpg $want_mq $want_obs)"
