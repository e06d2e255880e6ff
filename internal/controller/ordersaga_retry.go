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
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/saga"
)

// RequestRetry is a command: a person asks for another round of a failed
// compensation of Saga. Token identifies the request; a token already acted
// upon is not acted upon again. Today it comes from RetryAnnotation; later
// verbs and the bus send the same command.
type RequestRetry struct {
	Saga  types.NamespacedName
	Token string
}

// RetryQueued says whether the request was queued for the saga's next pass
// (false: the token was acted upon already).
type RetryQueued struct{ Queued bool }

// ErrInvalidRetryToken refuses a request without a token.
var ErrInvalidRetryToken = errors.New("retry request needs a token")

// requestRetry queues a retry request in the saga's inbox, which wakes its
// reconcile; the pass applies it like a reply, and the machine decides
// whether the saga can be retried (only a Failed one is).
func (r *OrderSagaReconciler) requestRetry(ctx context.Context, cmd RequestRetry) (RetryQueued, error) {
	if cmd.Token == "" {
		return RetryQueued{}, ErrInvalidRetryToken
	}
	state, err := r.getSaga(ctx, GetSaga{Namespace: cmd.Saga.Namespace, Name: cmd.Saga.Name})
	if err != nil {
		return RetryQueued{}, err
	}
	if state.LastHandledRetry == saga.RetryToken(cmd.Token) {
		return RetryQueued{}, nil
	}
	r.Inbox.Add(cmd.Saga, &InboxItem{Event: saga.RetryRequested{Token: cmd.Token}, Received: r.Clock.Now()})
	return RetryQueued{Queued: true}, nil
}

// retryRequests turns RetryAnnotation values not yet acted upon into
// RequestRetry commands: on a change of the annotation, and for every saga
// the cache lists at start, so that a request made while the operator was
// down is not lost. The request's pass is woken through the inbox, so this
// handler never touches the work queue.
func (r *OrderSagaReconciler) retryRequests() handler.TypedEventHandler[*ordersv1alpha1.OrderSaga, reconcile.Request] {
	send := func(ctx context.Context, obj *ordersv1alpha1.OrderSaga) {
		token := obj.Annotations[ordersv1alpha1.RetryAnnotation]
		if token == "" || saga.RetryToken(token) == obj.Status.LastHandledRetry {
			return
		}
		key := types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}
		if _, err := r.retry(ctx, RequestRetry{Saga: key, Token: token}); err != nil {
			ctrl.LoggerFrom(ctx).Info("Retry request not queued", "saga", key, "error", err.Error())
		}
	}
	return handler.TypedFuncs[*ordersv1alpha1.OrderSaga, reconcile.Request]{
		CreateFunc: func(ctx context.Context, e event.TypedCreateEvent[*ordersv1alpha1.OrderSaga], _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			send(ctx, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[*ordersv1alpha1.OrderSaga], _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.Annotations[ordersv1alpha1.RetryAnnotation] != e.ObjectNew.Annotations[ordersv1alpha1.RetryAnnotation] {
				send(ctx, e.ObjectNew)
			}
		},
	}
}
