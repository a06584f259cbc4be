package testserver

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPgBouncerTransactionMode: through PgBouncer 1.18 in transaction
// mode, pgx works with the query modes that prepare no named statement,
// under concurrency (8 clients over 2 server connections), and the
// default statement cache breaks once the server connection changes.
func TestPgBouncerTransactionMode(t *testing.T) {
	ctx := context.Background()
	pg := Postgres(t)
	b := PgBouncer(t, pg, BouncerPoolSize(2))

	for _, mode := range []string{"simple_protocol", "exec", "cache_describe"} {
		t.Run(mode, func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(b.URL() + "&default_query_exec_mode=" + mode)
			require.NoError(t, err)
			cfg.MaxConns = 8
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			defer pool.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 8*50)
			for w := range 8 {
				wg.Go(func() {
					for i := range 50 {
						var got string
						if err := pool.QueryRow(ctx, "SELECT $1::text || $2::int", fmt.Sprintf("w%d", w), i).Scan(&got); err != nil {
							errs <- err
						} else if got != fmt.Sprintf("w%d%d", w, i) {
							errs <- fmt.Errorf("got %q", got)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// A transaction keeps its server connection.
			tx, err := pool.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, "SET LOCAL statement_timeout = '5s'")
			require.NoError(t, err)
			var timeout string
			require.NoError(t, tx.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout))
			assert.Equal(t, "5s", timeout)
			require.NoError(t, tx.Commit(ctx))
		})
	}

	t.Run("cache_statement fails after the server connection changes", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, b.URL())
		require.NoError(t, err)
		defer conn.Close(ctx)
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT $1::int", 1).Scan(&n))
		// RECONNECT closes the server connections once released: the next
		// statement runs on a new one, where pgx's cached statement is unknown.
		admin, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/pgbouncer?sslmode=disable&default_query_exec_mode=simple_protocol",
			b.User, b.Password, b.Port))
		require.NoError(t, err)
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, "RECONNECT "+b.Database)
		require.NoError(t, err)
		err = conn.QueryRow(ctx, "SELECT $1::int", 2).Scan(&n)
		require.Error(t, err)
		assert.Regexp(t, `prepared statement "stmtcache_[0-9a-f]+" does not exist`, err.Error())
	})
}

// TestPgBouncerRetarget: after a failover the pool is pointed at the
// promoted replica and serves from it.
func TestPgBouncerRetarget(t *testing.T) {
	ctx := context.Background()
	primary := Postgres(t)
	replica := primary.StartReplica(t)
	b := PgBouncer(t, primary)
	primary.Stop(t)
	replica.Promote(t)
	b.Retarget(t, replica)
	conn, err := pgx.Connect(ctx, b.URL()+"&default_query_exec_mode=exec")
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE after_failover (id int)")
	require.NoError(t, err)
}
