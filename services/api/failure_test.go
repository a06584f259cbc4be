package main

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/stores"
	"github.com/cloudscale/platform/services/testserver"
)

// outcome is one request's answer, when it was sent and when answered.
type outcome struct {
	at, done time.Time
	status   int
	id       string
}

// loop calls f every interval until ctx is done, recording outcomes.
func loop(ctx context.Context, wg *sync.WaitGroup, interval time.Duration, f func() outcome, out *[]outcome, mu *sync.Mutex) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			o := f()
			o.done = time.Now()
			mu.Lock()
			*out = append(*out, o)
			mu.Unlock()
			time.Sleep(interval)
		}
	}()
}

// firstSuccessAfter is the time from t0 to the first answer of a 2xx
// outcome sent after t0 (-1 if none): how long until the API worked
// again.
func firstSuccessAfter(list []outcome, t0 time.Time) time.Duration {
	best := time.Duration(-1)
	for _, o := range list {
		if o.at.After(t0) && o.status >= 200 && o.status < 300 && (best < 0 || o.done.Sub(t0) < best) {
			best = o.done.Sub(t0)
		}
	}
	return best
}

// slowest is the longest answer among outcomes sent after t0.
func slowest(list []outcome, t0 time.Time) time.Duration {
	var d time.Duration
	for _, o := range list {
		if o.at.After(t0) {
			d = max(d, o.done.Sub(o.at))
		}
	}
	return d
}

// TestRedisMasterKilled kills redis-state's master (Sentinel, three
// sentinels) while sessions are written and products read. The API keeps
// answering: the cache (on the same Sentinel set) degrades to misses,
// product reads never fail, and sessions work again once Sentinel
// promoted a replica (the failover client follows it).
func TestRedisMasterKilled(t *testing.T) {
	sentinel := testserver.RedisSentinel(t, "redis-state")
	pg := testserver.Postgres(t)
	rabbit := testserver.SharedRabbitMQ(t)
	declareTopology(t, rabbit.URL)
	viaSentinel := stores.Redis{Sentinels: sentinel.Addrs, Master: sentinel.MasterName, Password: sentinel.Password}
	cacheDB := viaSentinel
	cacheDB.DB = 1
	api := start(t, servers{pg: pg, pgURL: pg.URL(), rabbit: rabbit, mongoURI: testserver.MongoDB(t).URI,
		state: viaSentinel, cache: cacheDB})
	putProduct(t, api, "kettle-1", 3000, 10)

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		sessions, product []outcome
	)
	loop(ctx, &wg, 20*time.Millisecond, func() outcome {
		at := time.Now()
		res := api.do(t, request{method: "POST", path: "/api/v1/account/sessions", subject: "sam"})
		return outcome{at: at, status: res.status}
	}, &sessions, &mu)
	loop(ctx, &wg, 20*time.Millisecond, func() outcome {
		at := time.Now()
		res := api.do(t, request{method: "GET", path: "/api/v1/products/kettle-1"})
		return outcome{at: at, status: res.status}
	}, &product, &mu)

	time.Sleep(time.Second)
	old := sentinel.MasterAddr(t)
	killed := time.Now()
	sentinel.KillMaster(t)
	promoted := sentinel.WaitFailover(t, old, 30*time.Second)
	failover := time.Since(killed)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		rec := firstSuccessAfter(sessions, killed.Add(failover))
		mu.Unlock()
		if rec >= 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	var failedSessions, productErrors int
	for _, o := range sessions {
		if o.at.After(killed) && o.status != http.StatusCreated {
			failedSessions++
		}
	}
	for _, o := range product {
		if o.status != http.StatusOK {
			productErrors++
		}
	}
	recovery := firstSuccessAfter(sessions, killed)
	t.Logf("redis master %s killed; sentinel promoted %s after %.2fs", old, promoted, failover.Seconds())
	t.Logf("session writes: %d, %d failed after the kill, slowest after the kill %.2fs; recovery (first session write sent after the kill that succeeded, answered) %.2fs after the kill",
		len(sessions), failedSessions, slowest(sessions, killed).Seconds(), recovery.Seconds())
	t.Logf("product reads (cache on the killed master): %d, non-200: %d, slowest after the kill %.2fs",
		len(product), productErrors, slowest(product, killed).Seconds())
	assert.Zero(t, productErrors, "a product read failed while the cache's Redis failed over")
	assert.GreaterOrEqual(t, recovery, time.Duration(0), "no session write succeeded after the kill")

	res := api.do(t, request{method: "POST", path: "/api/v1/account/sessions", subject: "sam"})
	require.Equal(t, http.StatusCreated, res.status, "session write after the failover: %s", res.body)
	var s struct{ ID string }
	res.json(t, &s)
	res = api.do(t, request{method: "GET", path: "/api/v1/account/sessions/" + s.ID, subject: "sam"})
	assert.Equal(t, http.StatusOK, res.status, "session read after the failover")
}

