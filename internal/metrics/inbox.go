/*
Copyright 2026 The ordersaga-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// UnsettledReplies is what the inbox collector reads: the replies taken
// from the broker and not yet acknowledged, dead-lettered or returned, and
// when the oldest of them was received (the reconciler's inbox).
type UnsettledReplies interface {
	UnsettledReplies() (n int, oldest time.Time)
}

// InboxCollector reports the replies the operator holds, at scrape time.
type InboxCollector struct {
	mu     sync.Mutex
	source UnsettledReplies
	now    func() time.Time

	replies   *prometheus.Desc
	oldestAge *prometheus.Desc
}

// NewInboxCollector returns a collector with no source yet: it reports
// nothing until SetSource.
func NewInboxCollector() *InboxCollector {
	return &InboxCollector{
		now:     time.Now,
		replies: prometheus.NewDesc("ordersaga_inbox_replies", "Replies taken from the broker and not yet settled (acknowledged, dead-lettered or returned).", nil, nil),
		oldestAge: prometheus.NewDesc("ordersaga_inbox_oldest_reply_age_seconds",
			"How long the oldest unsettled reply has been held; 0 when none is.", nil, nil),
	}
}

// SetSource sets the inbox the collector reads.
func (c *InboxCollector) SetSource(s UnsettledReplies) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.source = s
}

// Describe implements prometheus.Collector.
func (c *InboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.replies
	ch <- c.oldestAge
}

// Collect implements prometheus.Collector.
func (c *InboxCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	source := c.source
	c.mu.Unlock()
	if source == nil {
		return
	}
	n, oldest := source.UnsettledReplies()
	age := 0.0
	if n > 0 {
		age = max(c.now().Sub(oldest), 0).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.replies, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
}

var (
	defaultInbox      = NewInboxCollector()
	registerInboxOnce sync.Once
	registerInboxErr  error
)

// DefaultInboxCollector returns the process's inbox collector, registered
// once with controller-runtime's registry.
func DefaultInboxCollector() (*InboxCollector, error) {
	registerInboxOnce.Do(func() { registerInboxErr = ctrlmetrics.Registry.Register(defaultInbox) })
	return defaultInbox, registerInboxErr
}
