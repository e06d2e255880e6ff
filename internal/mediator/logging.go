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

package mediator

import (
	"context"
	"time"

	"github.com/go-logr/logr"
)

// Logging logs every dispatch at V(1) with the logger from the context
// (logr.FromContextOrDiscard), as the constant message "Dispatched" with the
// keys "kind", "name", "duration" and, if the dispatch failed, "error".
//
// It never logs at error level: the error is returned to the caller, which
// decides what to do with it, and an error both logged and returned would be
// reported twice.
func Logging() Behaviour {
	return func(ctx context.Context, info Info, next Next) error {
		log := logr.FromContextOrDiscard(ctx).V(1)
		if !log.Enabled() {
			// Skip the clock and the key/value slice when nobody listens.
			return next(ctx)
		}
		start := time.Now()
		err := next(ctx)
		kv := []any{"kind", info.Kind.String(), "name", info.Name, "duration", time.Since(start)}
		if err != nil {
			kv = append(kv, "error", err)
		}
		log.Info("Dispatched", kv...)
		return err
	}
}