// TestPostgresPrimaryStopped crashes the PostgreSQL primary while orders
// are created and promotes its synchronous streaming replica. The API
// runs on the multi-host URL (target_session_attrs=read-write), directly
// (not through PgBouncer): requests fail for a while, then succeed
// without a restart, and every order answered 201 or 202 is in the
// promoted database.
func TestPostgresPrimaryStopped(t *testing.T) {
	primary := testserver.Postgres(t)
	replica := primary.StartReplica(t)
	primary.SetSynchronous(t, replica)
	redisServer := testserver.Redis(t)
	rabbit := testserver.SharedRabbitMQ(t)
	declareTopology(t, rabbit.URL)
	r := stores.Redis{Addr: redisServer.Addr, Password: redisServer.Password}
	cacheDB := r
	cacheDB.DB = 1
	api := start(t, servers{pg: primary, pgURL: testserver.MultiHostURL(primary, replica), rabbit: rabbit,
		mongoURI: testserver.MongoDB(t).URI, state: r, cache: cacheDB})
	putProduct(t, api, "desk-1", 15000, 1_000_000)

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []outcome
		n       atomic.Int64
	)
	for range 2 {
		loop(ctx, &wg, 10*time.Millisecond, func() outcome {
			at := time.Now()
			n.Add(1)
			res := api.do(t, request{method: "POST", path: "/api/v1/account/orders", subject: "pat",
				body: orderBody(false, "desk-1", 1)})
			o := outcome{at: at, status: res.status}
			if res.status == http.StatusCreated || res.status == http.StatusAccepted {
				var ord orders.Order
				res.json(t, &ord)
				o.id = ord.ID
			}
			return o
		}, &results, &mu)
	}
	time.Sleep(2 * time.Second)
	stopped := time.Now()
	primary.Stop(t)
	replica.Promote(t)
	promoted := time.Since(stopped)
	deadline := time.Now().Add(60 * time.Second)
	var recovery time.Duration = -1
	for time.Now().Before(deadline) && recovery < 0 {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		recovery = firstSuccessAfter(results, stopped.Add(promoted))
		mu.Unlock()
	}
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()

	var answered []string
	failed, before := 0, 0
	for _, o := range results {
		switch {
		case o.id != "":
			answered = append(answered, o.id)
			if o.at.Before(stopped) {
				before++
			}
		case o.at.After(stopped):
			failed++
		}
	}
	conn, err := pgx.Connect(context.Background(), replica.URL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var lost int
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM unnest($1::uuid[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id)`,
		answered).Scan(&lost))
	t.Logf("orders sent %d, answered 201/202 %d (%d before the stop), failed after the stop %d", n.Load(), len(answered), before, failed)
	t.Logf("primary stopped, replica promoted %.2fs later; recovery (first order sent after the stop that succeeded, answered) %.2fs after the stop, no API restart; slowest answer after the stop %.2fs; lost %d",
		promoted.Seconds(), firstSuccessAfter(results, stopped).Seconds(), slowest(results, stopped).Seconds(), lost)
	require.GreaterOrEqual(t, recovery, time.Duration(0), "no order succeeded within 60s of the promotion")
	assert.Positive(t, before)
	assert.Zero(t, lost, "orders answered 201/202 are missing from the promoted database")
}
