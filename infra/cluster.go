// Package infra is the contract between the cloud tier and the Kubernetes
// tiers: whatever builds the cluster (EKS, AKS, GKE or the local simulated
// control plane) hands over a Cluster, and nothing above it knows which
// cloud it is on.
package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/services"
)

// Cluster is what the Kubernetes tiers receive.
type Cluster struct {
	// Name is the cluster's name in its cloud.
	Name string
	// Distribution is the Kubernetes distribution the cluster runs.
	Distribution Distribution
	// Provider deploys into the cluster; every Kubernetes resource uses it.
	Provider *kubernetes.Provider
	// Kubeconfig is the content of a kubeconfig that reaches the cluster,
	// always a Pulumi secret; empty where there is no cluster to reach
	// (rendering YAML, or a local cluster not started yet).
	Kubeconfig pulumi.StringOutput
	// Zones the nodes run in; workloads spread over them.
	Zones []string
	// StorageClass is the name of the encrypted default StorageClass.
	StorageClass string
	// Backups is the object store for database backups.
	Backups BackupStore
	// Keys are the customer-managed keys the platform encrypts with.
	Keys Keys
	// Registry holds the services' images; its zero value (the local
	// stack) is the public ghcr.io/cloudscale.
	Registry Registry
	// Identity lets in-cluster service accounts act on cloud resources
	// without static credentials.
	Identity WorkloadIdentity
	// Seal auto-unseals Vault with Keys.Secrets (clouds only).
	Seal *VaultSeal
	// LoadBalancerAnnotations choose the cloud's load balancer for a
	// Service of type LoadBalancer (nil: the cloud's default).
	LoadBalancerAnnotations map[string]string
	// Rendering is true when the provider writes YAML instead of calling a
	// cluster: nothing can be awaited or read back.
	Rendering bool
	// Volumes, when set, are what the cluster offers claims (the local
	// tier's statically provisioned PersistentVolumes): the Kubernetes
	// tiers depend on them, so a destroy removes the namespaces (and the
	// claims in them, which hold the volumes) first.
	Volumes []pulumi.Resource
}

// Registry is the container registry the cloud tier creates for the
// services' images (ECR, Artifact Registry, ACR): immutable tags, scanning
// on push, encrypted with the platform's key, and pull rights for the
// cluster's nodes. A workload references its image by digest:
// Image(name, digest), the digest from services.Digests().
type Registry struct {
	// Prefix is where the services' repositories live, <Prefix>/<service>,
	// known when the program runs (no deploy-time output):
	// "123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudscale-prod",
	// "europe-west1-docker.pkg.dev/<project>/cloudscale-prod-gcp-images",
	// "<name>.azurecr.io/cloudscale-prod-azure". Empty: PublicRegistry.
	// `cloudscale images build --push <Prefix>` pushes there.
	Prefix string
	// Resources are the registry, its repositories and the pull grants:
	// a workload that pulls from it may depend on them.
	Resources []pulumi.Resource
}

// PublicRegistry is the prefix of the local stack's images (no registry is
// created there; `cloudscale images build --push` can push anywhere).
const PublicRegistry = services.PublicRegistry

// Repository is a service's repository: <Prefix>/<service>.
func (r Registry) Repository(service string) string {
	prefix := r.Prefix
	if prefix == "" {
		prefix = PublicRegistry
	}
	return prefix + "/" + service
}

// Image is a service's image by digest ("sha256:..."):
// <Prefix>/<service>@<digest>.
func (r Registry) Image(service, digest string) string {
	return r.Repository(service) + "@" + digest
}

// Distribution is a Kubernetes distribution the cloud tiers build.
type Distribution string

// The distributions.
const (
	EKS   Distribution = "eks"
	AKS   Distribution = "aks"
	GKE   Distribution = "gke"
	Local Distribution = "local"
)

// BackupKind is the kind of object store backups go to.
type BackupKind string

