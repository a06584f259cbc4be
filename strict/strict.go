// Package strict decodes JSON and YAML into tagged Go structs the way the
// Kubernetes API server's strict field validation does (it uses the same
// decoder, sigs.k8s.io/json): keys match json tags case-sensitively, and
// every unknown or duplicate key is reported with its path. Problems come
// back as a field.ErrorList (k8s.io/apimachinery), so a caller reports them
// together with its own validation, each naming its key.
package strict

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/agext/levenshtein"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Decode decodes the JSON document data into v (a pointer), reporting
// problems under root: every unknown or duplicate key, or else the first
// value of the wrong type, or the syntax error. What decoded is kept in v
// either way, so defaults set in v before survive for absent keys.
func Decode(data []byte, v any, root *field.Path) field.ErrorList {
	strictErrs, err := sigsjson.UnmarshalStrict(data, v)
	var errs field.ErrorList
	for _, se := range strictErrs {
		errs = append(errs, strictError(se, reflect.TypeOf(v), root))
	}
	if err != nil {
		errs = append(errs, decodeError(data, v, err, root))
	}
	return errs
}

// DecodeYAML is Decode for a YAML document (JSON is YAML too).
func DecodeYAML(data []byte, v any, root *field.Path) field.ErrorList {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return field.ErrorList{field.Invalid(root, field.OmitValueType{}, "invalid YAML: "+strings.TrimPrefix(err.Error(), "error converting YAML to JSON: yaml: "))}
	}
	return Decode(js, v, root)
}

func strictError(err error, t reflect.Type, root *field.Path) *field.Error {
	msg := err.Error()
	var fe sigsjson.FieldError
	if !errors.As(err, &fe) {
		return field.Invalid(root, field.OmitValueType{}, msg)
	}
	p := join(root, fe.FieldPath())
	if strings.HasPrefix(msg, "duplicate field") {
		return field.Duplicate(p, field.OmitValueType{})
	}
	segs := strings.Split(fe.FieldPath(), ".")
	known := Keys(typeAt(t, segs[:len(segs)-1]))
	return UnknownKey(p, segs[len(segs)-1], known)
}

// UnknownKey is the error for a key that is not one of known: it names
// the closest known key when one is near, and lists them all.
func UnknownKey(p *field.Path, key string, known []string) *field.Error {
	detail := "unknown key"
	if s := closest(key, known); s != "" {
		detail += fmt.Sprintf(" (did you mean %q?)", s)
	}
	if len(known) > 0 {
		detail += "; allowed: " + strings.Join(known, ", ")
	}
	return &field.Error{Type: field.ErrorTypeNotSupported, Field: p.String(), BadValue: field.OmitValueType{}, Detail: detail}
}

// Keys lists the JSON keys of struct type t (through pointers), in field
// order; nil when t is not a struct.
func Keys(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case f.Anonymous && name == "":
			out = append(out, Keys(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	return out
}

// typeAt follows dotted JSON keys (with [i] for list items) from t.
func typeAt(t reflect.Type, segs []string) reflect.Type {
	for _, seg := range segs {
		name, _, indexed := strings.Cut(seg, "[")
		t = fieldType(t, name)
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if indexed && t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
	}
	return t
}

func fieldType(t reflect.Type, key string) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			if ft := fieldType(f.Type, key); ft != nil {
				return ft
			}
			continue
		}
		if name == key || (name == "" && f.Name == key) {
			return f.Type
		}
	}
	return nil
}

// closest is the known key nearest to a misspelt one: within three edits,
// or sharing a prefix of five letters and half its length ("replicas" for
// "replicaCount").
func closest(key string, known []string) string {
	best, bestD := "", 4
	k := strings.ToLower(key)
	for _, c := range known {
		lc := strings.ToLower(c)
		d := levenshtein.Distance(k, lc, nil)
		if p := commonPrefix(k, lc); p >= 5 && p*2 >= len(k) {
			d = 1
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// decodeError turns the decoder's error into a field error. The standard
// library's decoder is asked again for a type error, because it exports
// the path and the kind of the value.
func decodeError(data []byte, v any, err error, root *field.Path) *field.Error {
	if ok, off := sigsjson.SyntaxErrorOffset(err); ok {
		return field.Invalid(root, field.OmitValueType{}, fmt.Sprintf("invalid JSON at offset %d", off))
	}
	var te *json.UnmarshalTypeError
	if errors.As(json.Unmarshal(data, reflect.New(reflect.TypeOf(v).Elem()).Interface()), &te) {
		p := join(root, te.Field)
		value := te.Value
		if value == "number" {
			value = literalBefore(data, te.Offset)
		}
		want := kindName(te.Type.Kind().String(), te.Type.String())
		if want == "a string" && strings.HasPrefix(te.Value, "number") {
			// YAML reads an unquoted 1.30 as the number 1.3.
			return field.Invalid(p, value, fmt.Sprintf("a number where text is expected; quote it (\"%s\"), since YAML reads 1.30 as 1.3", value))
		}
		return field.Invalid(p, field.OmitValueType{}, fmt.Sprintf("%s where %s is expected", value, want))
	}
	return field.Invalid(root, field.OmitValueType{}, strings.TrimPrefix(err.Error(), "json: "))
}

// join appends a dotted path from the decoder to root.
func join(root *field.Path, dotted string) *field.Path {
	p := root
	for _, seg := range strings.Split(dotted, ".") {
		if seg == "" {
			continue
		}
		// The strict decoder writes list items as name[i].
		name, idx, hasIdx := strings.Cut(seg, "[")
		if p == nil {
			p = field.NewPath(name)
		} else if name != "" {
			p = p.Child(name)
		}
		for hasIdx {
			var i int
			var rest string
			rest, idx, hasIdx = strings.Cut(idx, "[")
			if _, err := fmt.Sscanf(rest, "%d]", &i); err == nil {
				p = p.Index(i)
			}
		}
	}
	if p == nil {
		return field.NewPath("")
	}
	return p
}

// literalBefore returns the JSON number that ends at offset.
func literalBefore(data []byte, offset int64) string {
	end := min(int(offset), len(data))
	start := end
	for start > 0 && strings.IndexByte("0123456789.eE+-", data[start-1]) >= 0 {
		start--
	}
	if start == end {
		return "a number"
	}
	return string(data[start:end])
}

func kindName(kind, typ string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "a boolean (true or false)"
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "an object"
	}
	return typ
}
