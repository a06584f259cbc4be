package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/cloudscale/platform/strict"
)

// Problem is one wrong value: the config key and what is wrong with it.
type Problem struct {
	Key     string `json:"key"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// Error lists every problem of one stack's configuration, so a user fixes
// them in one pass instead of one run per mistake.
type Error struct {
	Source   string    `json:"source"`
	Problems []Problem `json:"problems"`
}

func (e *Error) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	fmt.Fprintf(&b, "%s: %d problem", e.Source, n)
	if n != 1 {
		b.WriteString("s")
	}
	b.WriteString(" in stack configuration:")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

func newError(source string, errs field.ErrorList) *Error {
	e := &Error{Source: source}
	for _, fe := range errs {
		e.Problems = append(e.Problems, Problem{Key: fe.Field, Message: fe.ErrorBody()})
	}
	return e
}

// configKey is one tagged field of Spec.
type configKey struct {
	name  string
	index int
}

// configKeys are Spec's keys in field order.
var configKeys = func() []configKey {
	t := reflect.TypeFor[Spec]()
	var out []configKey
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, configKey{name, i})
		}
	}
	return out
}()

var topKeys = func() []string {
	var out []string
	for _, k := range configKeys {
		out = append(out, k.name)
	}
	return out
}()

// Load builds and validates the Spec of stack from its raw config: keys as
// Pulumi names them ("cloudscale:replicaCount", or without namespace),
// scalar values as text and structured values as JSON text, exactly what a
// Pulumi program receives. Every problem is reported in one *Error.
func Load(stack string, raw map[string]string) (Spec, error) {
	return load("stack "+stack, stack, raw, "")
}

// LoadIn is Load with files the config names (gateway.documentFile)
// resolved against dir, the stacks' directory.
func LoadIn(dir, stack string, raw map[string]string) (Spec, error) {
	return load("stack "+stack, stack, raw, dir)
}

func load(source, stack string, raw map[string]string, dir string) (Spec, error) {
	cfg := map[string]string{}
	var errs field.ErrorList
	for k, v := range raw {
		ns, name, found := strings.Cut(k, ":")
		if !found {
			ns, name = Namespace, k
		}
		if ns == Namespace {
			cfg[name] = v // other packages' config (aws:, kubernetes:, ...) is theirs to read
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		if !containsKey(k) {
			errs = append(errs, strict.UnknownKey(keyPath(k), k, topKeys))
		}
	}

	s := Spec{Stack: stack, Namespace: DefaultNamespace, ReplicaCount: DefaultReplicaCount, dir: dir}
	v := reflect.ValueOf(&s).Elem()
	// Keys without defaults of their own (the stack's identity) first:
	// the sections' defaults depend on them.
	for _, k := range configKeys {
		if _, isSection := v.Field(k.index).Addr().Interface().(section); !isSection {
			errs = append(errs, decodeKey(cfg, k, v.Field(k.index))...)
		}
	}
	if s.Cloud == Local {
		if r, given := cfg["region"]; given && r != "local" {
			errs = append(errs, field.Invalid(keyPath("region"), r, "not used by the local cloud; allowed: local, or leave it out"))
		}
		s.Region = "local"
	}
	for _, k := range configKeys {
		if sec, ok := v.Field(k.index).Addr().Interface().(section); ok {
			sec.Default(&s)
			errs = append(errs, decodeKey(cfg, k, v.Field(k.index))...)
		}
	}
	errs = append(errs, s.validateIdentity()...)
	for _, k := range configKeys {
		if sec, ok := v.Field(k.index).Addr().Interface().(section); ok {
			errs = append(errs, sec.Validate(&s, keyPath(k.name))...)
		}
	}
	if len(errs) > 0 {
		return Spec{}, newError(source, errs)
	}
	return s, nil
}

func containsKey(name string) bool {
	for _, k := range configKeys {
		if k.name == name {
			return true
		}
	}
	return false
}

// decodeKey decodes one key's raw value into its field. Pulumi hands a
// program scalars as text and lists and objects as JSON text, so a text
// field takes the value as it is and every other field takes JSON.
func decodeKey(cfg map[string]string, k configKey, f reflect.Value) field.ErrorList {
	raw, given := cfg[k.name]
	if !given {
		return nil
	}
	p := keyPath(k.name)
	data := []byte(raw)
	if f.Kind() == reflect.String {
		data, _ = json.Marshal(raw)
	} else if !json.Valid(data) {
		return field.ErrorList{field.Invalid(p, raw, "not "+describeKind(f.Kind()))}
	}
	if f.Kind() == reflect.Slice {
		// A list given replaces the default list (decoding into it would
		// keep the defaults' fields in items the list leaves out).
		f.Set(reflect.Zero(f.Type()))
	}
	return strict.Decode(data, f.Addr().Interface(), p)
}

func describeKind(k reflect.Kind) string {
	switch k {
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean; allowed: true, false"
	case reflect.Slice:
		return "a list; write it as a YAML list"
	}
	return "an object; write it as a YAML mapping"
}

// stackFile is a Pulumi stack settings file; its config is kept raw here
// and decoded key by key, as a program receives it.
type stackFile struct {
	Config          map[string]any `json:"config"`
	SecretsProvider string         `json:"secretsprovider,omitempty"`
	EncryptedKey    string         `json:"encryptedkey,omitempty"`
	EncryptionSalt  string         `json:"encryptionsalt,omitempty"`
	Environment     any            `json:"environment,omitempty"`
}

// LoadFile loads and validates a Pulumi.<stack>.yaml file.
func LoadFile(path string) (Spec, error) {
	stack, err := StackName(path)
	if err != nil {
		return Spec{}, err
	}
	raw, err := ReadConfigFile(path)
	if err != nil {
		return Spec{}, err
	}
	return load(path, stack, raw, filepath.Dir(path))
}

// StackName derives the stack name from a Pulumi.<stack>.yaml path.
func StackName(path string) (string, error) {
	base := filepath.Base(path)
	if !strings.HasPrefix(base, "Pulumi.") || !strings.HasSuffix(base, ".yaml") || len(base) <= len("Pulumi..yaml") {
		return "", fmt.Errorf("%s: a stack file must be named Pulumi.<stack>.yaml", path)
	}
	return strings.TrimSuffix(strings.TrimPrefix(base, "Pulumi."), ".yaml"), nil
}

// ReadConfigFile returns the config of a stack settings file in the form a
// Pulumi program receives it: scalars as text, lists and objects as JSON.
func ReadConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read stack file: %w", path, err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %v", path, err)
	}
	var f stackFile
	if errs := strict.Decode(js, &f, nil); len(errs) > 0 {
		return nil, newError(path, errs)
	}
	raw := make(map[string]string, len(f.Config))
	for k, v := range f.Config {
		switch t := v.(type) {
		case string:
			raw[k] = t
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("%s: config key %s: %v", path, k, err)
			}
			raw[k] = string(b)
		}
	}
	return raw, nil
}

// Discover lists the stacks that have a Pulumi.<stack>.yaml in dir.
func Discover(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range matches {
		if n, err := StackName(m); err == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no Pulumi.<stack>.yaml files", dir)
	}
	return names, nil
}

// FilePath is where a stack's settings file lives under dir.
func FilePath(dir, stack string) string {
	return filepath.Join(dir, "Pulumi."+stack+".yaml")
}