// The backup store kinds; NoBackups where the target has none (local).
const (
	S3        BackupKind = "s3"
	GCS       BackupKind = "gcs"
	AzureBlob BackupKind = "azureblob"
	NoBackups BackupKind = ""
)

// BackupStore is where the data tiers write their backups.
type BackupStore struct {
	Kind BackupKind
	// Bucket is the bucket or container name.
	Bucket pulumi.StringOutput
	// Endpoint is the URL a backup tool writes to (s3://..., gs://..., https://...).
	Endpoint pulumi.StringOutput
	// Region is the bucket's region, when the store needs it.
	Region string
}

// Keys are references (ARNs, resource IDs) of customer-managed keys.
type Keys struct {
	// Secrets encrypts Kubernetes secrets and seals Vault.
	Secrets pulumi.StringOutput
	// Storage encrypts node disks, volumes and backups.
	Storage pulumi.StringOutput
}

// WorkloadIdentity binds a Kubernetes service account to a cloud identity.
type WorkloadIdentity struct {
	// BackupServiceAccount is the Kubernetes service account the cloud
	// identity trusts for backups.
	BackupServiceAccount ServiceAccount
	// Annotations go on that service account (IRSA role ARN, GCP service
	// account email, Azure client id).
	Annotations pulumi.StringMapOutput
	// Labels go on its pods (Azure workload identity needs one).
	Labels map[string]string
}

// ServiceAccount names a Kubernetes service account.
type ServiceAccount struct {
	Namespace, Name string
}

// String is "namespace/name".
func (s ServiceAccount) String() string { return s.Namespace + "/" + s.Name }

// Subject is the account's subject in its tokens, which cloud identities
// trust: system:serviceaccount:<namespace>:<name>.
func (s ServiceAccount) Subject() string {
	return "system:serviceaccount:" + s.Namespace + ":" + s.Name
}

// BackupServiceAccountName is the Kubernetes service account the cloud
// identity for backups trusts; the data tiers run their backup jobs as it.
const BackupServiceAccountName = "cloudscale-backup"

// BackupServiceAccount is that account in the platform's namespace ns.
func BackupServiceAccount(ns string) ServiceAccount {
	return ServiceAccount{Namespace: ns, Name: BackupServiceAccountName}
}

// ClusterSpec is what every cloud tier needs to build its cluster, as plain
// values from the stack's validated spec.
type ClusterSpec struct {
	Stack             string
	Region            string
	Zones             []string
	KubernetesVersion string
	NodeSize          string
	NodesPerZone      int
	NodeDiskGiB       int
	// APIAllowedCIDRs may reach the API endpoint; empty keeps it private.
	APIAllowedCIDRs []string
	NetworkCIDR     string
	// Namespace holds the backup service account the cloud identity trusts.
	Namespace string
}

// Validate refuses a spec a cloud tier cannot build from; stacks/spec has
// already checked the values, so this guards direct callers.
func (s ClusterSpec) Validate(cloud string) error {
	if s.Stack == "" || s.Region == "" || s.NetworkCIDR == "" || s.Namespace == "" || len(s.Zones) == 0 ||
		s.NodesPerZone < 1 || s.NodeDiskGiB < 1 || s.NodeSize == "" || s.KubernetesVersion == "" {
		return fmt.Errorf("%s cluster: stack, region, zones, network, namespace and node settings are required", cloud)
	}
	return nil
}

// VaultServiceAccount is the Kubernetes service account Vault runs as;
// the cloud identity allowed to use the secrets key for auto-unseal
// trusts only it.
var VaultServiceAccount = ServiceAccount{Namespace: "vault", Name: "vault"}

// VaultSeal lets Vault unseal itself with the cluster's secrets key.
type VaultSeal struct {
	// Stanza is Vault's HCL seal block for the cloud's KMS.
	Stanza pulumi.StringOutput
	// Annotations go on Vault's service account (its cloud identity);
	// Labels on its pods.
	Annotations pulumi.StringMapOutput
	Labels      map[string]string
}
