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

package saga

import (
	"maps"
	"testing"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// A result of strings, numbers and booleans is recorded as text with the
// types of its non-strings, and carried on to later commands as it came.
func TestResultValuesKeepTheirJSONType(t *testing.T) {
	h := newHarness(t)
	h.tick()
	price, err := protocol.ValueOf(protocol.TypeNumber, "2.50")
	if err != nil {
		t.Fatal(err)
	}
	sent := protocol.Result{"reservationId": protocol.String("r-1"), "count": protocol.Int(3),
		"price": price, "partial": protocol.Bool(false), "code": protocol.String("007")}
	if v := h.replyTo("reserve-inventory", protocol.StatusSucceeded, "", sent); v != Applied {
		t.Fatalf("verdict %s", v)
	}
	rec := h.record("reserve-inventory")
	wantText := map[string]ordersv1alpha1.ResultValue{"reservationId": "r-1", "count": "3", "price": "2.50", "partial": "false", "code": "007"}
	wantTypes := map[string]ordersv1alpha1.ResultType{"count": ordersv1alpha1.ResultNumber,
		"price": ordersv1alpha1.ResultNumber, "partial": ordersv1alpha1.ResultBoolean}
	if !maps.Equal(rec.Result, wantText) || !maps.Equal(rec.ResultTypes, wantTypes) {
		t.Fatalf("recorded %v with types %v", rec.Result, rec.ResultTypes)
	}
	if got := Results(h.saga)["reserve-inventory"]; !maps.Equal(got, sent) {
		t.Fatalf("carried on as %v, want %v", got, sent)
	}
}

func TestAStringResultRecordsNoTypes(t *testing.T) {
	h := newHarness(t)
	h.tick()
	h.replyTo("reserve-inventory", protocol.StatusSucceeded, "", protocol.Result{"reservationId": protocol.String("r-1")})
	if types := h.record("reserve-inventory").ResultTypes; types != nil {
		t.Fatalf("types %v for strings only", types)
	}
}

// A typed value whose text is not of its type (which the CRD's validation
// refuses) goes on as a string rather than breaking every later command.
func TestAnInvalidRecordedValueGoesOnAsAString(t *testing.T) {
	saga := &ordersv1alpha1.OrderSaga{Status: ordersv1alpha1.OrderSagaStatus{Steps: []ordersv1alpha1.StepStatus{{
		Name: "s", Result: map[string]ordersv1alpha1.ResultValue{"n": "three"},
		ResultTypes: map[string]ordersv1alpha1.ResultType{"n": ordersv1alpha1.ResultNumber},
	}}}}
	if got := Results(saga)["s"]["n"]; got != protocol.String("three") {
		t.Fatalf("got %#v", got)
	}
}
