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

package mediator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersaga/ordersaga-operator/internal/mediator"
)

// Names the tests expect in errors, Info and labels.
const (
	nameSendCommand   = "SendCommand"
	nameStepCompleted = "StepCompleted"
	qualSendCommand   = "mediator_test.SendCommand"
	kindRequest       = "request"
	stepReserve       = "reserve"
)

type ApplyReplies struct{ Count int }

type Applied struct{ Applied int }

type SendCommand struct{ Step string }

type StepCompleted struct{ Step string }

type Envelope[T any] struct{ Body T }

func applyReplies(_ context.Context, req ApplyReplies) (Applied, error) {
	return Applied{Applied: req.Count}, nil
}

func mustBuild(t *testing.T, b *mediator.Builder) *mediator.Mediator {
	t.Helper()
	m, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return m
}

// record returns a behaviour that appends its entry and exit to *log.
func record(name string, log *[]string) mediator.Behaviour {
	return func(ctx context.Context, _ mediator.Info, next mediator.Next) error {
		*log = append(*log, name+">")
		err := next(ctx)
		*log = append(*log, "<"+name)
		return err
	}
}

func TestDispatchToHandler(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		behaviours []mediator.Behaviour
		send       func(*mediator.Mediator, ApplyReplies) (Applied, error)
	}{
		{
			name: "SenderFor",
			send: func(m *mediator.Mediator, req ApplyReplies) (Applied, error) {
				s, err := mediator.SenderFor[ApplyReplies, Applied](m)
				if err != nil {
					return Applied{}, err
				}
				return s(ctx, req)
			},
		},
		{
			name:       "SenderFor with behaviours",
			behaviours: []mediator.Behaviour{mediator.Recover(), mediator.Logging()},
			send: func(m *mediator.Mediator, req ApplyReplies) (Applied, error) {
				return mediator.MustSenderFor[ApplyReplies, Applied](m)(ctx, req)
			},
		},
		{
			name: "Send",
			send: func(m *mediator.Mediator, req ApplyReplies) (Applied, error) {
				return mediator.Send[ApplyReplies, Applied](ctx, m, req)
			},
		},
		{
			name:       "Send with behaviours",
			behaviours: []mediator.Behaviour{mediator.Recover()},
			send: func(m *mediator.Mediator, req ApplyReplies) (Applied, error) {
				return mediator.Send[ApplyReplies, Applied](ctx, m, req)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mediator.NewBuilder()
			mediator.Handle(b, applyReplies)
			mediator.Handle(b, func(context.Context, SendCommand) (string, error) {
				return "", errors.New("wrong handler")
			})
			b.Use(tt.behaviours...)
			m := mustBuild(t, b)

			got, err := tt.send(m, ApplyReplies{Count: 3})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if got.Applied != 3 {
				t.Errorf("Applied = %d, want 3", got.Applied)
			}
		})
	}
}

func TestHandlerErrorAndResponseAreReturned(t *testing.T) {
	errStep := errors.New("step failed")
	b := mediator.NewBuilder()
	mediator.Handle(b, func(context.Context, ApplyReplies) (Applied, error) {
		return Applied{Applied: 1}, errStep
	})
	b.Use(mediator.Recover())
	send := mediator.MustSenderFor[ApplyReplies, Applied](mustBuild(t, b))

	got, err := send(context.Background(), ApplyReplies{})
	if !errors.Is(err, errStep) {
		t.Errorf("err = %v, want %v", err, errStep)
	}
	if got.Applied != 1 {
		t.Errorf("Applied = %d, want the handler's partial response 1", got.Applied)
	}
}

