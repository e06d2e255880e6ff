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

	"github.com/ordersaga/ordersaga-operator/internal/mediator"
)

// Names the tests expect in errors, Info and labels.
const (
	nameSendCommand   = "SendCommand"
	nameStepCompleted = "StepCompleted"
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

func mustBuild(tb testing.TB, b *mediator.Builder) *mediator.Mediator {
	tb.Helper()
	m, err := b.Build()
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return m
}

func mustSender[Req, Resp any](tb testing.TB, m *mediator.Mediator) mediator.Sender[Req, Resp] {
	tb.Helper()
	s, err := mediator.SenderFor[Req, Resp](m)
	if err != nil {
		tb.Fatalf("SenderFor: %v", err)
	}
	return s
}

// record returns a behaviour that appends its entry and exit, and what it
// wraps, to *log.
func record(name string, log *[]string) mediator.Behaviour {
	return func(ctx context.Context, info mediator.Info, next mediator.Next) error {
		*log = append(*log, name+">"+info.Kind.String()+":"+info.Name)
		err := next(ctx)
		*log = append(*log, "<"+name)
		return err
	}
}

func TestSenderDispatchesToTheRegisteredHandler(t *testing.T) {
	for _, withBehaviours := range []bool{false, true} {
		t.Run(fmt.Sprintf("behaviours=%v", withBehaviours), func(t *testing.T) {
			b := mediator.NewBuilder()
			mediator.Handle(b, applyReplies)
			mediator.Handle(b, func(context.Context, SendCommand) (string, error) { return "", errors.New("wrong handler") })
			var log []string
			if withBehaviours {
				b.Use(record("outer", &log))
			}
			send := mustSender[ApplyReplies, Applied](t, mustBuild(t, b))

			got, err := send(context.Background(), ApplyReplies{Count: 3})

			if err != nil || got.Applied != 3 {
				t.Errorf("send = %+v, %v; want {Applied:3}, nil", got, err)
			}
			if withBehaviours && !slices.Equal(log, []string{"outer>request:ApplyReplies", "<outer"}) {
				t.Errorf("behaviour log = %v", log)
			}
		})
	}
}

func TestHandlerErrorAndResponseAreReturned(t *testing.T) {
	errBoom := errors.New("boom")
	b := mediator.NewBuilder()
	mediator.Handle(b, func(context.Context, ApplyReplies) (Applied, error) { return Applied{Applied: 7}, errBoom })
	b.Use(mediator.Logging())
	got, err := mustSender[ApplyReplies, Applied](t, mustBuild(t, b))(context.Background(), ApplyReplies{})
	if !errors.Is(err, errBoom) || got.Applied != 7 {
		t.Errorf("send = %+v, %v; want the handler's response and error", got, err)
	}
}

func TestCallRunsTheNamedHandlerInsideTheBehaviours(t *testing.T) {
	var log []string
	b := mediator.NewBuilder()
	b.Use(record("outer", &log), record("inner", &log))
	m := mustBuild(t, b)

	got, err := mediator.Call(context.Background(), m, applyReplies, ApplyReplies{Count: 2})

	if err != nil || got.Applied != 2 {
		t.Errorf("Call = %+v, %v; want {Applied:2}, nil", got, err)
	}
	want := []string{"outer>step:ApplyReplies", "inner>step:ApplyReplies", "<inner", "<outer"}
	if !slices.Equal(log, want) {
		t.Errorf("behaviour log = %v, want %v", log, want)
	}

	// Without behaviours the handler is called directly.
	got, err = mediator.Call(context.Background(), mustBuild(t, mediator.NewBuilder()), applyReplies, ApplyReplies{Count: 5})
	if err != nil || got.Applied != 5 {
		t.Errorf("Call without behaviours = %+v, %v", got, err)
	}
}

func TestBuildRejectsInvalidRegistrations(t *testing.T) {
	tests := []struct {
		name     string
		register func(*mediator.Builder)
		want     []error
	}{
		{
			name: "duplicate handler",
			register: func(b *mediator.Builder) {
				mediator.Handle(b, applyReplies)
				mediator.Handle(b, applyReplies)
			},
			want: []error{mediator.ErrDuplicateHandler},
		},
		{
			name: "nil handler and nil subscriber",
			register: func(b *mediator.Builder) {
				mediator.Handle[ApplyReplies, Applied](b, nil)
				mediator.Subscribe[StepCompleted](b, nil)
			},
			want: []error{mediator.ErrNilHandler},
		},
		{
			name:     "nil behaviour",
			register: func(b *mediator.Builder) { b.Use(mediator.Logging(), nil) },
			want:     []error{mediator.ErrNilBehaviour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mediator.NewBuilder()
			tt.register(b)
			m, err := b.Build()
			if m != nil {
				t.Error("Build returned a Mediator despite invalid registrations")
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to wrap %v", err, want)
				}
			}
		})
	}
}

