// Package config reads a service's configuration from its environment, the
// way every Go service of the platform does: a struct tagged for
// github.com/caarlos0/env/v11, filled by Load, with secrets read from the
// files Kubernetes mounts (never from plain variables), and every problem
// reported at once, each naming its variable.
//
// A service embeds Service (what every service shares) in its own struct:
//
//	type Config struct {
//		config.Service
//		DatabaseURL string `env:"DATABASE_URL,required"`
//		DBPassword  string `env:"DATABASE_PASSWORD_FILE,file,required"`
//	}
//	cfg := Config{Service: config.Service{Name: "api-service"}}
//	if err := config.Load(&cfg); err != nil { ... }
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Service is what every service shares; services embed it (no prefix).
// Name has no default: callers set it before Load and SERVICE_NAME
// overrides it.
type Service struct {
	// Name is the service's name (resource attribute service.name, log
	// attribute service).
	Name string `env:"SERVICE_NAME"`
	// Version is the running build (service.version; the canary subsets'
	// version label).
	Version string `env:"SERVICE_VERSION" envDefault:"dev"`
	// Listen is the HTTP listen address, host:port (host may be empty).
	Listen string `env:"LISTEN_ADDR" envDefault:":8080"`
	// LogLevel is the lowest level logged: DEBUG, INFO, WARN, ERROR (or
	// slog's offsets such as INFO+2).
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"INFO"`
	// OTLPEndpoint is the OTLP/gRPC collector, "host:port" or
	// "http://host:port"; empty: spans are not exported.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// TraceSampling is the ratio of new traces sampled, 0..1 (parent-based:
	// a sampled caller's trace is always continued).
	TraceSampling float64 `env:"TRACE_SAMPLING" envDefault:"1"`
	// ShutdownTimeout bounds the graceful shutdown (in-flight requests and
	// messages finish within it).
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	// DrainDelay is how long /readyz answers 503 before the server stops
	// accepting, so endpoints drop the pod first.
	DrainDelay time.Duration `env:"DRAIN_DELAY" envDefault:"5s"`
}

// Validate checks the values Load could parse but not judge: each error
// is a *VarError naming its variable, all of them joined.
func (s Service) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &VarError{Var: key, Err: fmt.Errorf(format, args...)})
	}
	if strings.TrimSpace(s.Name) == "" {
		bad("SERVICE_NAME", "is empty (the service sets a default; set the variable or the default)")
	}
	if err := CheckAddr(s.Listen); err != nil {
		bad("LISTEN_ADDR", "%q is not host:port: %v", s.Listen, err)
	}
	if s.OTLPEndpoint != "" {
		if err := checkEndpoint(s.OTLPEndpoint); err != nil {
			bad("OTEL_EXPORTER_OTLP_ENDPOINT", "%q: %v", s.OTLPEndpoint, err)
		}
	}
	if math.IsNaN(s.TraceSampling) || s.TraceSampling < 0 || s.TraceSampling > 1 {
		bad("TRACE_SAMPLING", "%v is not a ratio within 0..1", s.TraceSampling)
	}
	if s.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "%v must be more than 0", s.ShutdownTimeout)
	}
	if s.DrainDelay < 0 {
		bad("DRAIN_DELAY", "%v must not be negative", s.DrainDelay)
	}
	return errors.Join(errs...)
}

// CheckAddr accepts a listen or dial address, "host:port" or ":port",
// whose port is a number within 0..65535 (for a service's own address
// variables beside LISTEN_ADDR).
func CheckAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number within 0..65535", port)
	}
	return nil
}

// checkEndpoint accepts "host:port" or an http(s) URL with a host.
func checkEndpoint(e string) error {
	if !strings.Contains(e, "://") {
		if err := CheckAddr(e); err != nil {
			return fmt.Errorf("neither host:port nor http(s)://host:port: %w", err)
		}
		return nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// VarError is one problem with one environment variable.
type VarError struct {
	Var string // the variable, e.g. "LISTEN_ADDR"
	Err error  // what is wrong; never holds a secret's value
}

func (e *VarError) Error() string { return e.Var + ": " + e.Err.Error() }

func (e *VarError) Unwrap() error { return e.Err }

// Validator is a configuration that checks itself after Load filled it.
type Validator interface{ Validate() error }

// Load fills cfg, a pointer to a struct tagged for caarlos0/env
// (`env:"NAME"`, `envDefault:"..."`, options required, notEmpty, file,
// envPrefix on nested structs), from the process environment.
//
// Fields tagged `env:"X,file"` hold the content of the file whose path the
// variable X names (a mounted Secret); one trailing newline is dropped from
// string fields read so. Fields whose variable is unset keep the value they
// had unless the tag has an envDefault, so callers set defaults (such as
// Service.Name) before Load.
//
// After parsing, Load calls cfg's Validate method when it has one (a
// struct embedding Service has Service.Validate; a struct defining its own
// should call s.Service.Validate() in it).
//
// The error joins (errors.Join) every problem found, each a *VarError
// naming its variable: required but unset, set but empty, unparsable (the
// value is quoted, except a secret's), a file that cannot be read, or a
// value Validate rejects. No error holds a file's content.
func Load(cfg any) error {
	return load(cfg, env.ToMap(os.Environ()))
}

// load is Load over an explicit environment.
func load(cfg any, environ map[string]string) error {
	fields, err := describe(cfg)
	if err != nil {
		return err
	}
	var errs []error
	failed := map[string]bool{}
	if perr := env.ParseWithOptions(cfg, env.Options{Environment: environ}); perr != nil {
		var agg env.AggregateError
		list := []error{perr}
		if errors.As(perr, &agg) {
			list = agg.Errors
		}
		for _, e := range list {
			ve := explain(e, fields, environ)
			failed[ve.Var] = true
			errs = append(errs, ve)
		}
	}
	for _, f := range fields {
		if f.file && f.value.Kind() == reflect.String && !failed[f.key] {
			f.value.SetString(trimNewline(f.value.String()))
		}
	}
	if v, ok := cfg.(Validator); ok {
		// A variable that failed to parse holds a zero value: its
		// validation error would only repeat the parse error.
		for _, e := range flatten(v.Validate()) {
			var ve *VarError
			if errors.As(e, &ve) && failed[ve.Var] {
				continue
			}
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

func trimNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		return strings.TrimSuffix(t, "\r")
	}
	return s
}

// flatten lists the errors errors.Join joined (or err alone).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// field is one tagged field of the configuration struct.
type field struct {
	name  string // the Go field name, as env's ParseError gives it
	key   string // the variable, with its prefix
	file  bool   // the variable names a file holding the value (a secret)
	value reflect.Value
}

// describe lists cfg's tagged fields the way caarlos0/env walks them
// (nested and embedded structs, envPrefix), so its errors, which name Go
// fields, can name variables instead.
func describe(cfg any) ([]field, error) {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config.Load: want a non-nil pointer to a struct, got %T", cfg)
	}
	var out []field
	walk(v.Elem(), "", &out, 0)
	return out, nil
}

func walk(v reflect.Value, prefix string, out *[]field, depth int) {
	if depth > 16 { // a self-referencing type; env stops at nil pointers anyway
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		sf, fv := t.Field(i), v.Field(i)
		if !fv.CanSet() {
			continue
		}
		tag := sf.Tag.Get("env")
		key, opts, _ := strings.Cut(tag, ",")
		if key != "" && key != "-" {
			*out = append(*out, field{name: sf.Name, key: prefix + key, file: hasOption(opts, "file"), value: fv})
		}
		if key == "-" {
			continue
		}
		inner := fv
		if inner.Kind() == reflect.Pointer && !inner.IsNil() {
			inner = inner.Elem()
		}
		if inner.Kind() == reflect.Struct {
			walk(inner, prefix+sf.Tag.Get("envPrefix"), out, depth+1)
		}
	}
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// explain turns one of env's errors into a *VarError naming the variable,
// without a secret's value.
func explain(err error, fields []field, environ map[string]string) *VarError {
	var (
		unset    env.VarIsNotSetError
		empty    env.EmptyVarError
		fileErr  env.LoadFileContentError
		parseErr env.ParseError
		noParser env.NoParserError
	)
	switch {
	case errors.As(err, &unset):
		return &VarError{Var: unset.Key, Err: errors.New("is required but not set")}
	case errors.As(err, &empty):
		return &VarError{Var: empty.Key, Err: errors.New("is set but empty")}
	case errors.As(err, &fileErr):
		// The os error names the path and the reason, never the content.
		return &VarError{Var: fileErr.Key, Err: fmt.Errorf("cannot read the file it names: %w", fileErr.Err)}
	case errors.As(err, &parseErr):
		f := byName(fields, parseErr.Name)
		if f.file {
			return &VarError{Var: f.key, Err: fmt.Errorf("the content of file %q is not a valid %s", environ[f.key], parseErr.Type)}
		}
		return &VarError{Var: f.key, Err: fmt.Errorf("%q is not a valid %s: %v", environ[f.key], parseErr.Type, unquoted(parseErr.Err))}
	case errors.As(err, &noParser):
		f := byName(fields, noParser.Name)
		return &VarError{Var: f.key, Err: fmt.Errorf("no parser for type %s (a programming error)", noParser.Type)}
	}
	return &VarError{Var: "(config)", Err: err}
}

// byName is the field env's error names; when two nested structs share a
// field name, every candidate variable is named.
func byName(fields []field, name string) field {
	var found []field
	for _, f := range fields {
		if f.name == name {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return field{name: name, key: name}
	case 1:
		return found[0]
	}
	keys := make([]string, len(found))
	file := false
	for i, f := range found {
		keys[i] = f.key
		file = file || f.file
	}
	return field{name: name, key: strings.Join(keys, " or "), file: file}
}

// unquoted drops strconv's repetition of the input from its errors (the
// caller quotes the value once).
func unquoted(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
