// Package session keeps customers' sessions and carts in Redis (the
// redis-state instance: persistent, noeviction, behind Sentinel), each
// with a TTL:
//
//   - session:<id>: a hash {subject, createdAt}, expiring SessionTTL after
//     its last use (each read slides it);
//   - cart:<subject>: the cart as JSON, expiring CartTTL after its last
//     write or read.
package session

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned for a session that expired, never existed or
// belongs to someone else.
var ErrNotFound = errors.New("session not found")

// Session is a customer's session.
type Session struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CartItem is one line of a cart.
type CartItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Cart is a customer's cart.
type Cart struct {
	Items     []CartItem `json:"items"`
	UpdatedAt time.Time  `json:"updatedAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
}

// Store keeps sessions and carts in Redis.
type Store struct {
	rdb                 redis.UniversalClient
	sessionTTL, cartTTL time.Duration
}

// New returns a store over rdb.
func New(rdb redis.UniversalClient, sessionTTL, cartTTL time.Duration) *Store {
	return &Store{rdb: rdb, sessionTTL: sessionTTL, cartTTL: cartTTL}
}

// SessionKey and CartKey are the Redis keys of a session and a cart.
func SessionKey(id string) string { return "session:" + id }

// CartKey is the Redis key of subject's cart.
func CartKey(subject string) string { return "cart:" + subject }

// Create starts a session for subject, expiring after the session TTL.
func (s *Store) Create(ctx context.Context, subject string) (Session, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := Session{ID: rand.Text(), Subject: subject, CreatedAt: now, ExpiresAt: now.Add(s.sessionTTL)}
	key := SessionKey(sess.ID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "subject", subject, "createdAt", now.Format(time.RFC3339Nano))
		p.Expire(ctx, key, s.sessionTTL)
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("redis: create session: %w", err)
	}
	return sess, nil
}

// Touch returns subject's session id and slides its expiry; ErrNotFound
// when it expired or is not subject's.
func (s *Store) Touch(ctx context.Context, subject, id string) (Session, error) {
	key := SessionKey(id)
	var get *redis.MapStringStringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.HGetAll(ctx, key)
		p.Expire(ctx, key, s.sessionTTL)
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("redis: read session: %w", err)
	}
	h := get.Val()
	if h["subject"] != subject {
		return Session{}, ErrNotFound
	}
	created, _ := time.Parse(time.RFC3339Nano, h["createdAt"])
	return Session{ID: id, Subject: subject, CreatedAt: created, ExpiresAt: time.Now().UTC().Add(s.sessionTTL)}, nil
}

// Delete ends subject's session id (no error when it is gone already).
func (s *Store) Delete(ctx context.Context, subject, id string) error {
	if _, err := s.Touch(ctx, subject, id); err != nil {
		return err
	}
	if err := s.rdb.Del(ctx, SessionKey(id)).Err(); err != nil {
		return fmt.Errorf("redis: delete session: %w", err)
	}
	return nil
}

// Cart returns subject's cart (empty when there is none) and slides its
// expiry.
func (s *Store) Cart(ctx context.Context, subject string) (Cart, error) {
	b, err := s.rdb.GetEx(ctx, CartKey(subject), s.cartTTL).Bytes()
	if errors.Is(err, redis.Nil) {
		return Cart{Items: []CartItem{}}, nil
	}
	if err != nil {
		return Cart{}, fmt.Errorf("redis: read cart: %w", err)
	}
	var c Cart
	if err := json.Unmarshal(b, &c); err != nil {
		return Cart{}, fmt.Errorf("redis: cart of %q does not decode: %w", subject, err)
	}
	c.ExpiresAt = time.Now().UTC().Add(s.cartTTL)
	return c, nil
}

// PutCart replaces subject's cart with items, expiring after the cart TTL.
func (s *Store) PutCart(ctx context.Context, subject string, items []CartItem) (Cart, error) {
	if items == nil {
		items = []CartItem{}
	}
	now := time.Now().UTC()
	c := Cart{Items: items, UpdatedAt: now}
	b, err := json.Marshal(c)
	if err != nil {
		return Cart{}, err
	}
	if err := s.rdb.Set(ctx, CartKey(subject), b, s.cartTTL).Err(); err != nil {
		return Cart{}, fmt.Errorf("redis: write cart: %w", err)
	}
	c.ExpiresAt = now.Add(s.cartTTL)
	return c, nil
}
