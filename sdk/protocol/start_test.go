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
	"reflect"
	"strings"
	"testing"
)

const goodOrder = `{"id":"ORD-1","customer":{"id":"C-1"},"items":[{"sku":"A","quantity":1,"unitPrice":"1.00"}],"total":{"amount":"1.00","currency":"EUR"}}`

func TestDecodeStartRequest(t *testing.T) {
	ttl := int32(60)
	tests := []struct {
		name             string
		typ, contentType string
		body             string
		want             StartRequest
		wantReason       string
	}{
		{name: "good", contentType: ContentType, body: `{"template":"checkout","namespace":"shop","order":` + goodOrder + `}`,
			want: StartRequest{Template: "checkout", Namespace: "shop", Order: Order{ID: "ORD-1", Customer: Customer{ID: "C-1"},
				Items: []LineItem{{SKU: "A", Quantity: 1, UnitPrice: "1.00"}}, Total: Money{Amount: "1.00", Currency: "EUR"}}}},
		{name: "type, no content type, ttl, unknown field", typ: StartType,
			body: `{"template":"checkout","namespace":"shop","order":{"id":"o1"},"ttlSecondsAfterFinished":60,"extra":1}`,
			want: StartRequest{Template: "checkout", Namespace: "shop", Order: Order{ID: "o1"}, TTLSecondsAfterFinished: &ttl}},
		{name: "oversized", body: `{"template":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, wantReason: RefuseOversized},
		{name: "wrong type", typ: QueryType, body: `{}`, wantReason: RefuseUnknownType},
		{name: "wrong content type", contentType: "text/plain", body: `{}`, wantReason: RefuseWrongContentType},
		{name: "not JSON", body: `{"template":`, wantReason: RefuseMalformed},
		{name: "not an object", body: `[1]`, wantReason: RefuseMalformed},
		{name: "trailing data", body: `{} {}`, wantReason: RefuseMalformed},
		{name: "no template", body: `{"namespace":"shop","order":{"id":"o1"}}`, wantReason: RefuseInvalid},
		{name: "bad template", body: `{"template":"Check.out","namespace":"shop","order":{"id":"o1"}}`, wantReason: RefuseInvalid},
		{name: "no namespace", body: `{"template":"checkout","order":{"id":"o1"}}`, wantReason: RefuseInvalid},
		{name: "bad namespace", body: `{"template":"checkout","namespace":"a/b","order":{"id":"o1"}}`, wantReason: RefuseInvalid},
		{name: "negative ttl", body: `{"template":"checkout","namespace":"shop","order":{"id":"o1"},"ttlSecondsAfterFinished":-1}`,
			wantReason: RefuseInvalid},
		{name: "no order", body: `{"template":"checkout","namespace":"shop"}`, wantReason: RefuseInvalidOrder},
		{name: "bad order id", body: `{"template":"checkout","namespace":"shop","order":{"id":"-x"}}`, wantReason: RefuseInvalidOrder},
		{name: "long order id", body: `{"template":"checkout","namespace":"shop","order":{"id":"` + strings.Repeat("x", 65) + `"}}`,
			wantReason: RefuseInvalidOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStartRequest(tt.typ, tt.contentType, []byte(tt.body))
			if reason := RejectReason(err); reason != tt.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", reason, tt.wantReason, err)
			}
			if tt.wantReason == "" && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if err != nil && len(err.Error()) > 512 {
				t.Errorf("error of %d bytes: it becomes a header", len(err.Error()))
			}
		})
	}
}

func TestDecodeQueryRequest(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		want       QueryRequest
		wantReason string
	}{
		{name: "by name", body: `{"namespace":"shop","name":"checkout.o1"}`, want: QueryRequest{Namespace: "shop", Name: "checkout.o1"}},
		{name: "by order", body: `{"orderId":"ORD-1"}`, want: QueryRequest{OrderID: "ORD-1"}},
		{name: "by order in a namespace", body: `{"orderId":"ORD-1","namespace":"shop"}`, want: QueryRequest{Namespace: "shop", OrderID: "ORD-1"}},
		{name: "neither", body: `{"namespace":"shop"}`, wantReason: RefuseInvalid},
		{name: "both", body: `{"namespace":"shop","name":"a","orderId":"b"}`, wantReason: RefuseInvalid},
		{name: "name without namespace", body: `{"name":"a"}`, wantReason: RefuseInvalid},
		{name: "bad name", body: `{"namespace":"shop","name":"A_b"}`, wantReason: RefuseInvalid},
		{name: "bad order id", body: `{"orderId":"a b"}`, wantReason: RefuseInvalid},
		{name: "malformed", body: `nope`, wantReason: RefuseMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeQueryRequest("", ContentType, []byte(tt.body))
			if reason := RejectReason(err); reason != tt.wantReason {
				t.Fatalf("reason %q, want %q (err %v)", reason, tt.wantReason, err)
			}
			if tt.wantReason == "" && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStartedSagaName(t *testing.T) {
	long := strings.Repeat("x", 63)
	tests := []struct {
		template, orderID string
		want              string // "" checks only the rules
	}{
		{"checkout", "order-1001", "checkout.order-1001"},
		{"checkout", "ORD-1001", ""},
		{"checkout", "ord:1001.a_b", ""},
		{"checkout", strings.Repeat("9", 64), ""},
		{long, "o1", ""},
		{long, strings.Repeat("Z", 64), ""},
		{"a", "b", "a.b"},
		{"checkout", "A-", ""},
	}
	for _, tt := range tests {
		t.Run(tt.template+"/"+tt.orderID, func(t *testing.T) {
			got := StartedSagaName(tt.template, tt.orderID)
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if err := checkName(got); err != nil || len(got) > MaxSagaNameLength {
				t.Errorf("%q (%d characters): %v", got, len(got), err)
			}
			if again := StartedSagaName(tt.template, tt.orderID); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

// Ids that differ only where sanitising or cutting loses the difference, and
// templates and ids that split one string differently, give distinct names.
func TestStartedSagaNameDistinct(t *testing.T) {
	pairs := make([][2]string, 0, 60)
	pairs = append(pairs, [][2]string{
		{"checkout", "ORD-1"}, {"checkout", "ord-1"}, {"checkout", "Ord-1"}, {"checkout", "ord.1"}, {"checkout", "ord:1"},
		{"checkout", "ord_1"}, {"checkout-b", "c"}, {"checkout", "b-c"}, {"a-b", "c"}, {"a", "b-c"},
	}...)
	for i := range 50 {
		pairs = append(pairs, [2]string{"checkout", strings.Repeat("9", 60) + fmt.Sprintf("%04d", i)})
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		name := StartedSagaName(p[0], p[1])
		if prev, ok := seen[name]; ok {
			t.Fatalf("%v and %v both give %q", prev, p, name)
		}
		seen[name] = p
	}
}
