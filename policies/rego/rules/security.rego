# Workload security rules: the restricted Pod Security profile and more.
# Mandatory in every environment.
package cloudscale.rules.security

import rego.v1

import data.cloudscale.lib

# non_root: the container says runAsNonRoot, or the pod does and the
# container does not override it.
non_root(_, c) if c.securityContext.runAsNonRoot == true

non_root(r, c) if {
	r.pod.spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}

# METADATA
# title: Containers run as non-root
# description: runAsNonRoot must be true for every container (pod or container level).
# custom:
#   id: CS-SEC-001
#   severity: high
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set securityContext.runAsNonRoot true (and a non-zero runAsUser).
cs_sec_001 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	not non_root(r, c)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s may run as root", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name])}
}

# METADATA
# title: No privilege escalation
# description: allowPrivilegeEscalation must be false, and no container privileged.
# custom:
#   id: CS-SEC-002
#   severity: high
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set securityContext.allowPrivilegeEscalation false and privileged false.
cs_sec_002 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	not object.get(c, ["securityContext", "allowPrivilegeEscalation"], true) == false
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s allows privilege escalation", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name])}
}

cs_sec_002 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	object.get(c, ["securityContext", "privileged"], false) == true
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s is privileged", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name])}
}

# METADATA
# title: Read-only root filesystem
# description: Containers write only to declared volumes.
# custom:
#   id: CS-SEC-003
#   severity: medium
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set securityContext.readOnlyRootFilesystem true and mount an emptyDir where the app writes.
cs_sec_003 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	not object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) == true
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s has a writable root filesystem", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name])}
}

# METADATA
# title: All capabilities dropped
# description: Containers drop ALL Linux capabilities (adding back NET_BIND_SERVICE at most).
# custom:
#   id: CS-SEC-004
#   severity: medium
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set securityContext.capabilities.drop ["ALL"].
cs_sec_004 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s does not drop ALL capabilities", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name])}
}

cs_sec_004 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	some cap in object.get(c, ["securityContext", "capabilities", "add"], [])
	cap != "NET_BIND_SERVICE"
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s adds capability %s", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, cap])}
}

# METADATA
# title: CPU and memory requests and limits
# description: Every container declares CPU and memory requests and limits.
# custom:
#   id: CS-SEC-005
#   severity: medium
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set resources.requests and resources.limits for cpu and memory.
cs_sec_005 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	some kind in ["requests", "limits"]
	some res in ["cpu", "memory"]
	not c.resources[kind][res]
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s has no %s.%s", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, kind, res])}
}

# METADATA
# title: Images are pinned
# description: No image may use the latest tag or no tag at all.
# custom:
#   id: CS-SEC-006
#   severity: medium
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Pin the image to a version tag or a digest.
cs_sec_006 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	lib.image_tag(c.image) in {"", "latest"}
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s uses unpinned image %s", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, c.image])}
}

# METADATA
# title: No host namespaces or host paths
# description: Pods must not share the node's network, PID or IPC namespace, bind a node port (hostPort), nor mount the node's filesystem (the Pod Security Standards' baseline level).
# custom:
#   id: CS-SEC-008
#   severity: high
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Remove hostNetwork, hostPID, hostIPC, hostPath volumes and hostPort (expose the pod through a Service and the gateway instead).
cs_sec_008 contains f if {
	some r in lib.workloads
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	lib.pod_spec(r)[field] == true
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s sets %s", [r.inputs.kind, lib.namespace(r), lib.name(r), field])}
}

cs_sec_008 contains f if {
	some r in lib.workloads
	some v in object.get(lib.pod_spec(r), "volumes", [])
	v.hostPath
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s mounts host path %s", [r.inputs.kind, lib.namespace(r), lib.name(r), v.hostPath.path])}
}

# hostPort binds a port in the node's network namespace: PSS baseline
# allows only 0 (unset), and the port bypasses the gateway.
cs_sec_008 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	some p in object.get(c, "ports", [])
	object.get(p, "hostPort", 0) != 0
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s binds host port %v", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, p.hostPort])}
}

# Plain-text secrets are judged by value as well as by name.
#
# A value is a secret whatever its name when it has a secret's form: a PEM
# private key, a URL with a literal password in it, a well-known token
# format (AWS access key, GitHub, GitLab, Slack and Stripe tokens, a JWT),
# or a long random-looking string (high entropy: mixed case and digits,
# few repeated characters).
# The cheap string tests come first: most values (ports, levels, names)
# are short and never reach a regular expression.
secret_value(v) if {
	contains(v, "PRIVATE KEY-----")
	regex.match(`-----BEGIN [A-Z ]*PRIVATE KEY-----`, v)
}

