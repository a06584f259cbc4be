package controlplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cloudscale/platform/components/upstream"
)

// ChaosControllerBinary is the genuine chaos-controller-manager `make
// tools` builds (scripts/tools.sh, at the version its api module is).
const ChaosControllerBinary = "chaos-controller-manager"

// ChaosMeshNamespace is where the controller acts from: the chaos tier's
// namespace, where `chaos run` creates its Workflows.
const ChaosMeshNamespace = "chaos"

// The webhook configurations Start registers for the local controller.
const (
	ChaosMutatingWebhook   = "cloudscale-local-chaos-mesh-mutation"
	ChaosValidatingWebhook = "cloudscale-local-chaos-mesh-validation"
)

// chaosWebhookKinds are the kinds the chart registers webhooks for
// (values.yaml webhook.CRDS at upstream.ChaosMeshVersion, without the
// PodIOChaos and PodHttpChaos its templates leave out).
var chaosWebhookKinds = []string{
	"PodChaos", "IOChaos", "TimeChaos", "NetworkChaos", "KernelChaos", "StressChaos", "AWSChaos", "AzureChaos",
	"GCPChaos", "DNSChaos", "JVMChaos", "Schedule", "Workflow", "HTTPChaos", "BlockChaos", "PhysicalMachineChaos",
	"PhysicalMachine", "StatusCheck", "RemoteCluster",
}

// chaosMeshProcess is the Chaos Mesh controller as a local process
// (shared/notes/chaos-mesh-local.md): configured by environment only,
// cluster-scoped, injecting only into namespaces annotated
// chaos-mesh.org/inject=enabled as on clouds, its webhook served on
// 127.0.0.1 with a certificate of the cluster's CA. No chaos-daemon runs
// here: faults inside containers cannot act on simulated pods.
func chaosMeshProcess() Process {
	return Process{
		Name: "chaos-controller-manager", Binary: ChaosControllerBinary, Optional: true, RepeatTerm: true,
		Enabled: func(c *Cluster) bool { return c.ChaosMesh },
		Args:    func(*Cluster) []string { return nil },
		Env: func(c *Cluster) []string {
			return []string{
				"KUBECONFIG=" + c.Kubeconfig(), "ENABLE_LEADER_ELECTION=false", "NAMESPACE=" + ChaosMeshNamespace,
				"CLUSTER_SCOPED=true", "ENABLE_FILTER_NAMESPACE=true", "SECURITY_MODE=false",
				"METRICS_HOST=127.0.0.1", fmt.Sprintf("METRICS_PORT=%d", c.Ports.ChaosMetrics),
				"WEBHOOK_HOST=127.0.0.1", fmt.Sprintf("WEBHOOK_PORT=%d", c.Ports.ChaosWebhook),
				"CERTS_DIR=" + c.path("pki", "chaos-mesh"), "PPROF_ADDR=0",
			}
		},
		BeforeStart: func(ctx context.Context, c *Cluster) error {
			if err := c.chaosWebhookCert(); err != nil {
				return fmt.Errorf("webhook certificate: %w", err)
			}
			// The controller watches every kind: their definitions first.
			return c.installChaosMeshCRDs(ctx)
		},
		AfterStart: func(ctx context.Context, c *Cluster) error { return c.registerChaosWebhooks(ctx) },
		Disabled:   func(ctx context.Context, c *Cluster) error { return c.removeChaosWebhooks(ctx) },
		Healthy: func(ctx context.Context, c *Cluster) error {
			if err := get(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", c.Ports.ChaosMetrics), ""); err != nil {
				return err
			}
			return webhookServes(ctx, c.Ports.ChaosWebhook)
		},
	}
}

// webhookServes answers nil once the webhook port speaks HTTPS (any
// status: the root path is not a webhook).
func webhookServes(ctx context.Context, port int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/", port), nil)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback, the cluster's own certificate
	}}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

// chaosWebhookCert writes tls.crt and tls.key for the controller's
// webhook server (127.0.0.1), signed by the cluster's CA, which the webhook
// configurations carry as their caBundle. An existing pair is kept.
func (c *Cluster) chaosWebhookCert() error {
	dir := c.path("pki", "chaos-mesh")
	if exists(dir+"/tls.crt") && exists(dir+"/tls.key") {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caPEM, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return err
	}
	caKeyPEM, err := os.ReadFile(c.path("pki", "ca.key"))
	if err != nil {
		return err
	}
	caBlock, _ := pem.Decode(caPEM)
	keyBlock, _ := pem.Decode(caKeyPEM)
	if caBlock == nil || keyBlock == nil {
		return errors.New("the cluster CA under pki/ is not PEM")
	}
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return err
	}
	caKey, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return err
	}
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "chaos-mesh-webhook"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyPEM, err := ecKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/tls.key", keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(dir+"/tls.crt", pemBlock("CERTIFICATE", der), 0o600)
}

