package aws

import "github.com/cloudscale/platform/infra"

// Kubeconfig reaches an EKS cluster with a token from `aws eks get-token`.
func Kubeconfig(clusterName, region, endpoint, caData string) (string, error) {
	return infra.ExecKubeconfig(clusterName, endpoint, caData, "aws",
		[]string{"eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"}, false)
}
