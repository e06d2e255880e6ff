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
	"fmt"

	"github.com/google/uuid"
)

// idNamespace is the UUID namespace of message ids (a random UUID, fixed
// forever: changing it would change every id).
var idNamespace = uuid.MustParse("6f1c2a8e-4b7d-4e0a-9c3f-2d5b8a1e7c90")

// MessageID derives the message id of one attempt of a step's command or
// compensation. The id is a deterministic name-based UUID (version 5): the
// operator computes the same id again after a crash, so a command sent again
// is recognised by the participant as the same message. Being a UUID, it also
// fits envelopes, such as MassTransit's, that require one.
func MessageID(sagaUID, step string, kind Kind, round, attempt int32) string {
	name := fmt.Sprintf("%s/%s/%s/%d/%d", sagaUID, step, kind, round, attempt)
	return uuid.NewSHA1(idNamespace, []byte(name)).String()
}

// IdempotencyKey is shared by every attempt of a step's command (or
// compensation) within one retry round: a participant makes its effect
// happen at most once per key. A manual retry starts a new round and so a
// new key, because a person asked for the work to be tried again.
func IdempotencyKey(sagaUID, step string, kind Kind, round int32) string {
	return fmt.Sprintf("%s/%s/%s/%d", sagaUID, step, kind, round)
}