// FieldManager is the server-side-apply manager of what the cluster
// itself installs.
const FieldManager = "cloudscale-cluster"

// installChaosMeshCRDs applies every Chaos Mesh definition (the same
// generated ones the local stack registers; server-side apply, so the
// stack's later apply of identical fields does not conflict) and waits
// until each is established.
func (c *Cluster) installChaosMeshCRDs(ctx context.Context) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	client, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, k := range upstream.ChaosMesh.Kinds {
		crd, err := upstream.Definition(k)
		if err != nil {
			return err
		}
		crd.TypeMeta = metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}
		body, err := json.Marshal(crd)
		if err != nil {
			return err
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)}); err != nil {
			return fmt.Errorf("definition %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range names {
		for {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err == nil && established(crd) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("definition %s not established after 60s", name)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	fmt.Fprintf(c.out(), "  %-24s %d Chaos Mesh definitions established\n", "chaos-mesh.org", len(names))
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// registerChaosWebhooks makes the API server send every Chaos Mesh
// object through the controller's own defaulting and validation, as the
// chart's webhook configurations do in a real cluster (URL clients, since
// the controller is a local process, not a Service).
func (c *Cluster) registerChaosWebhooks(ctx context.Context) error {
	client, err := c.Client()
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return err
	}
	plural := map[string]string{}
	for _, k := range upstream.ChaosMesh.Kinds {
		plural[k.Kind] = k.Plural
	}
	fail, none, timeout := admissionv1.Fail, admissionv1.SideEffectClassNone, int32(5)
	var mutating []admissionv1.MutatingWebhook
	var validating []admissionv1.ValidatingWebhook
	for _, kind := range chaosWebhookKinds {
		lower := strings.ToLower(kind)
		rules := []admissionv1.RuleWithOperations{{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule:       admissionv1.Rule{APIGroups: []string{"chaos-mesh.org"}, APIVersions: []string{"v1alpha1"}, Resources: []string{plural[kind]}},
		}}
		url := func(verb string) admissionv1.WebhookClientConfig {
			u := fmt.Sprintf("https://127.0.0.1:%d/%s-chaos-mesh-org-v1alpha1-%s", c.Ports.ChaosWebhook, verb, lower)
			return admissionv1.WebhookClientConfig{URL: &u, CABundle: caPEM}
		}
		mutating = append(mutating, admissionv1.MutatingWebhook{
			Name: "m" + lower + ".kb.io", ClientConfig: url("mutate"), Rules: rules, FailurePolicy: &fail,
			SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1", "v1beta1"},
		})
		validating = append(validating, admissionv1.ValidatingWebhook{
			Name: "v" + lower + ".kb.io", ClientConfig: url("validate"), Rules: rules, FailurePolicy: &fail,
			SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1", "v1beta1"},
		})
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": FieldManager}
	m := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ChaosMutatingWebhook, Labels: labels}, Webhooks: mutating}
	v := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ChaosValidatingWebhook, Labels: labels}, Webhooks: validating}
	api := client.AdmissionregistrationV1()
	if old, err := api.MutatingWebhookConfigurations().Get(ctx, m.Name, metav1.GetOptions{}); err == nil {
		m.ResourceVersion = old.ResourceVersion
		_, err = api.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
	} else if _, err := api.MutatingWebhookConfigurations().Create(ctx, m, metav1.CreateOptions{}); err != nil {
		return err
	}
	if old, err := api.ValidatingWebhookConfigurations().Get(ctx, v.Name, metav1.GetOptions{}); err == nil {
		v.ResourceVersion = old.ResourceVersion
		_, err = api.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
	} else if _, err := api.ValidatingWebhookConfigurations().Create(ctx, v, metav1.CreateOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(c.out(), "  %-24s %d kinds validated and defaulted by the controller's webhook\n", "webhooks", len(chaosWebhookKinds))
	return nil
}

// removeChaosWebhooks deletes the webhook configurations of a controller
// that no longer runs, so the API server does not refuse every Chaos Mesh
// object for want of it.
func (c *Cluster) removeChaosWebhooks(ctx context.Context) error {
	client, err := c.Client()
	if err != nil {
		return err
	}
	api := client.AdmissionregistrationV1()
	if err := api.MutatingWebhookConfigurations().Delete(ctx, ChaosMutatingWebhook, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := api.ValidatingWebhookConfigurations().Delete(ctx, ChaosValidatingWebhook, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