func TestBuildRejectsInvalidRegistrations(t *testing.T) {
	tests := []struct {
		name       string
		register   func(*mediator.Builder)
		wantIs     []error
		wantText   []string
		wantAbsent []string
	}{
		{
			name: "duplicate handlers for two types",
			register: func(b *mediator.Builder) {
				mediator.Handle(b, applyReplies)
				mediator.Handle(b, applyReplies)
				mediator.Handle(b, func(context.Context, SendCommand) (string, error) { return "", nil })
				mediator.Handle(b, func(context.Context, SendCommand) (int, error) { return 0, nil })
				mediator.Handle(b, func(context.Context, StepCompleted) (int, error) { return 0, nil })
			},
			wantIs:     []error{mediator.ErrDuplicateHandler},
			wantText:   []string{"mediator_test.ApplyReplies", qualSendCommand},
			wantAbsent: []string{nameStepCompleted},
		},
		{
			name: "nil handler, subscriber and behaviour",
			register: func(b *mediator.Builder) {
				mediator.Handle[ApplyReplies, Applied](b, nil)
				mediator.Subscribe[StepCompleted](b, nil)
				b.Use(mediator.Recover(), nil)
			},
			wantIs:   []error{mediator.ErrNilHandler, mediator.ErrNilBehaviour},
			wantText: []string{"request mediator_test.ApplyReplies", "notification mediator_test.StepCompleted", "position 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mediator.NewBuilder()
			tt.register(b)
			m, err := b.Build()
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if m != nil {
				t.Error("Build returned a Mediator along with its error")
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			for _, text := range tt.wantText {
				if !strings.Contains(err.Error(), text) {
					t.Errorf("error %q does not mention %q", err, text)
				}
			}
			for _, text := range tt.wantAbsent {
				if strings.Contains(err.Error(), text) {
					t.Errorf("error %q mentions %q, which was registered correctly", err, text)
				}
			}
		})
	}
}

func TestResolutionErrors(t *testing.T) {
	b := mediator.NewBuilder()
	mediator.Handle(b, applyReplies)
	m := mustBuild(t, b)
	ctx := context.Background()

	tests := []struct {
		name     string
		resolve  func() error
		wantIs   error
		wantText string
	}{
		{
			name: "SenderFor without handler",
			resolve: func() error {
				_, err := mediator.SenderFor[SendCommand, string](m)
				return err
			},
			wantIs:   mediator.ErrNoHandler,
			wantText: qualSendCommand,
		},
		{
			name: "Send without handler",
			resolve: func() error {
				_, err := mediator.Send[SendCommand, string](ctx, m, SendCommand{})
				return err
			},
			wantIs:   mediator.ErrNoHandler,
			wantText: qualSendCommand,
		},
		{
			name: "SenderFor with the wrong response type",
			resolve: func() error {
				_, err := mediator.SenderFor[ApplyReplies, string](m)
				return err
			},
			wantIs:   mediator.ErrResponseType,
			wantText: "handled with response mediator_test.Applied, not string",
		},
		{
			name: "Send with the wrong response type",
			resolve: func() error {
				_, err := mediator.Send[ApplyReplies, *Applied](ctx, m, ApplyReplies{})
				return err
			},
			wantIs:   mediator.ErrResponseType,
			wantText: "not *mediator_test.Applied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.resolve()
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
}

func TestMustSenderForPanicsWithoutHandler(t *testing.T) {
	m := mustBuild(t, mediator.NewBuilder())
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, mediator.ErrNoHandler) {
			t.Errorf("recovered %v, want an error wrapping ErrNoHandler", err)
		}
	}()
	mediator.MustSenderFor[ApplyReplies, Applied](m)
}

func TestBehaviourOrder(t *testing.T) {
	var log []string
	b := mediator.NewBuilder()
	mediator.Handle(b, func(ctx context.Context, req ApplyReplies) (Applied, error) {
		log = append(log, "handler")
		return applyReplies(ctx, req)
	})
	mediator.Subscribe(b, func(context.Context, StepCompleted) error {
		log = append(log, "subscriber")
		return nil
	})
	b.Use(record("a", &log), record("b", &log))
	b.Use(record("c", &log))
	m := mustBuild(t, b)
	ctx := context.Background()

	tests := []struct {
		name     string
		dispatch func() error
		inner    string
	}{
		{
			name: kindRequest,
			dispatch: func() error {
				_, err := mediator.MustSenderFor[ApplyReplies, Applied](m)(ctx, ApplyReplies{})
				return err
			},
			inner: "handler",
		},
		{
			name:     "notification",
			dispatch: func() error { return mediator.PublisherFor[StepCompleted](m)(ctx, StepCompleted{}) },
			inner:    "subscriber",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log = nil
			if err := tt.dispatch(); err != nil {
				t.Fatalf("dispatch: %v", err)
			}
			want := []string{"a>", "b>", "c>", tt.inner, "<c", "<b", "<a"}
			if !slices.Equal(log, want) {
				t.Errorf("order = %v, want %v", log, want)
			}
		})
	}
}

