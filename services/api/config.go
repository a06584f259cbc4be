package main

import (
	"errors"
	"time"

	"github.com/cloudscale/platform/services/config"
	"github.com/cloudscale/platform/services/stores"
)

// Config is api-service's configuration (the variables are listed in the
// package doc).
type Config struct {
	config.Service
	Postgres   stores.Postgres
	RedisState stores.Redis `envPrefix:"REDIS_STATE_"`
	RedisCache stores.Redis `envPrefix:"REDIS_CACHE_"`
	Mongo      stores.Mongo
	Rabbit     stores.Rabbit

	CacheTTL       time.Duration `env:"CACHE_TTL" envDefault:"60s"`
	SessionTTL     time.Duration `env:"SESSION_TTL" envDefault:"30m"`
	CartTTL        time.Duration `env:"CART_TTL" envDefault:"168h"`
	ConfirmTimeout time.Duration `env:"CONFIRM_TIMEOUT" envDefault:"5s"`
	RelayInterval  time.Duration `env:"OUTBOX_RELAY_INTERVAL" envDefault:"1s"`
	RelayBatch     int           `env:"OUTBOX_RELAY_BATCH" envDefault:"100"`
	StartTimeout   time.Duration `env:"START_TIMEOUT" envDefault:"2m"`
}

// Validate checks every part, each error naming its variable.
func (c Config) Validate() error {
	errs := []error{
		c.Service.Validate(), c.Postgres.Validate(), c.RedisState.Validate("REDIS_STATE_"),
		c.RedisCache.Validate("REDIS_CACHE_"), c.Mongo.Validate(), c.Rabbit.Validate(),
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"CACHE_TTL", c.CacheTTL}, {"SESSION_TTL", c.SessionTTL}, {"CART_TTL", c.CartTTL},
		{"CONFIRM_TIMEOUT", c.ConfirmTimeout}, {"OUTBOX_RELAY_INTERVAL", c.RelayInterval},
		{"START_TIMEOUT", c.StartTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, &config.VarError{Var: p.name, Err: errors.New("must be more than 0")})
		}
	}
	if c.RelayBatch < 1 || c.RelayBatch > 1000 {
		errs = append(errs, &config.VarError{Var: "OUTBOX_RELAY_BATCH", Err: errors.New("want 1..1000")})
	}
	return errors.Join(errs...)
}
