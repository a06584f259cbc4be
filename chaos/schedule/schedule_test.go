package schedule

import (
	"testing"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name, expr string
		business   bool
		err        string
	}{
		{"weekdays at ten", "0 10 * * 1-5", true, ""},
		{"every half hour in office hours", "*/30 9-16 * * MON-FRI", true, ""},
		{"with seconds", "0 0 10 * * 1-5", true, ""},
		{"at night", "0 22 * * 1-5", true, "fires at 22:00, outside 09:00-17:00"},
		{"until five past", "0 9-17 * * 1-5", true, "fires at 17:00"},
		{"every day", "0 10 * * *", true, "fires on a weekend"},
		{"on Sunday", "0 10 * * 0", true, "fires on a weekend"},
		{"a day of the month", "0 10 1 * 1-5", true, "a day of the month can fall on a weekend"},
		{"an interval", "@every 30m", true, "an interval (@every) fires at any hour"},
		{"hourly", "@hourly", true, "fires at 00:00"},
		{"at night where allowed", "0 22 * * *", false, ""},
		{"an interval where allowed", "@every 30s", false, ""},
		{"not cron", "every day", false, "expected 5 to 6 fields, found 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.expr, tc.business)
			// The parser agrees with Chaos Mesh's own.
			_, mine := Parser.Parse(tc.expr)
			_, theirs := chaosv1alpha1.StandardCronParser.Parse(tc.expr)
			assert.Equal(t, theirs == nil, mine == nil, "parsers disagree on %q", tc.expr)
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}
