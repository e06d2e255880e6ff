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

package participant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// Command is a command or compensation as a handler receives it.
type Command struct {
	protocol.Command
	// Headers are the saga headers of the message.
	Headers protocol.Headers
	// Redelivered says the broker delivered the message before.
	Redelivered bool
	// CommandOutcome is, for a compensation, what this participant replied
	// to the command being undone, or nil if that command never ran here.
	// A compensation of a step that timed out or was interrupted finds no
	// result of its own step in Results (the operator never got the reply):
	// this is where the command's result is then.
	CommandOutcome *protocol.Reply
}

// Param returns a parameter of the step's command, or "".
func (c *Command) Param(name string) string { return c.Parameters[name] }

// StepResult returns a value from the result of an earlier step (or, for a
// compensation, of its own step) as text, or "": a string as it is, a
// number in its JSON notation, a boolean as "true" or "false".
func (c *Command) StepResult(step, key string) string { return c.Results[step][key].Text() }

// StepValue returns a value from the result of an earlier step (or, for a
// compensation, of its own step) with its JSON type; null if there is none.
func (c *Command) StepValue(step, key string) protocol.Value { return c.Results[step][key] }

// Result is the small output of a successful handler: at most 16 entries,
// keys of at most 63 bytes. A value is a string (at most 256 bytes), a
// bool, an integer, a finite float, a json.Number or a protocol.Value; it
// reaches later steps with its JSON type. A nil value is left out.
type Result map[string]any

// Handler carries out one command or compensation. It returns a result on
// success; an error made with Fail for a final failure, with Retry for a
// retryable one. Any other error is taken as retryable, with reason
// "HandlerError": an unexpected error is more often transient than final.
type Handler func(ctx context.Context, cmd *Command) (Result, error)

// Failure is an outcome other than success.
type Failure struct {
	// Reason is an UpperCamelCase code, for example "CardDeclined".
	Reason    string
	Message   string
	Retryable bool
}

func (f *Failure) Error() string {
	kind := "failed"
	if f.Retryable {
		kind = "retryable failure"
	}
	return fmt.Sprintf("%s: %s: %s", kind, f.Reason, f.Message)
}

// Fail returns a final failure: the command had no effect and trying again
// will not help.
func Fail(reason, format string, args ...any) error {
	return &Failure{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Retry returns a retryable failure: the command had no effect, and a later
// attempt may succeed.
func Retry(reason, format string, args ...any) error {
	return &Failure{Reason: reason, Message: fmt.Sprintf(format, args...), Retryable: true}
}

// Reasons the SDK itself replies with.
const (
	// ReasonHandlerError: the handler returned an error that is not a Failure.
	ReasonHandlerError = "HandlerError"
	// ReasonHandlerPanic: the handler panicked.
	ReasonHandlerPanic = "HandlerPanic"
	// ReasonUnknownCommand: no handler is registered for the command.
	ReasonUnknownCommand = "UnknownCommand"
	// ReasonAlreadyCompensated: the step was compensated before its command
	// arrived; the command is refused.
	ReasonAlreadyCompensated = "AlreadyCompensated"
	// ReasonInvalidResult: the handler's result breaks the protocol's limits.
	ReasonInvalidResult = "InvalidResult"
	// ReasonCommandExpired: the command's deadline (x-saga-deadline) passed
	// before it was started; it is not run, and the reply is retryable.
	ReasonCommandExpired = protocol.ReasonCommandExpired
)

// toReply turns a handler's outcome into a reply.
func toReply(result Result, err error) protocol.Reply {
	if err == nil {
		values, verr := result.Values()
		r := protocol.Reply{Status: protocol.StatusSucceeded, Result: values}
		if verr == nil {
			verr = r.Validate()
		}
		if verr != nil {
			return protocol.Reply{Status: protocol.StatusFailed, Reason: ReasonInvalidResult, Message: verr.Error()}
		}
		return r
	}
	if f, ok := errors.AsType[*Failure](err); ok {
		status := protocol.StatusFailed
		if f.Retryable {
			status = protocol.StatusRetryable
		}
		return protocol.Reply{Status: status, Reason: sanitizeReason(f.Reason), Message: f.Message}
	}
	return protocol.Reply{Status: protocol.StatusRetryable, Reason: ReasonHandlerError, Message: err.Error()}
}

// Values returns the result as replies and later commands carry it: each
// value with its JSON type, nil values left out.
func (r Result) Values() (protocol.Result, error) {
	if len(r) == 0 {
		return nil, nil
	}
	out := make(protocol.Result, len(r))
	for k, v := range r {
		if v == nil {
			continue
		}
		value, err := toValue(v)
		if err != nil {
			return nil, fmt.Errorf("result value of %q: %w", k, err)
		}
		out[k] = value
	}
	return out, nil
}

func toValue(v any) (protocol.Value, error) {
	switch x := v.(type) {
	case protocol.Value:
		return x, nil
	case string:
		return protocol.String(x), nil
	case bool:
		return protocol.Bool(x), nil
	case int:
		return protocol.Int(int64(x)), nil
	case int8:
		return protocol.Int(int64(x)), nil
	case int16:
		return protocol.Int(int64(x)), nil
	case int32:
		return protocol.Int(int64(x)), nil
	case int64:
		return protocol.Int(x), nil
	case uint8:
		return protocol.Int(int64(x)), nil
	case uint16:
		return protocol.Int(int64(x)), nil
	case uint32:
		return protocol.Int(int64(x)), nil
	case uint, uint64:
		return protocol.ValueOf(protocol.TypeNumber, fmt.Sprint(x))
	case float32:
		if _, err := protocol.Float(float64(x)); err != nil {
			return protocol.Value{}, err
		}
		// The shortest notation of the float32, not of its float64 widening.
		return protocol.ValueOf(protocol.TypeNumber, strconv.FormatFloat(float64(x), 'g', -1, 32))
	case float64:
		return protocol.Float(x)
	case json.Number:
		return protocol.ValueOf(protocol.TypeNumber, string(x))
	default:
		return protocol.Value{}, fmt.Errorf("a %T is not a string, number or boolean", v)
	}
}

// sanitizeReason makes a handler's reason a valid protocol reason: letters
// and digits, starting with a letter, at most 64 characters, words joined in
// UpperCamelCase ("card declined" → "CardDeclined"). A reply with an invalid
// reason would be dead-lettered by the operator.
func sanitizeReason(reason string) string {
	out := make([]byte, 0, len(reason))
	upper := true
	for i := 0; i < len(reason) && len(out) < protocol.MaxReasonLength; i++ {
		c := reason[i]
		switch {
		case c >= 'a' && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && len(out) > 0:
		default:
			upper = true
			continue
		}
		upper = false
		out = append(out, c)
	}
	return string(out)
}