secret_value(v) if {
	contains(v, "://")
	contains(v, "@")
	regex.match(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#@:\s]*:[^/?#@\s]+@`, v)
	not regex.match(`://[^/?#@:\s]*:\$[({][A-Za-z_][A-Za-z0-9_]*[)}]@`, v)
}

secret_value(v) if {
	count(v) >= 16
	regex.match(`\b(AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}|\bglpat-[A-Za-z0-9_-]{20,}|\bxox[abposr]-[A-Za-z0-9-]{10,}|\b[sr]k_live_[A-Za-z0-9]{20,}|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.`, v)
}

secret_value(v) if high_entropy(v)

# high_entropy: 20 to 512 characters of the base64 or hex alphabets with
# upper case, lower case and digits, at least half of them distinct up to
# 32 (a random 32-byte key in base64 has about 30 distinct characters;
# words and identifiers repeat theirs).
high_entropy(v) if {
	n := count(v)
	n >= 20
	n <= 512
	regex.match(`^[A-Za-z0-9+/=_-]+$`, v)
	regex.match(`[A-Z]`, v)
	regex.match(`[a-z]`, v)
	regex.match(`[0-9]`, v)
	distinct := count({c | some c in split(v, "")})
	distinct >= min([n / 2, 32])
}

# A name that says "secret" (password, token, API key, credentials) makes a
# literal value a finding unless the value is plainly not a secret: a path
# or a file name (where the secret is mounted), a host name or an audience,
# a URL without credentials, a number, a duration or a boolean, or a
# reference to another variable.
secret_name(k) if regex.match(`(?i)(passw(or)?d|(^|[_.-])(pass|pwd)($|[_.-])|secret|token|api[_-]?key|private[_-]?key|credentials?)`, k)

not_a_secret(v) if regex.match(`^(/|\./|\.\./|~/)\S*$`, v)

not_a_secret(v) if regex.match(`^[A-Za-z0-9_.-]+\.(pem|key|crt|cert|json|ya?ml|txt|conf|cfg|toml|ini|env|p12|jks|der)$`, v)

not_a_secret(v) if regex.match(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[0-9]+)?$`, v)

not_a_secret(v) if {
	regex.match(`^[a-z][a-z0-9+.-]*://\S+$`, v)
	not contains(v, "@")
}

not_a_secret(v) if regex.match(`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d)?|true|false|yes|no|on|off|enabled|disabled)$`, lower(v))

not_a_secret(v) if regex.match(`^\$[({][A-Za-z_][A-Za-z0-9_]*[)}]$`, v)

plain_secret(k, v) if secret_value(v)

# metadata_name: the name describes a secret instead of holding it
# (TOKEN_TYPE, SECRET_NAME, PASSWORD_MIN_LENGTH, API_KEY_HEADER): its value
# is a finding only in a secret's form.
metadata_name(k) if regex.match(`(?i)(passw(or)?d|pass|pwd|secret|token|api[_-]?key|private[_-]?key|credentials?)s?[_.-]?(type|ttl|audience|aud|issuer|iss|path|file|dir|directory|url|uri|endpoint|header|name|(min|max)?[_.-]?length|len|expiry|expires|expiration|lifetime|duration|timeout|scopes?|kind|mode|algorithm|alg|format|prefix|suffix|enabled|ref|id|version|store|provider|location|mount|policy|rotation)s?$`, k)

plain_secret(k, v) if {
	secret_name(k)
	not metadata_name(k)
	v != ""
	not not_a_secret(v)
}

# METADATA
# title: No plain-text secrets in ConfigMaps or env values
# description: Secrets belong in Secrets (from Vault through ExternalSecrets), never in ConfigMaps or literal env values. Values are judged, not only names.
# custom:
#   id: CS-SEC-009
#   severity: critical
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Move the value to a Secret and reference it (valueFrom.secretKeyRef or an ExternalSecret).
cs_sec_009 contains f if {
	some r in input.kinds["core/ConfigMap"]
	some k, v in object.get(r.inputs, "data", {})
	is_string(v)
	plain_secret(k, v)
	f := {"urn": r.urn, "msg": sprintf("ConfigMap %s/%s holds %s in plain text", [lib.namespace(r), lib.name(r), k])}
}

cs_sec_009 contains f if {
	some r in lib.workloads
	some c in lib.containers(r)
	some e in object.get(c, "env", [])
	v := object.get(e, "value", "")
	is_string(v)
	plain_secret(e.name, v)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s sets %s as a literal value", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, e.name])}
}

