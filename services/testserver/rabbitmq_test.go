package testserver

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRabbitMQRestartKeepsQuorumQueue: a persistent message confirmed
// into a durable quorum queue is still there after the node restarts.
func TestRabbitMQRestartKeepsQuorumQueue(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	r := RabbitMQ(t)
	t.Logf("rabbitmq node %s ready in %s", r.NodeName, time.Since(t0).Round(time.Millisecond))

	conn, err := amqp.Dial(r.URL)
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("orders", true, false, false, false, amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": 3})
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "orders", true, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, MessageId: "order-1", Body: []byte(`{"id":1}`)})
	require.NoError(t, err)
	ok, err := conf.WaitContext(ctx)
	require.NoError(t, err)
	require.True(t, ok, "the broker nacked the message")
	conn.Close()

	// Quorum queues report their message counts periodically: the type is
	// what rabbitmqctl can tell at once.
	assert.Contains(t, r.Ctl(t, "list_queues", "name", "type", "durable"), "orders\tquorum\ttrue")

	t1 := time.Now()
	r.Restart(t)
	t.Logf("graceful restart took %s", time.Since(t1).Round(time.Millisecond))

	conn, err = amqp.Dial(r.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err = conn.Channel()
	require.NoError(t, err)
	var msg amqp.Delivery
	require.Eventually(t, func() bool {
		var got bool
		msg, got, err = ch.Get("orders", false)
		return err == nil && got
	}, 30*time.Second, 100*time.Millisecond, "the message did not survive the restart: %v", err)
	assert.Equal(t, "order-1", msg.MessageId)
	assert.Equal(t, `{"id":1}`, string(msg.Body))
	require.NoError(t, msg.Ack(false))
}

// TestRabbitMQ310Features records what RabbitMQ 3.10 does with the queue
// arguments the services use, where 4.x differs (the package
// documentation lists the differences).
func TestRabbitMQ310Features(t *testing.T) {
	r := SharedRabbitMQ(t)
	assert.Same(t, r, SharedRabbitMQ(t), "a second call must return the same node")
	conn, err := amqp.Dial(r.URL)
	require.NoError(t, err)
	defer conn.Close()
	for _, tc := range []struct {
		name, queue string
		args        amqp.Table
		want        string // "" means accepted
	}{
		{"quorum with delivery limit and dead-lettering", "f-quorum",
			amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": 5, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "f-dead"}, ""},
		{"quorum with priority", "f-quorum-prio", amqp.Table{"x-queue-type": "quorum", "x-max-priority": 10}, "PRECONDITION_FAILED - invalid arg 'x-max-priority'"},
		{"classic with priority", "f-classic-prio", amqp.Table{"x-queue-type": "classic", "x-max-priority": 10}, ""},
		{"stream", "f-stream", amqp.Table{"x-queue-type": "stream"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := conn.Channel()
			require.NoError(t, err)
			defer ch.Close()
			_, err = ch.QueueDeclare(tc.queue, true, false, false, false, tc.args)
			t.Logf("%s: %v", tc.name, err)
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}
