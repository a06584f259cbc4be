package run

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cloudscale/platform/chaos/experiments"
)

// One run at a time: a second run is refused while the first holds the
// lease, a killed run's lease is taken over once stale, and release hands
// it back.
func TestRunLease(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	id, err := InProgress(ctx, kube)
	require.NoError(t, err)
	assert.Empty(t, id)

	release, err := acquire(ctx, kube, "first")
	require.NoError(t, err)
	id, err = InProgress(ctx, kube)
	require.NoError(t, err)
	assert.Equal(t, "first", id)

	_, err = acquire(ctx, kube, "second")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chaos run first is in progress")

	release()
	id, err = InProgress(ctx, kube)
	require.NoError(t, err)
	assert.Empty(t, id, "released")

	// A killed run: its lease was last renewed long ago.
	release, err = acquire(ctx, kube, "killed")
	require.NoError(t, err)
	leases := kube.CoordinationV1().Leases(experiments.Namespace)
	l, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	require.NoError(t, err)
	old := metav1.NewMicroTime(time.Now().Add(-2 * leaseDuration))
	l.Spec.RenewTime = &old
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	require.NoError(t, err)
	id, err = InProgress(ctx, kube)
	require.NoError(t, err)
	assert.Empty(t, id, "a stale lease is no run in progress")
	next, err := acquire(ctx, kube, "next")
	require.NoError(t, err, "a stale lease is taken over")
	release() // the killed run's release must not drop the new holder's lease
	id, err = InProgress(ctx, kube)
	require.NoError(t, err)
	assert.Equal(t, "next", id)
	next()
}