func TestSenderForResolutionErrors(t *testing.T) {
	b := mediator.NewBuilder()
	mediator.Handle(b, applyReplies)
	m := mustBuild(t, b)

	if _, err := mediator.SenderFor[SendCommand, string](m); !errors.Is(err, mediator.ErrNoHandler) ||
		!strings.Contains(err.Error(), "mediator_test.SendCommand") {
		t.Errorf("no handler: err = %v, want ErrNoHandler naming the request", err)
	}
	if _, err := mediator.SenderFor[ApplyReplies, *Applied](m); !errors.Is(err, mediator.ErrResponseType) {
		t.Errorf("wrong response: err = %v, want ErrResponseType", err)
	}
}

func TestBehaviourSeesTypeNames(t *testing.T) {
	var names []string
	b := mediator.NewBuilder()
	b.Use(func(ctx context.Context, info mediator.Info, next mediator.Next) error {
		names = append(names, info.Kind.String()+":"+info.Name)
		return next(ctx)
	})
	mediator.Handle(b, func(context.Context, *SendCommand) (string, error) { return "", nil })
	mediator.Handle(b, func(context.Context, Envelope[int]) (string, error) { return "", nil })
	mediator.Subscribe(b, func(context.Context, StepCompleted) error { return nil })
	m := mustBuild(t, b)
	ctx := context.Background()

	_, _ = mustSender[*SendCommand, string](t, m)(ctx, &SendCommand{})
	_, _ = mustSender[Envelope[int], string](t, m)(ctx, Envelope[int]{})
	_ = mediator.PublisherFor[StepCompleted](m)(ctx, StepCompleted{})

	want := []string{"request:*SendCommand", "request:Envelope[int]", "notification:" + nameStepCompleted}
	if !slices.Equal(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
}

func TestKindString(t *testing.T) {
	for kind, want := range map[mediator.Kind]string{
		mediator.KindStep: "step", mediator.KindRequest: kindRequest,
		mediator.KindNotification: "notification", mediator.Kind(0): "Kind(0)",
	} {
		if got := kind.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(kind), got, want)
		}
	}
}

func TestBehaviourShortCircuits(t *testing.T) {
	errDenied := errors.New("denied")
	called := false
	b := mediator.NewBuilder()
	mediator.Handle(b, func(context.Context, ApplyReplies) (Applied, error) {
		called = true
		return Applied{Applied: 1}, nil
	})
	b.Use(func(context.Context, mediator.Info, mediator.Next) error { return errDenied })
	got, err := mustSender[ApplyReplies, Applied](t, mustBuild(t, b))(context.Background(), ApplyReplies{})
	if called || !errors.Is(err, errDenied) || got != (Applied{}) {
		t.Errorf("called=%v send = %+v, %v; want the handler skipped, the zero response and the behaviour's error", called, got, err)
	}
}

type ctxKey struct{}

func TestBehaviourPassesContextOn(t *testing.T) {
	b := mediator.NewBuilder()
	mediator.Handle(b, func(ctx context.Context, _ ApplyReplies) (Applied, error) {
		v, _ := ctx.Value(ctxKey{}).(int)
		return Applied{Applied: v}, nil
	})
	b.Use(func(ctx context.Context, _ mediator.Info, next mediator.Next) error {
		return next(context.WithValue(ctx, ctxKey{}, 42))
	})
	got, err := mustSender[ApplyReplies, Applied](t, mustBuild(t, b))(context.Background(), ApplyReplies{})
	if err != nil || got.Applied != 42 {
		t.Errorf("send = %+v, %v; want the value the behaviour put in the context", got, err)
	}
}

