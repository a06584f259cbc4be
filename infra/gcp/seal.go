package gcp

import (
	"fmt"

	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/kms"
	"github.com/pulumi/pulumi-gcp/sdk/v8/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cloudscale/platform/infra"
)

// workloadAccount is a Google service account only one Kubernetes service
// account can act as, through workload identity.
func (b *builder) workloadAccount(part, purpose string, gke *gcpGKE, sa infra.ServiceAccount) (*serviceaccount.Account, error) {
	a := b.a
	account, err := serviceaccount.NewAccount(b.ctx, b.name+"-"+part, &serviceaccount.AccountArgs{
		AccountId:   pulumi.String(b.cloudName(part, 30)),
		DisplayName: pulumi.String("CloudScale " + a.Stack + " " + purpose),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	_, err = serviceaccount.NewIAMMember(b.ctx, b.name+"-"+part+"-workload-identity", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: account.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           pulumi.String("serviceAccount:" + a.Project + ".svc.id.goog[" + sa.String() + "]"),
	}, b.opts(pulumi.DependsOn([]pulumi.Resource{gke.cluster}))...)
	return account, err
}

// seal gives Vault a Google service account, usable only by Vault's
// Kubernetes service account (workload identity), that may encrypt and
// decrypt with the secrets key: Vault auto-unseals with it.
func (b *builder) seal(k *gcpKeys, gke *gcpGKE) (*infra.VaultSeal, error) {
	ctx, a := b.ctx, b.a
	account, err := b.workloadAccount("vault", "Vault auto-unseal", gke, infra.VaultServiceAccount)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewCryptoKeyIAMMember(ctx, b.name+"-vault-unseal", &kms.CryptoKeyIAMMemberArgs{
		CryptoKeyId: k.secrets.ID(),
		Role:        pulumi.String("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
		Member:      pulumi.Sprintf("serviceAccount:%s", account.Email),
	}, b.opts()...); err != nil {
		return nil, err
	}
	// The seal reads the key's metadata when Vault starts.
	if _, err := kms.NewCryptoKeyIAMMember(ctx, b.name+"-vault-key-viewer", &kms.CryptoKeyIAMMemberArgs{
		CryptoKeyId: k.secrets.ID(),
		Role:        pulumi.String("roles/cloudkms.viewer"),
		Member:      pulumi.Sprintf("serviceAccount:%s", account.Email),
	}, b.opts()...); err != nil {
		return nil, err
	}
	return &infra.VaultSeal{
		Stanza: pulumi.All(k.ring.Name, k.secrets.Name).ApplyT(func(v []any) string {
			return fmt.Sprintf("seal \"gcpckms\" {\n  project    = %q\n  region     = %q\n  key_ring   = %q\n  crypto_key = %q\n}\n",
				a.Project, a.Region, v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
		Annotations: pulumi.StringMap{"iam.gke.io/gcp-service-account": account.Email}.ToStringMapOutput(),
	}, nil
}
