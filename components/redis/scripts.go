package redis

// The members' scripts, mounted from the Scripts ConfigMap at /scripts and
// run with /bin/sh (the image's). They read the password from the
// environment (a Secret reference) and write it only into configuration
// files on the pod's private /tmp, never into arguments a process list
// shows; redis-cli reads it from REDISCLI_AUTH.
//
// Environment: REDIS_PASSWORD, MASTER_SET (the Sentinel master name),
// HEADLESS (<service>.<namespace>.svc.cluster.local), FIRST (member 0's
// pod name), SENTINELS (every member's host), SENTINEL_QUORUM (sentinel
// only), REDIS_PORT and SENTINEL_PORT; CONF_DIR (default /tmp) is where
// the configuration files go.

// discoverScript asks the other members' Sentinels for the current master;
// when none knows one (the set's first start), member 0 is the master.
// Asking first keeps a restarted old master from coming back as a second
// master with stale data: it rejoins as a replica.
const discoverScript = `discover_master() {
  self="$(hostname).${HEADLESS}"
  for s in ${SENTINELS}; do
    [ "$s" = "$self" ] && continue
    m=$(redis-cli --tls --cacert /tls/ca.crt -h "$s" -p "${SENTINEL_PORT}" SENTINEL get-master-addr-by-name "${MASTER_SET}" 2>/dev/null | head -n 1)
    case "$m" in ""|*ERR*|*error*) continue ;; esac
    echo "$m"
    return
  done
  echo "${FIRST}.${HEADLESS}"
}
`

// RedisScript starts a member's Redis: TLS only (port 0; the TLS port
// comes from the arguments, as do the memory policy and persistence, so
// the policy gate sees them), AUTH, and replicaof the current master
// unless it is the master.
const RedisScript = `#!/bin/sh
set -eu
: "${REDIS_PASSWORD:?}" "${MASTER_SET:?}" "${HEADLESS:?}" "${FIRST:?}"
export REDISCLI_AUTH="${REDIS_PASSWORD}"
` + discoverScript + `
umask 077
conf="${CONF_DIR:-/tmp}/redis.conf"
self="$(hostname).${HEADLESS}"
{
  echo "requirepass \"${REDIS_PASSWORD}\""
  echo "masterauth \"${REDIS_PASSWORD}\""
  echo "tls-cert-file /tls/tls.crt"
  echo "tls-key-file /tls/tls.key"
  echo "tls-ca-cert-file /tls/ca.crt"
  echo "tls-auth-clients optional"
  echo "tls-protocols TLSv1.3"
  echo "replica-announce-ip ${self}"
  echo "dir /data"
} > "$conf"
master=$(discover_master)
if [ "$master" != "$self" ]; then
  echo "replicaof ${master} ${REDIS_PORT}" >> "$conf"
fi
exec redis-server "$conf" "$@"
`

// SentinelScript starts a member's Sentinel, monitoring the current
// master with SENTINEL_QUORUM. Sentinel rewrites its file as the set
// changes, so a restarted container keeps what it learnt.
const SentinelScript = `#!/bin/sh
set -eu
: "${REDIS_PASSWORD:?}" "${MASTER_SET:?}" "${HEADLESS:?}" "${FIRST:?}" "${SENTINEL_QUORUM:?}"
export REDISCLI_AUTH="${REDIS_PASSWORD}"
` + discoverScript + `
umask 077
conf="${CONF_DIR:-/tmp}/sentinel.conf"
if [ ! -s "$conf" ]; then
  self="$(hostname).${HEADLESS}"
  master=$(discover_master)
  cat > "$conf" <<EOF
port 0
tls-port ${SENTINEL_PORT}
tls-cert-file /tls/tls.crt
tls-key-file /tls/tls.key
tls-ca-cert-file /tls/ca.crt
tls-auth-clients optional
tls-replication yes
tls-protocols TLSv1.3
requirepass "${REDIS_PASSWORD}"
sentinel sentinel-pass "${REDIS_PASSWORD}"
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${self}
sentinel monitor ${MASTER_SET} ${master} ${REDIS_PORT} ${SENTINEL_QUORUM}
sentinel auth-pass ${MASTER_SET} "${REDIS_PASSWORD}"
sentinel down-after-milliseconds ${MASTER_SET} 5000
sentinel failover-timeout ${MASTER_SET} 60000
sentinel parallel-syncs ${MASTER_SET} 1
EOF
fi
exec redis-server "$conf" --sentinel
`

// PingScript is the probe of a member's Redis or Sentinel (port $1): ready
// when it answers PONG over TLS with AUTH (a replica still loading its
// data answers LOADING and is not ready).
const PingScript = `#!/bin/sh
export REDISCLI_AUTH="${REDIS_PASSWORD}"
redis-cli --tls --cacert /tls/ca.crt -h 127.0.0.1 -p "$1" PING | grep -q PONG
`
