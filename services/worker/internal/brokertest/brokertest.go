// Package brokertest declares the platform's order topology on a test
// broker, with the arguments the stacks give it (the cluster declares it
// through the topology operator and policies; tests use x-arguments):
//
//	exchange orders (topic, durable)
//	  order.created -> quorum queue orders.created
//	  order.express -> quorum queue orders.express
//	each queue: x-delivery-limit 5, dead-letter exchange <queue>.dlx
//	  (direct, routing key <queue>) -> quorum queue <queue>.dlq,
//	  dead-letter strategy at-least-once, overflow reject-publish
package brokertest

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cloudscale/platform/services/orders"
)

// DeliveryLimit is the queues' x-delivery-limit: a message returned more
// often is dead-lettered.
const DeliveryLimit = 5

// Queues maps each order queue to its routing key.
var Queues = map[string]string{
	orders.QueueCreated: orders.RoutingCreated,
	orders.QueueExpress: orders.RoutingExpress,
}

// DLQ is the dead-letter queue of queue.
func DLQ(queue string) string { return queue + ".dlq" }

// Declare declares the topology on the broker at url (idempotent) and
// fails t on any error.
func Declare(t testing.TB, url string) {
	t.Helper()
	if err := declare(url); err != nil {
		t.Fatalf("declare the orders topology: %v", err)
	}
}

func declare(url string) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(orders.Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("exchange %s: %w", orders.Exchange, err)
	}
	for queue, key := range Queues {
		dlx := queue + ".dlx"
		if err := ch.ExchangeDeclare(dlx, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
			return fmt.Errorf("exchange %s: %w", dlx, err)
		}
		if _, err := ch.QueueDeclare(DLQ(queue), true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
			return fmt.Errorf("queue %s: %w", DLQ(queue), err)
		}
		if err := ch.QueueBind(DLQ(queue), queue, dlx, false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", DLQ(queue), err)
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{
			"x-queue-type":              "quorum",
			"x-delivery-limit":          int32(DeliveryLimit),
			"x-dead-letter-exchange":    dlx,
			"x-dead-letter-routing-key": queue,
			"x-dead-letter-strategy":    "at-least-once",
			"x-overflow":                "reject-publish",
		}); err != nil {
			return fmt.Errorf("queue %s: %w", queue, err)
		}
		if err := ch.QueueBind(queue, key, orders.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind %s: %w", queue, err)
		}
	}
	return nil
}