# METADATA
# title: Helm charts are pinned
# description: Every chart installs an exact version from an HTTPS repository, so what runs is what was reviewed.
# custom:
#   id: CS-SEC-010
#   severity: high
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set version to an exact x.y.z and repositoryOpts.repo to an https URL (components/upstream pins every chart).
cs_sec_010 contains f if {
	some r in input.by_type["kubernetes:helm.sh/v3:Release"]
	not regex.match(`^v?[0-9]+\.[0-9]+\.[0-9]+$`, object.get(r.inputs, "version", ""))
	f := {"urn": r.urn, "msg": sprintf("Helm release %s installs chart %v at version %v, not an exact version", [r.name, object.get(r.inputs, "chart", "?"), object.get(r.inputs, "version", "unset")])}
}

cs_sec_010 contains f if {
	some r in input.by_type["kubernetes:helm.sh/v3:Release"]
	repo := object.get(r.inputs, ["repositoryOpts", "repo"], "")
	not startswith(repo, "https://")
	f := {"urn": r.urn, "msg": sprintf("Helm release %s fetches chart %v from %q, not an https repository", [r.name, object.get(r.inputs, "chart", "?"), repo])}
}

# Redis and Valkey authentication. The password reaches the server as the
# REDIS_PASSWORD (or VALKEY_PASSWORD) variable the start script reads, or
# as --requirepass on the command line; a $(VAR) (or $VAR, ${VAR} in a
# shell line) there is a reference to a variable, not a literal.
redis_password_envs := ["REDIS_PASSWORD", "VALKEY_PASSWORD"]

redis_auth(c) if {
	some n in redis_password_envs
	e := lib.env_named(c, n)
	redis_password_given(e)
}

redis_auth(c) if lib.flag_value(lib.command_line(c), "--requirepass")

redis_password_given(e) if e.valueFrom

redis_password_given(e) if object.get(e, "value", "") != ""

# METADATA
# title: Redis requires AUTH with a password from a Secret
# description: Every Redis (or Valkey) server requires AUTH, with its password taken from a Secret (REDIS_PASSWORD through valueFrom.secretKeyRef, or --requirepass $(VAR) of such a variable). A password written into the pod spec (a literal REDIS_PASSWORD or --requirepass value) or taken from a ConfigMap is a secret in plain text, in a Redis container or its Sentinel.
# custom:
#   id: CS-SEC-011
#   severity: critical
#   category: security
#   enforcement: {dev: mandatory, staging: mandatory, prod: mandatory}
#   fix: Set env REDIS_PASSWORD from valueFrom.secretKeyRef (a Secret synced from Vault by an ExternalSecret) on the redis and sentinel containers, and remove literal passwords.
cs_sec_011 contains f if {
	some r in lib.redis_workloads
	some c in lib.redis_servers(r)
	not redis_auth(c)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s requires no AUTH (no REDIS_PASSWORD from a Secret, no --requirepass)", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name])}
}

cs_sec_011 contains f if {
	some r in lib.redis_workloads
	some c in array.concat(lib.redis_servers(r), lib.redis_sentinels(r))
	some msg in plain_redis_passwords(c)
	f := {"urn": r.urn, "msg": sprintf("%s %s/%s container %s %s: the Redis password is in plain text", [r.inputs.kind, lib.namespace(r), lib.name(r), c.name, msg])}
}

plain_redis_passwords(c) := {msg |
	some n in redis_password_envs
	e := lib.env_named(c, n)
	msg := plain_env_password(e)
} | plain_requirepass(c)

plain_env_password(e) := sprintf("sets %s as a literal value", [e.name]) if {
	not e.valueFrom
	object.get(e, "value", "") != ""
}

plain_env_password(e) := sprintf("takes %s from ConfigMap %v", [e.name, e.valueFrom.configMapKeyRef.name]) if e.valueFrom.configMapKeyRef

plain_requirepass(c) := {"passes --requirepass a literal value"} if {
	v := lib.flag_value(lib.command_line(c), "--requirepass")
	not secret_reference(c, v)
} else := set()

# secret_reference: v is $(VAR), ${VAR} or $VAR of a variable the container
# takes from a Secret.
secret_reference(c, v) if {
	[[_, var]] := regex.find_all_string_submatch_n(`^\$[({]?([A-Za-z_][A-Za-z0-9_]*)[)}]?$`, v, 1)
	lib.env_named(c, var).valueFrom.secretKeyRef
}
