package testserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresFailover: a row committed on the primary reaches the
// streaming replica; after the primary crashes and the replica is
// promoted, a pool on the multi-host URL writes to the new primary without
// being rebuilt, and the committed row is there.
func TestPostgresFailover(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	primary := Postgres(t)
	t.Logf("primary on %s:%d ready in %s", primary.Host, primary.Port, time.Since(t0).Round(time.Millisecond))
	assert.True(t, primary.IsPrimary(t))
	assert.NotContains(t, primary.URL(), "postgres@")

	t1 := time.Now()
	replica := primary.StartReplica(t)
	t.Logf("replica on %s:%d streaming in %s", replica.Host, replica.Port, time.Since(t1).Round(time.Millisecond))
	assert.False(t, replica.IsPrimary(t))
	primary.SetSynchronous(t, replica)

	pool, err := pgxpool.New(ctx, MultiHostURL(primary, replica))
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, "CREATE TABLE orders (id int PRIMARY KEY)")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "INSERT INTO orders VALUES (1)")
	require.NoError(t, err)

	rconn, err := pgx.Connect(ctx, replica.URL())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		return rconn.QueryRow(ctx, "SELECT count(*) FROM orders WHERE id = 1").Scan(&n) == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond, "the committed row never reached the replica")
	_, err = rconn.Exec(ctx, "INSERT INTO orders VALUES (2)")
	require.ErrorContains(t, err, "read-only transaction")
	rconn.Close(ctx)

	t2 := time.Now()
	primary.Stop(t)
	replica.Promote(t)
	t.Logf("primary crashed and replica promoted in %s", time.Since(t2).Round(time.Millisecond))
	assert.True(t, replica.IsPrimary(t))

	var n int
	require.Eventually(t, func() bool {
		_, err = pool.Exec(ctx, "INSERT INTO orders VALUES (2)")
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "the pool on the multi-host URL never wrote to the new primary: %v", err)
	t.Logf("pool on the multi-host URL writing again %s after the crash", time.Since(t2).Round(time.Millisecond))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n))
	assert.Equal(t, 2, n)

	// The old primary comes back on its port after crash recovery, as a
	// second (diverged) primary: the multi-host URL still prefers it first
	// when it is listed first, which is why a real failover fences it.
	primary.Start(t)
	assert.True(t, primary.IsPrimary(t))
}

// TestPostgresRunsAsItsOwnUser: under root the server's files belong to
// the postgres user; the data directory is not under the test's temp dir.
func TestPostgresRunsAsItsOwnUser(t *testing.T) {
	p := Postgres(t)
	st, err := os.Stat(filepath.Join(p.DataDir, "PG_VERSION"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(p.DataDir, "PG_VERSION"))
	require.NoError(t, err)
	assert.Equal(t, "15", strings.TrimSpace(string(b)))
	if os.Geteuid() == 0 {
		assert.NotEqual(t, uint32(0), fileUID(st))
	}
	conn, err := pgx.Connect(context.Background(), p.URL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var user, db, addr string
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT current_user, current_database(), inet_server_addr()::text").Scan(&user, &db, &addr))
	assert.Equal(t, []string{"app", "app", "127.0.0.1/32"}, []string{user, db, addr})

	_, err = pgx.Connect(context.Background(), strings.Replace(p.URL(), p.Password, "wrong", 1))
	assert.ErrorContains(t, err, "password authentication failed")
}