func TestPublisherCallsEverySubscriberInOrder(t *testing.T) {
	errFirst, errThird := errors.New("first"), errors.New("third")
	var calls []string
	var log []string
	b := mediator.NewBuilder()
	b.Use(record("b", &log))
	mediator.Subscribe(b, func(_ context.Context, n StepCompleted) error {
		calls = append(calls, "1:"+n.Step)
		return errFirst
	})
	mediator.Subscribe(b, func(_ context.Context, n StepCompleted) error {
		calls = append(calls, "2:"+n.Step)
		return nil
	})
	mediator.Subscribe(b, func(_ context.Context, n StepCompleted) error {
		calls = append(calls, "3:"+n.Step)
		return errThird
	})
	publish := mediator.PublisherFor[StepCompleted](mustBuild(t, b))

	err := publish(context.Background(), StepCompleted{Step: stepReserve})

	// A failing subscriber does not stop the others; every error comes back.
	if want := []string{"1:reserve", "2:reserve", "3:reserve"}; !slices.Equal(calls, want) {
		t.Errorf("calls = %v, want %v", calls, want)
	}
	if !errors.Is(err, errFirst) || !errors.Is(err, errThird) {
		t.Errorf("err = %v, want both subscribers' errors", err)
	}
	if len(log) != 6 {
		t.Errorf("behaviour ran %d times around 3 subscribers: %v", len(log)/2, log)
	}
}

func TestPublisherWithoutSubscribersIsNoOp(t *testing.T) {
	b := mediator.NewBuilder()
	b.Use(func(context.Context, mediator.Info, mediator.Next) error { return errors.New("must not run") })
	if err := mediator.PublisherFor[StepCompleted](mustBuild(t, b))(context.Background(), StepCompleted{}); err != nil {
		t.Errorf("publish = %v, want nil", err)
	}
}

func TestMediatorIsUnaffectedByLaterRegistrations(t *testing.T) {
	var calls atomic.Int32
	b := mediator.NewBuilder()
	mediator.Subscribe(b, func(context.Context, StepCompleted) error { calls.Add(1); return nil })
	m := mustBuild(t, b)
	mediator.Subscribe(b, func(context.Context, StepCompleted) error { calls.Add(100); return nil })
	mediator.Handle(b, applyReplies)

	_ = mediator.PublisherFor[StepCompleted](m)(context.Background(), StepCompleted{})
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want only the subscriber registered before Build", calls.Load())
	}
	if _, err := mediator.SenderFor[ApplyReplies, Applied](m); !errors.Is(err, mediator.ErrNoHandler) {
		t.Errorf("handler registered after Build resolved: %v", err)
	}
}

func TestConcurrentDispatch(t *testing.T) {
	var published atomic.Int64
	b := mediator.NewBuilder()
	mediator.Handle(b, applyReplies)
	mediator.Subscribe(b, func(context.Context, StepCompleted) error { published.Add(1); return nil })
	b.Use(mediator.Logging())
	m := mustBuild(t, b)
	send := mustSender[ApplyReplies, Applied](t, m)
	publish := mediator.PublisherFor[StepCompleted](m)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ctx := context.Background()
			for range 100 {
				if got, err := send(ctx, ApplyReplies{Count: i}); err != nil || got.Applied != i {
					t.Errorf("send = %+v, %v", got, err)
				}
				if got, err := mediator.Call(ctx, m, applyReplies, ApplyReplies{Count: i}); err != nil || got.Applied != i {
					t.Errorf("Call = %+v, %v", got, err)
				}
				_ = publish(ctx, StepCompleted{})
			}
		})
	}
	wg.Wait()
	if published.Load() != 1600 {
		t.Errorf("published %d, want 1600", published.Load())
	}
}
