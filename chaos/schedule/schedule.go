// Package schedule checks when chaos experiments may run: a cron
// expression read by the same parser (and options) as Chaos Mesh's own
// Schedule controller, and the business-hours rule for production. It
// imports only the cron library, so stack config validation can use it
// without the chaos-mesh API.
package schedule

import (
	"errors"
	"fmt"

	"github.com/robfig/cron/v3"
)

// Parser reads a schedule as Chaos Mesh does
// (chaos-mesh/api/v1alpha1.StandardCronParser: an optional seconds field,
// then minute hour day-of-month month day-of-week, or a descriptor such
// as @hourly or @every 30m).
var Parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// BusinessHours are the hours a production schedule may fire in: 09:00
// to 16:59, Monday to Friday, in the controller's time zone.
const BusinessHours = "09:00-17:00, Monday to Friday"

// Check parses expr and, when businessHoursOnly, refuses a schedule that
// can fire outside BusinessHours. The error says why in one sentence.
func Check(expr string, businessHoursOnly bool) error {
	s, err := Parser.Parse(expr)
	if err != nil {
		return err
	}
	if !businessHoursOnly {
		return nil
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return errors.New("an interval (@every) fires at any hour; give minute hour day month weekday")
	}
	const star = 1 << 63 // the parser's mark of a field given as "*"
	for h := 0; h < 24; h++ {
		if spec.Hour&(1<<h) != 0 && (h < 9 || h > 16) {
			return fmt.Errorf("fires at %02d:00, outside %s", h, BusinessHours)
		}
	}
	if spec.Dow&1 != 0 || spec.Dow&(1<<6) != 0 {
		return errors.New("fires on a weekend; restrict the weekday field to 1-5")
	}
	if spec.Dom&star == 0 {
		// With both day fields restricted, cron fires when either matches.
		return errors.New("a day of the month can fall on a weekend; restrict days with the weekday field only")
	}
	return nil
}
