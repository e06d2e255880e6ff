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

package operator

import (
	"crypto/tls"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

func TestSetupRefusesUnsafeSettings(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no URL", Options{}, "no broker URL"},
		{"TLS settings with a plaintext URL", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", BrokerTLS: &tls.Config{MinVersion: tls.VersionTLS12}},
			"not amqps://"},
		{"a start namespace that is no namespace name", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", StartNamespaces: []string{"shop", "Shop_1"}},
			`start namespace "Shop_1"`},
		{"start namespaces outside the shard's namespaces", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", Shard: "a",
			Namespaces: []string{"ns-a"}, StartNamespaces: []string{"ns-a", "ns-b"}},
			"start namespaces ns-b are not among the shard's namespaces ns-a"},
		{"namespaces without a shard", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", Namespaces: []string{"ns-a"}},
			"--namespaces needs --shard"},
		{"a namespace that is no namespace name", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", Shard: "a", Namespaces: []string{"NS"}},
			`namespace "NS"`},
		{"a shard that is no DNS label", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", Shard: "shard.a"}, `shard "shard.a"`},
		{"the shard the dead-letter queue's name takes", Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", Shard: "dead"}, `shard "dead"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Refused before the manager is used.
			_, err := Setup(nil, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestCacheKeepsOnlySagasNotFinished(t *testing.T) {
	opts := CacheOptions()
	if opts.DefaultTransform == nil {
		t.Fatal("want managedFields stripped from cached objects")
	}
	var sel labels.Selector
	for obj, by := range opts.ByObject {
		if _, ok := obj.(*ordersv1alpha1.OrderSaga); ok {
			sel = by.Label
		}
	}
	if sel == nil {
		t.Fatal("want a label selector for OrderSagas")
	}
	tests := []struct {
		name   string
		labels labels.Set
		cached bool
	}{
		{"no labels", nil, true},
		{"other labels", labels.Set{"app": "shop"}, true},
		{"finished", labels.Set{ordersv1alpha1.FinishedLabel: "true"}, false},
		{"finished, any value", labels.Set{ordersv1alpha1.FinishedLabel: ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sel.Matches(tt.labels); got != tt.cached {
				t.Errorf("cached = %v, want %v", got, tt.cached)
			}
		})
	}
}

func TestShardOptionsValid(t *testing.T) {
	o := Options{BrokerURL: "amqp://u:p@rabbitmq:5672/", Shard: "a", Namespaces: []string{"ns-a", "ns-c"}, StartNamespaces: []string{"ns-c"}}
	if err := o.withDefaults().validate(); err != nil {
		t.Fatalf("want start namespaces among the shard's accepted, got %v", err)
	}
}

func TestLeaderElectionIDIsTheShards(t *testing.T) {
	if got := DefaultOptions().LeaderElectionID(); got != "ordersaga-operator.ordersaga.io" {
		t.Errorf("unsharded: got %q, want today's lease name", got)
	}
	a, b := Options{Shard: "a"}.LeaderElectionID(), Options{Shard: "b"}.LeaderElectionID()
	if a != "a.ordersaga-operator.ordersaga.io" || a == b {
		t.Errorf("shards a and b: got %q and %q, want a lease each", a, b)
	}
}

func TestCacheWatchesOnlyTheShardsNamespaces(t *testing.T) {
	if got := CacheOptions().DefaultNamespaces; got != nil {
		t.Errorf("unsharded: want every namespace watched, got %v", got)
	}
	got := CacheOptions("ns-a", "ns-c").DefaultNamespaces
	if len(got) != 2 {
		t.Fatalf("want ns-a and ns-c watched, got %v", got)
	}
	for _, ns := range []string{"ns-a", "ns-c"} {
		if _, ok := got[ns]; !ok {
			t.Errorf("want %s watched, got %v", ns, got)
		}
	}
}
