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

package protocol

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Headers are the saga headers of a command, copied onto its reply.
type Headers struct {
	SagaNamespace string
	SagaName      string
	SagaUID       string
	Step          string
	Kind          Kind
	Round         int32
	Attempt       int32
	Deadline      time.Time
}

// Table returns the headers as an AMQP header table (amqp091.Table has this
// underlying type).
func (h Headers) Table() map[string]any {
	return map[string]any{
		HeaderSagaNamespace: h.SagaNamespace,
		HeaderSagaName:      h.SagaName,
		HeaderSagaUID:       h.SagaUID,
		HeaderStep:          h.Step,
		HeaderKind:          string(h.Kind),
		HeaderRound:         h.Round,
		HeaderAttempt:       h.Attempt,
		HeaderDeadline:      h.Deadline.UTC().Format(time.RFC3339Nano),
	}
}

// ParseHeaders reads the saga headers from an AMQP header table. Every header
// but the deadline is required.
func ParseHeaders(table map[string]any) (Headers, error) {
	var h Headers
	var errs []error
	str := func(key string) string {
		v, ok := table[key].(string)
		if !ok || v == "" {
			errs = append(errs, fmt.Errorf("header %s missing or not a string", key))
		}
		return v
	}
	num := func(key string) int32 {
		v, ok := toInt32(table[key])
		if !ok {
			errs = append(errs, fmt.Errorf("header %s missing or not a 32-bit integer", key))
		}
		return v
	}
	h.SagaNamespace = str(HeaderSagaNamespace)
	h.SagaName = str(HeaderSagaName)
	h.SagaUID = str(HeaderSagaUID)
	h.Step = str(HeaderStep)
	h.Kind = Kind(str(HeaderKind))
	if h.Kind != "" && !h.Kind.Valid() {
		errs = append(errs, fmt.Errorf("header %s has unknown kind %q", HeaderKind, h.Kind))
	}
	h.Round = num(HeaderRound)
	h.Attempt = num(HeaderAttempt)
	if s, ok := table[HeaderDeadline].(string); ok && s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %s: %w", HeaderDeadline, err))
		}
		h.Deadline = t
	}
	return h, errors.Join(errs...)
}

// toInt32 accepts the integer types AMQP header tables decode into.
func toInt32(v any) (int32, bool) {
	var n int64
	switch x := v.(type) {
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	default:
		return 0, false
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}
