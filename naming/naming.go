// Package naming derives the names of cloud and Kubernetes resources from
// the stack, in one place, within each service's length and character rules.
package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Project prefixes every name, so the platform's resources are recognisable
// in a shared account.
const Project = "cloudscale"

// StorageClass is the encrypted default StorageClass every tier's volumes use.
const StorageClass = "cloudscale-encrypted"

// ImageNamespace is the path of a stack's image repositories in its
// registry: "cloudscale-prod", so that stacks sharing an account (or a
// registry) keep apart. A service's repository is
// ImageNamespace(stack)+"/"+service (ECR's repository names).
func ImageNamespace(stack string) string {
	return strings.ToLower(Project + "-" + stack)
}

// Resource is the cloud name of part of a stack: "cloudscale-prod-eks".
// Names longer than max are cut and given a short hash, so they stay unique.
func Resource(stack, part string, max int) string {
	return fit(strings.ToLower(Project+"-"+stack+"-"+part), max)
}

// Compact is Resource for services that allow only lowercase letters and
// digits (Azure storage accounts): "cloudscaleprodazurebk".
func Compact(stack, part string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(Project + stack + part) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if max > 0 && len(s) > max {
		s = s[:max-6] + hash(s)[:6] // no separator: these names allow none
	}
	return s
}

// Global is Resource for names that must be unique across a whole cloud
// (S3 and GCS buckets, Key Vaults): scope (an account id, subscription or
// project) is hashed in so that two accounts deploying the same stack do
// not collide.
func Global(stack, part, scope string, max int) string {
	return fit(Resource(stack, part, max-9)+"-"+hash(scope)[:8], max)
}

func fit(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	h := hash(s)[:6]
	return strings.TrimRight(s[:max-7], "-") + "-" + h
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CompactGlobal is Compact for globally unique names (Azure storage
// accounts), with the scope hashed in as Global does.
func CompactGlobal(stack, part, scope string, max int) string {
	return Compact(stack, part, max-8) + hash(scope)[:8]
}
