package consumer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The results of the processed counter besides the Outcomes.
const (
	// ResultPoison: the message cannot be processed; returned to the
	// queue, dead-lettered once its delivery limit is reached.
	ResultPoison = "poison"
	// ResultError: a transient failure outlasted the retry window; the
	// message was returned to the queue.
	ResultError = "error"
)

// Metrics are the worker's Prometheus series (prefix worker_).
type Metrics struct {
	// Processed counts messages handled, by queue and result (confirmed,
	// rejected, duplicate, poison, error).
	Processed *prometheus.CounterVec
	// Duration is the seconds from delivery to ack or nack, by queue.
	Duration *prometheus.HistogramVec
	// Redeliveries counts deliveries the broker flagged redelivered, by
	// queue.
	Redeliveries *prometheus.CounterVec
	// InFlight is the number of messages being processed, by queue.
	InFlight *prometheus.GaugeVec
	// QueueDepth is the number of messages ready in each queue (a passive
	// declare every DepthInterval).
	QueueDepth *prometheus.GaugeVec
	// StatusPublishFailures counts status changes Redis did not take
	// (the order's state is committed; only the live update is lost).
	StatusPublishFailures prometheus.Counter
	// Reconnects counts broker sessions lost and opened again.
	Reconnects prometheus.Counter
	// Connected is 1 while the worker consumes from the broker.
	Connected prometheus.Gauge
}

// NewMetrics creates the worker's series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "worker_messages_processed_total",
			Help: "Order events handled, by queue and result (confirmed, rejected, duplicate, poison, error).",
		}, []string{"queue", "result"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "worker_message_processing_seconds",
			Help:    "Seconds from the delivery of an order event to its ack or nack.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"queue"}),
		Redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "worker_message_redeliveries_total",
			Help: "Deliveries the broker flagged as redelivered, by queue.",
		}, []string{"queue"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "worker_messages_in_flight",
			Help: "Order events being processed, by queue.",
		}, []string{"queue"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "worker_queue_messages",
			Help: "Messages ready in the queue (passive declare).",
		}, []string{"queue"}),
		StatusPublishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "worker_status_publish_failures_total",
			Help: "Order status changes Redis did not take (the order itself is committed).",
		}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "worker_broker_reconnects_total",
			Help: "Broker connections lost and opened again.",
		}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "worker_broker_connected",
			Help: "1 while the worker consumes from the broker.",
		}),
	}
	for _, c := range []prometheus.Collector{m.Processed, m.Duration, m.Redeliveries, m.InFlight, m.QueueDepth,
		m.StatusPublishFailures, m.Reconnects, m.Connected} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
