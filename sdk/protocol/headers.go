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
// but the deadline is required. The error is a *RejectError: MissingHeaders
// if headers are absent (or empty strings), InvalidHeader if one is present
// with the wrong type or value.
//
// The saga's namespace, name and uid must be values the apiserver could have
// given: a DNS-1123 label, a DNS-1123 subdomain and a lowercase UUID; the step
// a name the OrderSaga API accepts (StepNamePattern). Anything else names no
// saga, and is refused before it is used as a key or in a request path.
//
// x-saga-round and x-saga-attempt are accepted as any AMQP integer type a
// client may choose for a small number (signed 8, 16, 32 or 64 bits,
// unsigned 8, 16 or 32 bits, as amqplib and pika send them) within the
// 32-bit signed range; a float, a decimal, a string or a boolean is invalid.
func ParseHeaders(table map[string]any) (Headers, error) {
	var h Headers
	var missing, invalid []error
	str := func(key string) string {
		switch v := table[key].(type) {
		case nil:
			missing = append(missing, fmt.Errorf("header %s missing", key))
		case string:
			if v == "" {
				missing = append(missing, fmt.Errorf("header %s empty", key))
			}
			return v
		default:
			invalid = append(invalid, fmt.Errorf("header %s has type %s, not string", key, amqpType(v)))
		}
		return ""
	}
	num := func(key string) int32 {
		v, present := table[key]
		if !present || v == nil {
			missing = append(missing, fmt.Errorf("header %s missing", key))
			return 0
		}
		n, ok := toInt32(v)
		if !ok {
			invalid = append(invalid, fmt.Errorf("header %s has type %s (%s), not a 32-bit integer", key, amqpType(v), quote(fmt.Sprint(v))))
		}
		return n
	}
	name := func(key string, check func(string) error) string {
		v := str(key)
		if v != "" {
			if err := check(v); err != nil {
				invalid = append(invalid, fmt.Errorf("header %s %s is %w", key, quote(v), err))
			}
		}
		return v
	}
	h.SagaNamespace = name(HeaderSagaNamespace, checkNamespace)
	h.SagaName = name(HeaderSagaName, checkName)
	h.SagaUID = name(HeaderSagaUID, checkUID)
	h.Step = name(HeaderStep, checkStepName)
	h.Kind = Kind(str(HeaderKind))
	if h.Kind != "" && !h.Kind.Valid() {
		invalid = append(invalid, fmt.Errorf("header %s has unknown kind %s", HeaderKind, quote(string(h.Kind))))
	}
	h.Round = num(HeaderRound)
	h.Attempt = num(HeaderAttempt)
	switch v := table[HeaderDeadline].(type) {
	case nil:
	case string:
		if v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				// time's error repeats the whole value: name it cut instead.
				invalid = append(invalid, fmt.Errorf("header %s %s is not an RFC 3339 time", HeaderDeadline, quote(v)))
			}
			h.Deadline = t
		}
	default:
		invalid = append(invalid, fmt.Errorf("header %s has type %s, not string", HeaderDeadline, amqpType(v)))
	}
	switch {
	case len(invalid) > 0:
		return h, &RejectError{Reason: RejectInvalidHeader, Err: errors.Join(append(invalid, missing...)...)}
	case len(missing) > 0:
		return h, &RejectError{Reason: RejectMissingHeaders, Err: errors.Join(missing...)}
	}
	return h, nil
}

// toInt32 accepts the integer types AMQP header tables decode into (and
// Go's own), when the value fits 32 signed bits.
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
	case uint64:
		if x > math.MaxInt32 {
			return 0, false
		}
		n = int64(x)
	case uint:
		if x > math.MaxInt32 {
			return 0, false
		}
		n = int64(x)
	default:
		return 0, false
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}

// amqpType names the type of a header value in AMQP's words, for the
// dead-letter detail a participant's author reads.
func amqpType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case []byte:
		return "byte array"
	case bool:
		return "boolean"
	case float32, float64:
		return "float"
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return "integer"
	case time.Time:
		return "timestamp"
	case nil:
		return "void"
	default:
		return fmt.Sprintf("%T", v)
	}
}
