// Package consumer is the order worker's logic: it consumes the order
// events the API publishes (orders.Event on the queues orders.QueueCreated
// and orders.QueueExpress), reserves each order's stock once, sets the
// order confirmed or rejected, and publishes the orders.StatusChange on
// Redis pub/sub (orders.StatusChannel) for the API's live updates.
//
// # Once per event
//
// Processor.Process runs in one PostgreSQL transaction: it inserts the
// event id into processed_events (ON CONFLICT DO NOTHING), and if the row
// was already there it changes nothing (Duplicate). Otherwise it locks the
// order, locks the order's products in SKU order (so two orders sharing
// products cannot deadlock), and either takes every item's quantity from
// stock (Confirmed) or, if any product is short, takes nothing and records
// the reason (Rejected). The message is acknowledged only after the
// commit, so a crash or a lost connection before the ack makes the broker
// redeliver it, and the redelivery is a Duplicate. A duplicate publishes
// the order's stored status again: a crash between the commit and the
// Redis publish would otherwise lose the live update for good.
//
// # Failures and the delivery limit
//
// The platform's quorum queues have a delivery limit (5) and dead-letter
// to "<queue>.dlx" → "<queue>.dlq" (at-least-once). On RabbitMQ 3.10 a
// quorum queue counts every return of a message (nack with requeue, or
// the channel closing with it unacknowledged) in x-delivery-count, and
// dead-letters it once the count passes the limit. The consumer therefore
// never rejects outright:
//
//   - a poison message (not an orders.Event, ids that are not UUIDs, an
//     order that does not exist, data PostgreSQL refuses) is nacked with
//     requeue; after the limit the broker moves it to the dead-letter queue
//     and its x-delivery-count is logged on every attempt;
//   - a transient failure (PostgreSQL unreachable, a serialization
//     failure, the schema missing) is first retried in process with
//     backoff for Options.RetryWindow, then nacked with requeue. Retrying
//     in process first matters on 3.10: nacking at once would spend the
//     five deliveries of every message in the first second of a database
//     outage and dead-letter good orders; with the window, an outage
//     shorter than about five windows dead-letters nothing.
//
// RabbitMQ 4.0 counts only nacks, not channel closes, in the delivery
// limit (x-delivery-count becomes x-acquired-count for the rest); the
// choices above hold for both.
//
// A failed Redis publish is logged and counted (the order is committed;
// only the live update is lost) and is no reason to redeliver.
//
// # Connections and shutdown
//
// Each queue has its own channel with a prefetch (QoS) of Options.Prefetch
// messages, processed concurrently. When the connection or a channel
// closes (NotifyClose), the session ends and Run dials again with backoff;
// the broker redelivers what was unacknowledged and processed_events
// deduplicates it. When Run's context ends, the consumer cancels its
// consumers (basic.cancel), processes and acknowledges what was already
// delivered, and closes the connection.
package consumer
