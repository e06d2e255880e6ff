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

package badheaders

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func TestEveryForgeryIsAnInvalidHeader(t *testing.T) {
	valid := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: "0b6f3c1e-8a2d-4c5e-9f10-3a7b2c4d5e6f",
		Step: "charge-payment", Kind: protocol.KindCommand, Attempt: 1, Deadline: time.Now()}.Table()
	if _, err := protocol.ParseHeaders(valid); err != nil {
		t.Fatalf("the headers forged from are not valid: %v", err)
	}
	original := maps.Clone(valid)
	for n := range len(forgeries) {
		_, err := protocol.ParseHeaders(Forge(valid, n))
		var reject *protocol.RejectError
		if !errors.As(err, &reject) || reject.Reason != protocol.RejectInvalidHeader {
			t.Errorf("forgery %d: parsed with error %v, want %s", n, err, protocol.RejectInvalidHeader)
		}
	}
	if !maps.Equal(valid, original) {
		t.Errorf("Forge changed the headers it was given: %v, was %v", valid, original)
	}
}
