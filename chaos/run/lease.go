package run

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudscale/platform/chaos/experiments"
)

// LeaseName is the Lease (coordination.k8s.io, in the chaos namespace) a
// run holds while it runs: one run at a time per cluster, and no cleanup
// (another run's, or `cluster status`'s) under a run in progress.
const LeaseName = "cloudscale-chaos-run"

// leaseDuration is how long a holder that stopped renewing (a killed run)
// keeps the lease; a run renews it every leaseDuration/4.
const leaseDuration = 40 * time.Second

// InProgress names the run holding the lease, or "" when none does (no
// lease, or one not renewed within its duration).
func InProgress(ctx context.Context, kube kubernetes.Interface) (string, error) {
	l, err := kube.CoordinationV1().Leases(experiments.Namespace).Get(ctx, LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if held(l, time.Now()) {
		return *l.Spec.HolderIdentity, nil
	}
	return "", nil
}

func held(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
		return false
	}
	d := leaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return now.Before(l.Spec.RenewTime.Add(d))
}

// acquire takes the lease for id (a stale one is taken over) and renews
// it until the returned release is called, which gives it up.
func acquire(ctx context.Context, kube kubernetes.Interface, id string) (release func(), err error) {
	leases := kube.CoordinationV1().Leases(experiments.Namespace)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(leaseDuration / time.Second)
	l, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: experiments.Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "cloudscale"}},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
	case err != nil:
	case held(l, time.Now()) && *l.Spec.HolderIdentity != id:
		return nil, fmt.Errorf("chaos run %s is in progress on this cluster (lease %s/%s, renewed %s); wait for it, or stop it with Ctrl-C",
			*l.Spec.HolderIdentity, experiments.Namespace, LeaseName, l.Spec.RenewTime.Format(time.RFC3339))
	default:
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.AcquireTime, l.Spec.RenewTime = &id, &secs, &now, &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{}) // a conflict means another run won the race
	}
	if err != nil {
		return nil, fmt.Errorf("take the chaos run lease %s/%s: %w", experiments.Namespace, LeaseName, err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-rctx.Done():
				return
			case <-time.After(leaseDuration / 4):
			}
			if l, err := leases.Get(rctx, LeaseName, metav1.GetOptions{}); err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == id {
				t := metav1.NewMicroTime(time.Now())
				l.Spec.RenewTime = &t
				_, _ = leases.Update(rctx, l, metav1.UpdateOptions{})
			}
		}
	}()
	return func() {
		stop()
		<-done
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if l, err := leases.Get(cctx, LeaseName, metav1.GetOptions{}); err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == id {
			_ = leases.Delete(cctx, LeaseName, metav1.DeleteOptions{})
		}
	}, nil
}
