package stacks

// ForgetChaosPlans empties ChaosPlan's cache, so a benchmark measures
// what one CLI run pays.
func ForgetChaosPlans() { chaosPlans.Clear() }
