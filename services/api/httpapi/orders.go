package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cloudscale/platform/services/orders"
	"github.com/cloudscale/platform/services/telemetry"
)

// The bounds of an order list.
const (
	defaultOrderLimit = 20
	maxOrderLimit     = 100
)

// createOrder stores the order with its outbox row in one transaction,
// then publishes the event and waits (ConfirmTimeout) for the broker's
// confirm: confirmed, the order is accepted (201); otherwise it stays
// pending in the outbox for the relay (202).
func (a *API) createOrder(w http.ResponseWriter, r *http.Request, subject string) {
	var body struct {
		Items   []lineBody `json:"items"`
		Express bool       `json:"express"`
	}
	if !decode(w, r, &body) {
		return
	}
	if field, detail := checkLines("items", body.Items, true); field != "" {
		fieldProblem(w, r, http.StatusBadRequest, field, detail)
		return
	}
	n := orders.NewOrder{Customer: subject, Express: body.Express, Headers: amqp.Table{}}
	for _, l := range body.Items {
		n.Lines = append(n.Lines, orders.Line(l))
	}
	telemetry.InjectAMQP(r.Context(), n.Headers)
	order, msg, err := a.d.Orders.CreateOrder(r.Context(), n)
	if pe, ok := orders.IsProductError(err); ok {
		a.productRefused(w, r, body.Items, pe)
		return
	}
	if err != nil {
		a.storeFailed(w, r, "storing the order failed", err)
		return
	}
	w.Header().Set("Location", "/api/v1/account/orders/"+order.ID)
	// The order is committed: the client's going away must not stop the
	// publish, which the relay would otherwise do seconds later.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.d.ConfirmTimeout)
	defer cancel()
	if err := a.d.Publisher.Publish(ctx, msg); err != nil {
		a.d.Log.WarnContext(ctx, "order event not confirmed; the outbox relay will publish it",
			"order", order.ID, "event", msg.ID, "error", err)
		writeJSON(w, http.StatusAccepted, order)
		return
	}
	if err := a.d.Orders.MarkPublished(ctx, msg.ID); err != nil {
		a.d.Log.WarnContext(ctx, "order event confirmed but not marked; the relay will publish it again",
			"order", order.ID, "event", msg.ID, "error", err)
		writeJSON(w, http.StatusAccepted, order)
		return
	}
	order.Status = orders.Accepted
	writeJSON(w, http.StatusCreated, order)
}

// productRefused answers an order a product refused: 422 for an unknown
// SKU, 409 for too little stock, naming the line.
func (a *API) productRefused(w http.ResponseWriter, r *http.Request, lines []lineBody, pe *orders.ProductError) {
	field := "items"
	for i, l := range lines {
		if l.SKU == pe.SKU {
			field = fmt.Sprintf("items[%d]", i)
		}
	}
	if pe.Available < 0 {
		fieldProblem(w, r, http.StatusUnprocessableEntity, field+".sku", field+".sku: "+pe.Error())
		return
	}
	fieldProblem(w, r, http.StatusConflict, field+".quantity", field+".quantity: "+pe.Error())
}

func (a *API) getOrder(w http.ResponseWriter, r *http.Request, subject string) {
	o, err := a.d.Orders.Order(r.Context(), subject, r.PathValue("id"))
	if errors.Is(err, orders.ErrNotFound) {
		problem(w, r, http.StatusNotFound, "you have no order with this id")
		return
	}
	if err != nil {
		a.storeFailed(w, r, "reading the order failed", err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (a *API) listOrders(w http.ResponseWriter, r *http.Request, subject string) {
	limit, ok := intParam(w, r, "limit", defaultOrderLimit, maxOrderLimit)
	if !ok {
		return
	}
	list, err := a.d.Orders.Orders(r.Context(), subject, limit)
	if err != nil {
		a.storeFailed(w, r, "reading the orders failed", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": list})
}
