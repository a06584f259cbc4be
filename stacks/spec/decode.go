package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
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

// problems collects Problems while the config is decoded.
type problems []Problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// object is one config object being decoded; it remembers which fields were
// read so that whatever is left is reported as an unknown key.
type object struct {
	key  string
	m    map[string]any
	seen map[string]bool
	ps   *problems
}

// objectAt parses a config value that must be an object. Pulumi hands
// structured config to programs as JSON text; the file loader does the same.
func objectAt(ps *problems, key, raw string) *object {
	o := &object{key: key, m: map[string]any{}, seen: map[string]bool{}, ps: ps}
	if raw == "" {
		return o
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ps.add(key, "%q is not an object; write it as a YAML mapping", raw)
		return o
	}
	m, ok := v.(map[string]any)
	if !ok {
		ps.add(key, "%s is not an object; write it as a YAML mapping", describe(v))
		return o
	}
	o.m = m
	return o
}

func (o *object) field(name string) (any, string, bool) {
	o.seen[name] = true
	v, ok := o.m[name]
	return v, o.key + "." + name, ok && v != nil
}

func (o *object) child(name string) *object {
	v, key, ok := o.field(name)
	c := &object{key: key, m: map[string]any{}, seen: map[string]bool{}, ps: o.ps}
	if !ok {
		return c
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		o.ps.add(key, "%s is not an object; write it as a YAML mapping", describe(v))
		return c
	}
	c.m = m
	return c
}

// unknown reports the fields nobody read, with the closest known name.
func (o *object) unknown(known ...string) {
	var extra []string
	for k := range o.m {
		if !o.seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		o.ps.add(o.key+"."+k, "unknown key%s; allowed: %s", suggest(k, known), strings.Join(known, ", "))
	}
}

func describe(v any) string {
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// asString accepts only text. A number is refused with a hint, since YAML
// reads 1.30 as the number 1.3.
func asString(ps *problems, key string, v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		ps.add(key, "%s is a number; quote it (\"%s\"), since YAML reads 1.30 as 1.3", t, t)
	default:
		ps.add(key, "%s is not a string", describe(v))
	}
	return "", false
}

func asInt(ps *problems, key string, v any) (int, bool) {
	var s string
	switch t := v.(type) {
	case string:
		s = strings.TrimSpace(t)
	case json.Number:
		s = t.String()
	default:
		ps.add(key, "%s is not an integer", describe(v))
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		ps.add(key, "%q is not an integer", s)
		return 0, false
	}
	return n, true
}

func asBool(ps *problems, key string, v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		switch t {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	ps.add(key, "%s is not a boolean; allowed: true, false", describe(v))
	return false, false
}

// asStrings accepts a list of strings, given as a YAML list or (top level)
// as its JSON text.
func asStrings(ps *problems, key string, v any) ([]string, bool) {
	if s, ok := v.(string); ok {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var parsed any
		if err := dec.Decode(&parsed); err != nil {
			ps.add(key, "%q is not a list; write it as a YAML list", s)
			return nil, false
		}
		v = parsed
	}
	list, ok := v.([]any)
	if !ok {
		ps.add(key, "%s is not a list; write it as a YAML list", describe(v))
		return nil, false
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			ps.add(fmt.Sprintf("%s[%d]", key, i), "%s is not a string", describe(item))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// suggest names the known key closest to a misspelt one.
func suggest(got string, known []string) string {
	best, bestD := "", 4
	g := strings.ToLower(got)
	for _, k := range known {
		lk := strings.ToLower(k)
		d := distance(g, lk)
		if p := commonPrefix(g, lk); p >= 5 && p*2 >= len(g) {
			d = 1 // "replicas" for "replicaCount"
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