func TestBehaviourSeesInfo(t *testing.T) {
	var got []mediator.Info
	b := mediator.NewBuilder()
	mediator.Handle(b, applyReplies)
	mediator.Handle(b, func(context.Context, *SendCommand) (string, error) { return "", nil })
	mediator.Handle(b, func(context.Context, Envelope[int]) (string, error) { return "", nil })
	mediator.Subscribe(b, func(context.Context, StepCompleted) error { return nil })
	b.Use(func(ctx context.Context, info mediator.Info, next mediator.Next) error {
		got = append(got, info)
		return next(ctx)
	})
	m := mustBuild(t, b)
	ctx := context.Background()

	_, _ = mediator.Send[ApplyReplies, Applied](ctx, m, ApplyReplies{})
	_, _ = mediator.Send[*SendCommand, string](ctx, m, &SendCommand{})
	_, _ = mediator.Send[Envelope[int], string](ctx, m, Envelope[int]{})
	_ = mediator.Publish(ctx, m, StepCompleted{})

	want := []mediator.Info{
		{Kind: mediator.KindRequest, Name: "ApplyReplies"},
		{Kind: mediator.KindRequest, Name: "*SendCommand"},
		{Kind: mediator.KindRequest, Name: "Envelope[int]"},
		{Kind: mediator.KindNotification, Name: nameStepCompleted},
	}
	if !slices.Equal(got, want) {
		t.Errorf("infos = %+v, want %+v", got, want)
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind mediator.Kind
		want string
	}{
		{mediator.KindRequest, kindRequest},
		{mediator.KindNotification, "notification"},
		{mediator.Kind(0), "Kind(0)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.kind), got, tt.want)
		}
	}
}

func TestBehaviourShortCircuits(t *testing.T) {
	errDenied := errors.New("denied")
	tests := []struct {
		name    string
		result  error
		wantErr error
	}{
		{name: "with an error", result: errDenied, wantErr: errDenied},
		{name: "without an error", result: nil, wantErr: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			called := false
			b := mediator.NewBuilder()
			mediator.Handle(b, func(context.Context, ApplyReplies) (Applied, error) {
				called = true
				return Applied{Applied: 1}, nil
			})
			b.Use(record("outer", &log), func(context.Context, mediator.Info, mediator.Next) error {
				return tt.result
			}, record("inner", &log))
			send := mediator.MustSenderFor[ApplyReplies, Applied](mustBuild(t, b))

			got, err := send(context.Background(), ApplyReplies{})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if called {
				t.Error("handler was called")
			}
			if got != (Applied{}) {
				t.Errorf("response = %+v, want the zero value", got)
			}
			if want := []string{"outer>", "<outer"}; !slices.Equal(log, want) {
				t.Errorf("log = %v, want %v", log, want)
			}
		})
	}
}

type ctxKey struct{}

// TestBehaviourControlsNext checks what the closure-carried response allows:
// a behaviour may pass the handler a new context and call next again (a
// retry), and the caller gets the last call's response.
func TestBehaviourControlsNext(t *testing.T) {
	errTransient := errors.New("transient")
	attempts := 0
	b := mediator.NewBuilder()
	mediator.Handle(b, func(ctx context.Context, _ ApplyReplies) (Applied, error) {
		attempts++
		if ctx.Value(ctxKey{}) != "retrying" {
			return Applied{}, errors.New("behaviour's context not passed on")
		}
		if attempts == 1 {
			return Applied{Applied: -1}, errTransient
		}
		return Applied{Applied: attempts}, nil
	})
	b.Use(func(ctx context.Context, _ mediator.Info, next mediator.Next) error {
		ctx = context.WithValue(ctx, ctxKey{}, "retrying")
		if err := next(ctx); !errors.Is(err, errTransient) {
			return err
		}
		return next(ctx)
	})
	send := mediator.MustSenderFor[ApplyReplies, Applied](mustBuild(t, b))

	got, err := send(context.Background(), ApplyReplies{})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if got.Applied != 2 || attempts != 2 {
		t.Errorf("response %d after %d attempts, want 2 after 2", got.Applied, attempts)
	}
}

