package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cloudscale/platform/services/api/catalog"
	"github.com/cloudscale/platform/services/api/session"
)

func (a *API) createSession(w http.ResponseWriter, r *http.Request, subject string) {
	s, err := a.d.Sessions.Create(r.Context(), subject)
	if err != nil {
		a.storeFailed(w, r, "creating the session failed", err)
		return
	}
	w.Header().Set("Location", "/api/v1/account/sessions/"+s.ID)
	writeJSON(w, http.StatusCreated, s)
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, subject string) {
	s, err := a.d.Sessions.Touch(r.Context(), subject, r.PathValue("id"))
	if errors.Is(err, session.ErrNotFound) {
		problem(w, r, http.StatusNotFound, "no such session (it expired, ended or is someone else's)")
		return
	}
	if err != nil {
		a.storeFailed(w, r, "reading the session failed", err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request, subject string) {
	err := a.d.Sessions.Delete(r.Context(), subject, r.PathValue("id"))
	if errors.Is(err, session.ErrNotFound) {
		problem(w, r, http.StatusNotFound, "no such session (it expired, ended or is someone else's)")
		return
	}
	if err != nil {
		a.storeFailed(w, r, "ending the session failed", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) getCart(w http.ResponseWriter, r *http.Request, subject string) {
	c, err := a.d.Sessions.Cart(r.Context(), subject)
	if err != nil {
		a.storeFailed(w, r, "reading the cart failed", err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// lineBody is one {sku, quantity} line of a cart or an order.
type lineBody struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// The bounds of a cart's or an order's lines.
const (
	maxLines    = 100
	maxQuantity = 1000
)

// checkLines validates lines (field is the body's list, e.g. "items"):
// each a valid SKU, once, quantity within 1..maxQuantity. It returns the
// field at fault and why.
func checkLines(field string, lines []lineBody, required bool) (string, string) {
	if required && len(lines) == 0 {
		return field, field + ": at least one line is required"
	}
	if len(lines) > maxLines {
		return field, fmt.Sprintf("%s: at most %d lines", field, maxLines)
	}
	seen := map[string]bool{}
	for i, l := range lines {
		at := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !catalog.SKUPattern.MatchString(l.SKU):
			return at + ".sku", at + ".sku: want 1-64 letters, digits, '.', '_' or '-'"
		case seen[l.SKU]:
			return at + ".sku", fmt.Sprintf("%s.sku: %q appears twice; give one line per product", at, l.SKU)
		case l.Quantity < 1 || l.Quantity > maxQuantity:
			return at + ".quantity", fmt.Sprintf("%s.quantity: %d is not within 1..%d", at, l.Quantity, maxQuantity)
		}
		seen[l.SKU] = true
	}
	return "", ""
}

func (a *API) putCart(w http.ResponseWriter, r *http.Request, subject string) {
	var body struct {
		Items []lineBody `json:"items"`
	}
	if !decode(w, r, &body) {
		return
	}
	if field, detail := checkLines("items", body.Items, false); field != "" {
		fieldProblem(w, r, http.StatusBadRequest, field, detail)
		return
	}
	items := make([]session.CartItem, len(body.Items))
	for i, l := range body.Items {
		items[i] = session.CartItem(l)
	}
	c, err := a.d.Sessions.PutCart(r.Context(), subject, items)
	if err != nil {
		a.storeFailed(w, r, "writing the cart failed", err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
