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
	"fmt"
	"runtime/debug"
)

// PanicError is the error Recover returns for a handler that panicked.
type PanicError struct {
	// Info names the request or notification whose handler panicked.
	Info Info
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, taken where it was recovered.
	Stack []byte
}

// Error names the request or notification and the panic value; the stack is
// left out to keep the message one line, and is in Stack for who needs it.
func (e *PanicError) Error() string {
	return fmt.Sprintf("mediator: panic handling %s %s: %v", e.Info.Kind, e.Info.Name, e.Value)
}

// Unwrap returns the panic value if it is an error (e.g. a runtime.Error),
// so that errors.Is and errors.As see through the panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover turns a panic in next into a returned *PanicError, so that a
// panicking reconcile step fails that dispatch instead of the whole
// controller, and a panicking subscriber does not stop the other subscribers.
// It should be the innermost behaviour, so that the behaviours outside it see
// the panic as an error (see Standard).
func Recover() Behaviour {
	return func(ctx context.Context, info Info, next Next) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = &PanicError{Info: info, Value: v, Stack: debug.Stack()}
			}
		}()
		return next(ctx)
	}
}
