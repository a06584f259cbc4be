package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudscale/platform/services/config"
	"github.com/cloudscale/platform/services/stores"
)

// redisPrefix names the redis-state instance's variables
// (REDIS_STATE_ADDR, ...), as the API names them.
const redisPrefix = "REDIS_STATE_"

// Config is the worker's configuration (doc.go lists every variable).
// The store connections are the API's types, so the same variable means
// the same thing in both services.
type Config struct {
	config.Service
	Postgres stores.Postgres
	RabbitMQ stores.Rabbit
	Redis    stores.Redis `envPrefix:"REDIS_STATE_"`
	// Queues are consumed, one channel each.
	Queues []string `env:"QUEUES" envSeparator:"," envDefault:"orders.created,orders.express"`
	// Prefetch is each channel's QoS (unacknowledged messages in flight).
	Prefetch int `env:"PREFETCH" envDefault:"16"`
	// RetryWindow is how long a transient failure is retried in process
	// before the message goes back to the queue.
	RetryWindow time.Duration `env:"RETRY_WINDOW" envDefault:"10s"`
	// StartTimeout bounds the first connections at start (the API's
	// variable); the worker exits if a store does not answer within it.
	StartTimeout time.Duration `env:"START_TIMEOUT" envDefault:"2m"`
}

// Validate checks every part, each error naming its variable.
func (c Config) Validate() error {
	var errs []error
	for _, err := range []error{c.Service.Validate(), c.Postgres.Validate(), c.RabbitMQ.Validate(), c.Redis.Validate(redisPrefix)} {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, joined.Unwrap()...) // one *config.VarError each
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	bad := func(key, format string, args ...any) {
		errs = append(errs, &config.VarError{Var: key, Err: fmt.Errorf(format, args...)})
	}
	if len(c.Queues) == 0 {
		bad("QUEUES", "names no queue")
	}
	for _, q := range c.Queues {
		if strings.TrimSpace(q) == "" || q != strings.TrimSpace(q) {
			bad("QUEUES", "%q is not a queue name (comma-separated, no spaces)", q)
		}
	}
	if c.Prefetch < 1 || c.Prefetch > 65535 {
		bad("PREFETCH", "%d is not within 1..65535", c.Prefetch)
	}
	if c.RetryWindow < 0 {
		bad("RETRY_WINDOW", "%v must not be negative", c.RetryWindow)
	}
	if c.StartTimeout <= 0 {
		bad("START_TIMEOUT", "%v must be more than 0", c.StartTimeout)
	}
	return errors.Join(errs...)
}
