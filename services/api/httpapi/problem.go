package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Problem is an error response body (RFC 9457, application/problem+json).
// Field names the request field at fault, for 400 and 422 answers.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Field    string `json:"field,omitempty"`
}

// maxBody bounds a request body (bytes).
const maxBody = 1 << 20

// problem writes a problem answer: type about:blank, the status' title,
// and detail.
func problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	writeProblem(w, Problem{Status: status, Detail: detail, Instance: r.URL.Path})
}

// fieldProblem writes a 400 (or status) naming field.
func fieldProblem(w http.ResponseWriter, r *http.Request, status int, field, detail string) {
	writeProblem(w, Problem{Status: status, Detail: detail, Instance: r.URL.Path, Field: field})
}

func writeProblem(w http.ResponseWriter, p Problem) {
	p.Type, p.Title = "about:blank", http.StatusText(p.Status)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// internalError logs err with the request's trace and answers 500 without
// the error's text (it may name internals).
func internalError(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	log.ErrorContext(r.Context(), what, "error", err, "path", r.URL.Path)
	problem(w, r, http.StatusInternalServerError, what+"; the error is logged with this request's trace id")
}

// unavailable answers 503 when a store did not answer.
func unavailable(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	log.WarnContext(r.Context(), what, "error", err, "path", r.URL.Path)
	w.Header().Set("Retry-After", "1")
	problem(w, r, http.StatusServiceUnavailable, what+"; retry shortly")
}

// writeJSON writes v as application/json with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads r's JSON body into v: unknown fields, trailing data, a
// wrong type or a body over 1 MiB answer 400 naming the field, and decode
// returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	if err == nil {
		return true
	}
	var (
		typeErr *json.UnmarshalTypeError
		synErr  *json.SyntaxError
		maxErr  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &typeErr):
		fieldProblem(w, r, http.StatusBadRequest, typeErr.Field,
			fmt.Sprintf("field %q: a JSON %s cannot be a %s", typeErr.Field, typeErr.Value, typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		fieldProblem(w, r, http.StatusBadRequest, name, fmt.Sprintf("unknown field %q", name))
	case errors.As(err, &synErr):
		problem(w, r, http.StatusBadRequest, fmt.Sprintf("the body is not valid JSON (offset %d): %v", synErr.Offset, err))
	case errors.As(err, &maxErr):
		problem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", maxBody))
	case errors.Is(err, io.EOF):
		problem(w, r, http.StatusBadRequest, "the body is empty; a JSON object is expected")
	default:
		problem(w, r, http.StatusBadRequest, "the body is not valid JSON: "+err.Error())
	}
	return false
}
