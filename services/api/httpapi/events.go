package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/server"
)

// final reports whether no status follows s.
func final(s orders.Status) bool { return s == orders.Confirmed || s == orders.Rejected }

// orderEvents streams the order's status as server-sent events (event
// "status", data an orders.StatusChange): first the current one, then each
// change the worker publishes on orders.StatusChannel, until the order is
// confirmed or rejected, the client goes away or the server stops. A
// comment line is sent every Heartbeat so proxies keep the stream open.
func (a *API) orderEvents(w http.ResponseWriter, r *http.Request, subject string) {
	ctx := r.Context()
	id := r.PathValue("id")
	// Subscribe before reading the current status, so that no change
	// falls between the two.
	sub := a.d.Status.Subscribe(ctx, orders.StatusChannel(id))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		a.storeFailed(w, r, "subscribing to the order's status failed", err)
		return
	}
	o, err := a.d.Orders.Order(ctx, subject, id)
	if errors.Is(err, orders.ErrNotFound) {
		problem(w, r, http.StatusNotFound, "you have no order with this id")
		return
	}
	if err != nil {
		a.storeFailed(w, r, "reading the order failed", err)
		return
	}
	a.streams.Inc()
	defer a.streams.Dec()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(format string, args ...any) bool {
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	current := orders.StatusChange{OrderID: o.ID, Status: o.Status, Reason: o.Reason, At: o.UpdatedAt}
	if !sendStatus(send, current) || final(o.Status) {
		return
	}
	a.stream(r, sub, send)
}

// stream relays the subscription's messages until a final status.
func (a *API) stream(r *http.Request, sub *redis.PubSub, send func(string, ...any) bool) {
	ctx := r.Context()
	heartbeat := time.NewTicker(a.d.Heartbeat)
	defer heartbeat.Stop()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-server.Stopping(ctx):
			return // the client reconnects to another replica
		case <-heartbeat.C:
			if !send(": heartbeat\n\n") {
				return
			}
		case m, ok := <-msgs:
			if !ok {
				return
			}
			var sc orders.StatusChange
			if err := json.Unmarshal([]byte(m.Payload), &sc); err != nil {
				a.d.Log.WarnContext(ctx, "a status change does not decode", "channel", m.Channel, "error", err)
				continue
			}
			if !sendStatus(send, sc) || final(sc.Status) {
				return
			}
		}
	}
}

func sendStatus(send func(string, ...any) bool, sc orders.StatusChange) bool {
	b, err := json.Marshal(sc)
	if err != nil {
		return false
	}
	return send("event: status\ndata: %s\n\n", b)
}
