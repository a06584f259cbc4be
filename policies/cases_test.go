package policies

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realWorldCase is one row of testdata/cases/cases.tsv: manifests written
// to reproduce false positives and negatives reported against other
// policy tools (the first rows come from ../shared/cases/policy-real-world,
// the x rows cover the rest of each fault's kind), with the verdict a
// careful engineer expects under prod enforcement.
type realWorldCase struct {
	file     string
	exit     int
	fire     []string // rule ids that must have a mandatory finding
	notFire  []string // rule ids that must have no finding at all
	why      string
	expected string
}

var ruleIDs = regexp.MustCompile(`CS-[A-Z]+-\d+(?:/\d+)*`)

// ids expands "CS-SEC-001/002/008" into its three ids.
func ids(text string) []string {
	var out []string
	for _, m := range ruleIDs.FindAllString(text, -1) {
		parts := strings.Split(m, "/")
		prefix := parts[0][:strings.LastIndex(parts[0], "-")+1]
		out = append(out, parts[0])
		for _, n := range parts[1:] {
			out = append(out, prefix+n)
		}
	}
	return out
}

func readCases(t *testing.T) []realWorldCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cases", "cases.tsv"))
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes = '\t', true
	rows, err := r.ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"file", "expected exit", "what must (not) fire", "why"}, rows[0])
	var out []realWorldCase
	for _, row := range rows[1:] {
		require.Len(t, row, 4, "cases.tsv row %v", row)
		exit, err := strconv.Atoi(row[1])
		require.NoError(t, err, "%s: expected exit", row[0])
		c := realWorldCase{file: row[0], exit: exit, why: row[3], expected: row[2]}
		switch {
		case strings.Contains(row[2], "should not fire"):
			c.notFire = ids(row[2])
		case strings.Contains(row[2], "should fire"):
			c.fire = ids(row[2])
		default:
			t.Fatalf("%s: %q says neither 'should fire' nor 'should not fire'", row[0], row[2])
		}
		require.NotEmpty(t, append(c.fire, c.notFire...), "%s names no rule", row[0])
		out = append(out, c)
	}
	return out
}

// TestRealWorldCases checks every case's exit code (1 when a mandatory
// finding remains, as `cloudscale policy check --manifests FILE` exits) and
// the rule ids that must or must not fire.
func TestRealWorldCases(t *testing.T) {
	e := newEngine(t)
	cases := readCases(t)
	require.GreaterOrEqual(t, len(cases), 30)
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".yaml"), func(t *testing.T) {
			g, err := LoadManifests(filepath.Join("testdata", "cases", c.file))
			require.NoError(t, err)
			rep, err := e.Check(context.Background(), g, "prod")
			require.NoError(t, err)
			mandatory, found := map[string]bool{}, map[string]bool{}
			var lines []string
			for _, f := range rep.Findings {
				found[f.RuleID] = true
				if f.Enforcement == Mandatory {
					mandatory[f.RuleID] = true
				}
				lines = append(lines, f.RuleID+" "+f.Enforcement+": "+f.Message)
			}
			sort.Strings(lines)
			report := "\n  " + strings.Join(lines, "\n  ")
			exit := 0
			if rep.Mandatory() > 0 {
				exit = 1
			}
			assert.Equal(t, c.exit, exit, "exit code (%s; %s)%s", c.expected, c.why, report)
			for _, id := range c.fire {
				assert.True(t, mandatory[id], "%s must fire (%s)%s", id, c.why, report)
			}
			for _, id := range c.notFire {
				assert.False(t, found[id], "%s must not fire (%s)%s", id, c.why, report)
			}
		})
	}
}

func TestCaseIDs(t *testing.T) {
	assert.Equal(t, []string{"CS-SEC-001", "CS-SEC-002", "CS-SEC-008"}, ids("CS-SEC-001/002/008 should fire"))
	assert.Equal(t, []string{"CS-HA-005", "CS-HA-006"}, ids("CS-HA-005 and CS-HA-006 should fire (HA)"))
}
