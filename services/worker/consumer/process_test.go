package consumer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
)

func TestDecode(t *testing.T) {
	const id, order = "2b1f7c1e-3c1a-4d8e-9d8a-0f5a2b7c9e10", "7f0d2a61-9a53-4c8f-8a3e-51b6e2d3c4f5"
	for _, tc := range []struct {
		name, body string
		poison     bool
	}{
		{"an event", `{"id":"` + id + `","orderId":"` + order + `","type":"order.created"}`, false},
		{"not JSON", `{"id":`, true},
		{"not an object", `[1,2]`, true},
		{"event id not a UUID", `{"id":"42","orderId":"` + order + `"}`, true},
		{"order id missing", `{"id":"` + id + `"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode([]byte(tc.body))
			assert.Equal(t, tc.poison, IsPoison(err), "error %v", err)
			if !tc.poison {
				assert.Equal(t, order, ev.OrderID)
			}
		})
	}
}

func TestIsPoison(t *testing.T) {
	for _, tc := range []struct {
		err    error
		poison bool
	}{
		{&PoisonError{Reason: "unknown order"}, true},
		{fmt.Errorf("wrapped: %w", &PoisonError{Reason: "x"}), true},
		{&pgconn.PgError{Code: "22P02"}, true},              // invalid text representation
		{&pgconn.PgError{Code: "23503"}, true},              // foreign key violation
		{&pgconn.PgError{Code: "40001"}, false},             // serialization failure
		{&pgconn.PgError{Code: "42P01"}, false},             // undefined table: the schema is not there yet
		{&pgconn.PgError{Code: "57P01"}, false},             // admin shutdown
		{errors.New("dial tcp: connection refused"), false}, // the database is down
	} {
		assert.Equal(t, tc.poison, IsPoison(tc.err), "%v", tc.err)
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]string{1: "100ms", 2: "200ms", 4: "800ms", 6: "3.2s", 7: "5s", 30: "5s"} {
		assert.Equal(t, want, backoff(attempt, 5e9).String(), "attempt %d", attempt)
	}
}
