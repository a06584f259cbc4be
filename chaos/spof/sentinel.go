package spof

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// sentinelQuorumEnv is the variable of the sentinel container of the
// platform's Redis (Valkey) StatefulSet: the quorum of its "sentinel
// monitor" line, how many sentinels must agree the master is down.
const sentinelQuorumEnv = "SENTINEL_QUORUM"

// sentinelContainer is the name of the container that runs Sentinel beside
// each member's Redis (or Valkey).
const sentinelContainer = "sentinel"

// sentinelQuorum reads the Sentinel quorum of a pod spec whose pods run a
// container named "sentinel" beside a Redis or Valkey container (by name or
// image): every member runs both, so a member lost is a sentinel lost.
// Writes need the master, which Sentinel fails over only when quorum
// sentinels agree it is down and a majority of all sentinels authorise
// the failover: the members keep serving while max(quorum, majority) of
// them run. An unset SENTINEL_QUORUM is a majority of the members; one the
// graph does not hold (valueFrom, envFrom) is taken as a majority too, and
// read says so. ok is false when the pods run no such pair.
func sentinelQuorum(spec corev1.PodSpec, members int) (quorum int, read string, ok bool, err error) {
	var sentinel *corev1.Container
	redis := false
	for _, c := range runningContainers(spec) {
		if c.Name == sentinelContainer {
			sentinel = &c
		} else {
			redis = redis || isRedis(c)
		}
	}
	if sentinel == nil || !redis {
		return 0, "", false, nil
	}
	majority := members/2 + 1
	var env *corev1.EnvVar
	for i := range sentinel.Env {
		if sentinel.Env[i].Name == sentinelQuorumEnv {
			env = &sentinel.Env[i] // the last of duplicates wins
		}
	}
	switch {
	case env != nil && env.ValueFrom != nil:
		return majority, sentinelQuorumEnv + " from valueFrom, which the analysis does not read, taken as a majority", true, nil
	case (env == nil || env.Value == "") && len(sentinel.EnvFrom) > 0:
		return majority, sentinelQuorumEnv + " not in env (envFrom, which the analysis does not read), taken as a majority", true, nil
	case env == nil || env.Value == "":
		return majority, sentinelQuorumEnv + " unset, so a majority", true, nil
	}
	q, err := strconv.Atoi(strings.TrimSpace(env.Value))
	if err != nil || q < 1 {
		return 0, "", true, fmt.Errorf("container %s: env %s %q: want a number of sentinels, 1 or more", sentinelContainer, sentinelQuorumEnv, env.Value)
	}
	return q, sentinelQuorumEnv, true, nil
}

// runningContainers are a pod's containers and its native sidecars (init
// containers with restartPolicy Always).
func runningContainers(spec corev1.PodSpec) []corev1.Container {
	out := append([]corev1.Container(nil), spec.Containers...)
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	return out
}

// isRedis reports whether a container runs Redis or Valkey: by its name,
// or by its image's repository ("docker.io/valkey/valkey:8.1.4",
// "bitnami/redis@sha256:...").
func isRedis(c corev1.Container) bool {
	image := c.Image
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	image = image[strings.LastIndex(image, "/")+1:]
	if i := strings.Index(image, ":"); i >= 0 {
		image = image[:i]
	}
	for _, s := range []string{c.Name, image} {
		if s == "redis" || s == "valkey" {
			return true
		}
	}
	return false
}

// sentinelFix says what SENTINEL_QUORUM to set when it is above a
// majority (a failover needs a majority to authorise it anyway, so a
// majority is the quorum that tolerates the most), or "".
func (c *component) sentinelFix() string {
	majority := c.replicas/2 + 1
	if c.sentinel <= majority {
		return ""
	}
	return fmt.Sprintf("set %s to %d of %d (a majority)", sentinelQuorumEnv, majority, c.replicas)
}

// sentinelBlocks reports whether rem members would keep a majority but
// fall short of the Sentinel quorum: the quorum, not the placement, is
// why the loss stops the component.
func (c *component) sentinelBlocks(rem int) bool {
	return c.sentinelFix() != "" && rem >= c.replicas/2+1 && rem < c.needed
}

// sentinelShape judges the member count of a Sentinel-managed Redis: the
// failures it tolerates are the members that run beyond what a failover
// needs, max(SENTINEL_QUORUM, a majority).
func (c *component) sentinelShape() Finding {
	m := c.place.running
	tolerates := max(m-c.needed, 0)
	shape := fmt.Sprintf("a Sentinel quorum of %d over %d members", c.sentinel, c.replicas)
	if m < c.replicas {
		shape += fmt.Sprintf(" of which only %d can run (%s)", m, c.place.nodeWhy)
	}
	need := fmt.Sprintf("a failover needs %d sentinels to agree the master is down (%s) and a majority of %d to authorise it", c.sentinel, c.sentinelRead, c.replicas)
	fix := c.sentinelFix()
	switch {
	case c.sentinel > c.replicas:
		return c.finding(Quorum, SPOF, m-1, c.needed, fmt.Sprintf("%s can never be reached: a failover needs %d sentinels to agree the master is down (%s) and there are %d, so losing the master's member stops writes for good; %s", shape, c.sentinel, c.sentinelRead, c.replicas, fix))
	case tolerates == 0 && fix != "":
		return c.finding(Quorum, SPOF, m-1, c.needed, fmt.Sprintf("%s tolerates no loss: %s, so losing the master's member leaves %d, too few to fail over; %s", shape, need, m-1, fix))
	case tolerates == 0 && m < c.replicas:
		return c.finding(Quorum, SPOF, m-1, c.needed, fmt.Sprintf("%s tolerates no loss: %s; add domains or lower %s", shape, need, c.replicasField))
	case tolerates == 0:
		return c.finding(Quorum, SPOF, m-1, c.needed, fmt.Sprintf("%s tolerates no loss: %s; set %s to 3 (or 5)", shape, need, c.replicasField))
	case fix != "":
		return c.finding(Quorum, Degraded, m-tolerates, c.needed, fmt.Sprintf("%s tolerates %d failure(s), fewer than a majority quorum would: %s; %s", shape, tolerates, need, fix))
	case m%2 == 0 && m == c.replicas:
		return c.finding(Quorum, Degraded, m-tolerates, c.needed, fmt.Sprintf("%s tolerates %d failure(s), as %d members would, and splits evenly in a partition; set %s to an odd number", shape, tolerates, m-1, c.replicasField))
	}
	return c.finding(Quorum, Survives, m-tolerates, c.needed, fmt.Sprintf("%s keeps a failover possible through %d failure(s): %s", shape, tolerates, need))
}
