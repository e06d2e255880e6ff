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

package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// publishedSet remembers which in-flight messages this process has sent,
// and with which deadline. After a restart it is empty, so every in-flight
// message of the status is sent again once, with its own id: at-least-once,
// and participants drop the duplicate. A message whose deadline moved (its
// saga's timers were paused while the broker was away) is sent again too,
// with the new deadline: a participant refuses a copy past its deadline
// without recording anything, and runs the later copy. Entries are dropped
// as soon as a message is no longer in flight, so the set stays as small as
// the sagas in progress.
type publishedSet struct {
	mu  sync.Mutex
	ids map[types.NamespacedName]map[string]time.Time
}

func newPublishedSet() *publishedSet {
	return &publishedSet{ids: map[types.NamespacedName]map[string]time.Time{}}
}

// has says whether the message was sent with this deadline.
func (p *publishedSet) has(key types.NamespacedName, id string, deadline time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent, ok := p.ids[key][id]
	return ok && sent.Equal(deadline)
}

func (p *publishedSet) add(key types.NamespacedName, id string, deadline time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids[key] == nil {
		p.ids[key] = map[string]time.Time{}
	}
	p.ids[key][id] = deadline
}

// forget drops the saga's entries: it has nothing in flight any more.
func (p *publishedSet) forget(key types.NamespacedName) { p.retain(key, nil) }

// retain keeps only the saga ids still in flight, forgetting the saga when
// none is.
func (p *publishedSet) retain(key types.NamespacedName, inFlight []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(inFlight) == 0 {
		delete(p.ids, key)
		return
	}
	keep := make(map[string]time.Time, len(inFlight))
	for _, id := range inFlight {
		if deadline, ok := p.ids[key][id]; ok {
			keep[id] = deadline
		}
	}
	p.ids[key] = keep
}