func TestPublish(t *testing.T) {
	errSecond := errors.New("second failed")
	tests := []struct {
		name       string
		behaviours []mediator.Behaviour
		publish    func(context.Context, *mediator.Mediator, StepCompleted) error
	}{
		{
			name:       "PublisherFor",
			behaviours: []mediator.Behaviour{mediator.Recover()},
			publish: func(ctx context.Context, m *mediator.Mediator, n StepCompleted) error {
				return mediator.PublisherFor[StepCompleted](m)(ctx, n)
			},
		},
		{
			name:       "Publish",
			behaviours: []mediator.Behaviour{mediator.Logging(), mediator.Recover()},
			publish:    mediator.Publish[StepCompleted],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			sub := func(name string, err error) func(context.Context, StepCompleted) error {
				return func(_ context.Context, n StepCompleted) error {
					calls = append(calls, name+":"+n.Step)
					return err
				}
			}
			b := mediator.NewBuilder()
			mediator.Subscribe(b, sub("first", nil))
			mediator.Subscribe(b, sub("second", errSecond))
			mediator.Subscribe(b, func(context.Context, StepCompleted) error {
				calls = append(calls, "panicking")
				panic("boom")
			})
			mediator.Subscribe(b, sub("fourth", nil))
			b.Use(tt.behaviours...)
			m := mustBuild(t, b)

			err := tt.publish(context.Background(), m, StepCompleted{Step: stepReserve})

			want := []string{"first:" + stepReserve, "second:" + stepReserve, "panicking", "fourth:" + stepReserve}
			if !slices.Equal(calls, want) {
				t.Errorf("calls = %v, want %v", calls, want)
			}
			if !errors.Is(err, errSecond) {
				t.Errorf("err = %v, want it to include %v", err, errSecond)
			}
			pe, ok := errors.AsType[*mediator.PanicError](err)
			if !ok {
				t.Fatalf("err = %v, want it to include a *PanicError", err)
			}
			if pe.Value != "boom" || pe.Info.Name != nameStepCompleted || pe.Info.Kind != mediator.KindNotification {
				t.Errorf("PanicError = {%+v %v}, want the StepCompleted notification's panic", pe.Info, pe.Value)
			}
		})
	}
}

func TestPublishWithoutSubscribersIsNoOp(t *testing.T) {
	b := mediator.NewBuilder()
	b.Use(mediator.Recover())
	m := mustBuild(t, b)
	if err := mediator.PublisherFor[StepCompleted](m)(context.Background(), StepCompleted{}); err != nil {
		t.Errorf("PublisherFor: %v", err)
	}
	if err := mediator.Publish(context.Background(), m, StepCompleted{}); err != nil {
		t.Errorf("Publish: %v", err)
	}
}

func TestMediatorIsUnaffectedByLaterRegistrations(t *testing.T) {
	var calls []string
	b := mediator.NewBuilder()
	mediator.Subscribe(b, func(context.Context, StepCompleted) error {
		calls = append(calls, "first")
		return nil
	})
	m := mustBuild(t, b)

	mediator.Subscribe(b, func(context.Context, StepCompleted) error {
		calls = append(calls, "late")
		return nil
	})
	mediator.Handle(b, applyReplies)
	b.Use(func(context.Context, mediator.Info, mediator.Next) error { return errors.New("late behaviour") })

	if err := mediator.Publish(context.Background(), m, StepCompleted{}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if want := []string{"first"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	if _, err := mediator.SenderFor[ApplyReplies, Applied](m); !errors.Is(err, mediator.ErrNoHandler) {
		t.Errorf("SenderFor after a late Handle: err = %v, want ErrNoHandler", err)
	}
}

// TestConcurrentDispatch is meant for go test -race: one Mediator, its
// Senders and Publishers, and the Standard behaviours with logging enabled,
// shared by many goroutines.
func TestConcurrentDispatch(t *testing.T) {
	const goroutines, perGoroutine = 16, 100
	var handled, notified atomic.Int64
	behaviours, err := mediator.Standard(prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("Standard: %v", err)
	}
	b := mediator.NewBuilder()
	mediator.Handle(b, func(_ context.Context, req ApplyReplies) (Applied, error) {
		handled.Add(1)
		return Applied{Applied: req.Count}, nil
	})
	mediator.Subscribe(b, func(context.Context, StepCompleted) error {
		notified.Add(1)
		return nil
	})
	b.Use(behaviours...)
	m := mustBuild(t, b)
	send := mediator.MustSenderFor[ApplyReplies, Applied](m)
	publish := mediator.PublisherFor[StepCompleted](m)
	ctx, lines := captureLogs(1)

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				req := ApplyReplies{Count: g*perGoroutine + i}
				var got Applied
				var err error
				if i%2 == 0 {
					got, err = send(ctx, req)
				} else {
					got, err = mediator.Send[ApplyReplies, Applied](ctx, m, req)
				}
				if err == nil && got.Applied != req.Count {
					err = fmt.Errorf("got %d for request %d", got.Applied, req.Count)
				}
				if err == nil {
					err = publish(ctx, StepCompleted{})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := handled.Load(), int64(goroutines*perGoroutine); got != want {
		t.Errorf("handled %d requests, want %d", got, want)
	}
	if got, want := notified.Load(), int64(goroutines*perGoroutine); got != want {
		t.Errorf("delivered %d notifications, want %d", got, want)
	}
	if got, want := len(lines()), 2*goroutines*perGoroutine; got != want {
		t.Errorf("logged %d dispatches, want %d", got, want)
	}
}
