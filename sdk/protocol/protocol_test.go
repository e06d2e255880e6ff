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
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeReply(t *testing.T) {
	manyResults := make([]string, 17)
	for i := range manyResults {
		manyResults[i] = fmt.Sprintf("%q:\"v\"", fmt.Sprintf("k%d", i))
	}
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Reply
		wantReason  string
	}{
		{name: "success with result", contentType: "application/json",
			body: `{"status":"succeeded","result":{"paymentId":"pay-1"}}`,
			want: Reply{Status: StatusSucceeded, Result: Result{"paymentId": String("pay-1")}}},
		{name: "JSON scalars keep their type and notation, null is left out", contentType: "application/json",
			body: `{"status":"succeeded","result":{"count":3,"ok":true,"price":2.50,"big":-1.5e300,"id":"x","gone":null}}`,
			want: Reply{Status: StatusSucceeded, Result: Result{"count": mustNumber(t, "3"), "ok": Bool(true),
				"price": mustNumber(t, "2.50"), "big": mustNumber(t, "-1.5e300"), "id": String("x")}}},
		{name: "only nulls", contentType: "application/json",
			body: `{"status":"succeeded","result":{"gone":null}}`, want: Reply{Status: StatusSucceeded}},
		{name: "final failure", contentType: "application/json; charset=utf-8",
			body: `{"status":"failed","reason":"CardDeclined","message":"limit exceeded"}`,
			want: Reply{Status: StatusFailed, Reason: "CardDeclined", Message: "limit exceeded"}},
		{name: "retryable, unknown fields ignored", contentType: "application/json",
			body: `{"status":"retryable","reason":"Busy","extra":{"x":1}}`,
			want: Reply{Status: StatusRetryable, Reason: "Busy"}},
		{name: "long message is cut", contentType: "application/json",
			body: `{"status":"failed","message":"` + strings.Repeat("é", 600) + `"}`,
			want: Reply{Status: StatusFailed, Message: strings.Repeat("é", 512)}},
		{name: "wrong content type", contentType: "text/plain", body: `{"status":"succeeded"}`, wantReason: RejectWrongContentType},
		{name: "no content type", body: `{"status":"succeeded"}`, wantReason: RejectWrongContentType},
		{name: "not JSON", contentType: "application/json", body: `status=ok`, wantReason: RejectMalformed},
		{name: "trailing data", contentType: "application/json", body: `{"status":"succeeded"} {}`, wantReason: RejectMalformed},
		{name: "wrong field type", contentType: "application/json", body: `{"status":1}`, wantReason: RejectMalformed},
		{name: "oversized", contentType: "application/json",
			body: `{"status":"failed","message":"` + strings.Repeat("x", MaxReplyBytes) + `"}`, wantReason: RejectOversized},
		{name: "unknown status", contentType: "application/json", body: `{"status":"ok"}`, wantReason: RejectInvalid},
		{name: "missing status", contentType: "application/json", body: `{}`, wantReason: RejectInvalid},
		{name: "reason with spaces", contentType: "application/json", body: `{"status":"failed","reason":"card declined"}`, wantReason: RejectInvalid},
		{name: "reason too long", contentType: "application/json",
			body: `{"status":"failed","reason":"` + strings.Repeat("A", 65) + `"}`, wantReason: RejectInvalid},
		{name: "too many results", contentType: "application/json",
			body: `{"status":"succeeded","result":{` + strings.Join(manyResults, ",") + `}}`, wantReason: RejectInvalid},
		{name: "result value too long", contentType: "application/json",
			body: `{"status":"succeeded","result":{"k":"` + strings.Repeat("v", 257) + `"}}`, wantReason: RejectInvalid},
		{name: "result key too long", contentType: "application/json",
			body: `{"status":"succeeded","result":{"` + strings.Repeat("k", 64) + `":"v"}}`, wantReason: RejectInvalid},
		{name: "result on failure", contentType: "application/json",
			body: `{"status":"failed","result":{"k":"v"}}`, wantReason: RejectInvalid},
		{name: "result on retryable", contentType: "application/json",
			body: `{"status":"retryable","result":{"k":1}}`, wantReason: RejectInvalid},
		{name: "object as result value", contentType: "application/json",
			body: `{"status":"succeeded","result":{"k":{"a":1}}}`, wantReason: RejectInvalid},
		{name: "array as result value", contentType: "application/json",
			body: `{"status":"succeeded","result":{"k":[1]}}`, wantReason: RejectInvalid},
		{name: "number notation too long", contentType: "application/json",
			body: `{"status":"succeeded","result":{"k":1` + strings.Repeat("0", 256) + `}}`, wantReason: RejectInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeReply(tt.contentType, []byte(tt.body))
			if tt.wantReason != "" {
				if reason := RejectReason(err); reason != tt.wantReason {
					t.Fatalf("want reject reason %s, got %v", tt.wantReason, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func mustNumber(t *testing.T, notation string) Value {
	t.Helper()
	v, err := ValueOf(TypeNumber, notation)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A result value reaches later steps as the participant sent it: its JSON
// type and, for a number, its notation.
func TestResultValuesPassOnUnchanged(t *testing.T) {
	reply, err := DecodeReply(ContentType, []byte(`{"status":"succeeded","result":{"n":2.50,"b":false,"s":"3","i":-7}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(Command{Results: map[string]Result{"step": reply.Result}})
	if err != nil {
		t.Fatal(err)
	}
	var cmd struct {
		Results map[string]map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &cmd); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"n": `2.50`, "b": `false`, "s": `"3"`, "i": `-7`}
	for k, raw := range want {
		if got := string(cmd.Results["step"][k]); got != raw {
			t.Errorf("result %s: got %s, want %s", k, got, raw)
		}
	}
	for _, v := range reply.Result {
		back, err := ValueOf(v.Type(), v.Text())
		if err != nil || back != v {
			t.Errorf("ValueOf(%s, %q) = %v, %v", v.Type(), v.Text(), back, err)
		}
	}
}

func TestValueOfRefusesWhatIsNotJSON(t *testing.T) {
	for _, tt := range []struct {
		typ  ValueType
		text string
	}{{TypeNumber, "1,5"}, {TypeNumber, "NaN"}, {TypeNumber, "01"}, {TypeBoolean, "yes"}, {"object", "{}"}} {
		if _, err := ValueOf(tt.typ, tt.text); err == nil {
			t.Errorf("ValueOf(%s, %q) accepted", tt.typ, tt.text)
		}
	}
	if _, err := Float(math.Inf(1)); err == nil {
		t.Error("Float(+Inf) accepted")
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	want := Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: testUID, Step: "charge-payment",
		Kind: KindCompensation, Round: 1, Attempt: 3, Deadline: time.Date(2026, 11, 27, 10, 0, 0, 500, time.UTC)}
	got, err := ParseHeaders(want.Table())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	// AMQP decodes integers into whatever width the sender chose: amqplib
	// sends 0 and 1 back as int8, pika as int32, Go clients as they like.
	for _, n := range []any{int8(3), int16(3), int32(3), int64(3), int(3), uint8(3), uint16(3), uint32(3), uint64(3), uint(3)} {
		table := want.Table()
		table[HeaderAttempt] = n
		table[HeaderRound] = n
		if got, err := ParseHeaders(table); err != nil || got.Attempt != 3 || got.Round != 3 {
			t.Fatalf("integer of type %T: got %+v, %v", n, got, err)
		}
	}
}

func TestParseHeadersErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(map[string]any)
		reason string
		want   string
	}{
		{"no uid", func(m map[string]any) { delete(m, HeaderSagaUID) }, RejectMissingHeaders, HeaderSagaUID},
		{"empty step", func(m map[string]any) { m[HeaderStep] = "" }, RejectMissingHeaders, HeaderStep},
		{"no round", func(m map[string]any) { delete(m, HeaderRound) }, RejectMissingHeaders, HeaderRound},
		{"void attempt", func(m map[string]any) { m[HeaderAttempt] = nil }, RejectMissingHeaders, HeaderAttempt},
		{"unknown kind", func(m map[string]any) { m[HeaderKind] = "undo" }, RejectInvalidHeader, "unknown kind"},
		{"attempt as string", func(m map[string]any) { m[HeaderAttempt] = "1" }, RejectInvalidHeader, "header x-saga-attempt has type string"},
		{"attempt as float", func(m map[string]any) { m[HeaderAttempt] = float64(1) }, RejectInvalidHeader, "header x-saga-attempt has type float"},
		{"round as boolean", func(m map[string]any) { m[HeaderRound] = false }, RejectInvalidHeader, "header x-saga-round has type boolean"},
		{"attempt overflows", func(m map[string]any) { m[HeaderAttempt] = int64(1) << 40 }, RejectInvalidHeader, HeaderAttempt},
		{"unsigned attempt overflows", func(m map[string]any) { m[HeaderAttempt] = uint64(1) << 40 }, RejectInvalidHeader, HeaderAttempt},
		{"step as number", func(m map[string]any) { m[HeaderStep] = int32(7) }, RejectInvalidHeader, "header x-saga-step has type integer"},
		{"bad deadline", func(m map[string]any) { m[HeaderDeadline] = "tomorrow" }, RejectInvalidHeader, HeaderDeadline},
		{"wrong type beats missing", func(m map[string]any) { delete(m, HeaderSagaUID); m[HeaderRound] = "0" }, RejectInvalidHeader, HeaderSagaUID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := Headers{SagaNamespace: "ns", SagaName: "n", SagaUID: testUID, Step: "s", Kind: KindCommand, Attempt: 1}.Table()
			tt.mutate(table)
			_, err := ParseHeaders(table)
			if RejectReason(err) != tt.reason || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %s naming %q, got %v", tt.reason, tt.want, err)
			}
		})
	}
}

func TestCheckReplyType(t *testing.T) {
	for _, typ := range []string{"", ReplyType} {
		if err := CheckReplyType(typ); err != nil {
			t.Errorf("type %q refused: %v", typ, err)
		}
	}
	for _, typ := range []string{CommandType, "ordersaga.reply.v2", "reply"} {
		if err := CheckReplyType(typ); RejectReason(err) != RejectUnknownType {
			t.Errorf("type %q: want %s, got %v", typ, RejectUnknownType, err)
		}
	}
}

func TestMessageID(t *testing.T) {
	id := MessageID("uid", "step", KindCommand, 0, 1)
	if id != MessageID("uid", "step", KindCommand, 0, 1) {
		t.Fatal("message id is not deterministic")
	}
	seen := map[string]string{}
	for _, uid := range []string{"uid", "uid2"} {
		for _, step := range []string{"step", "step2"} {
			for _, kind := range []Kind{KindCommand, KindCompensation} {
				for round := range int32(2) {
					for attempt := int32(1); attempt <= 3; attempt++ {
						key := fmt.Sprint(uid, step, kind, round, attempt)
						id := MessageID(uid, step, kind, round, attempt)
						if prev, dup := seen[id]; dup {
							t.Fatalf("%s and %s share message id %s", prev, key, id)
						}
						seen[id] = key
					}
				}
			}
		}
	}
	if len(id) != 36 {
		t.Fatalf("message id %q is not a UUID", id)
	}
}

func TestRejectErrorUnwraps(t *testing.T) {
	_, err := DecodeReply("application/json", []byte("{"))
	var re *RejectError
	if !errors.As(err, &re) || re.Reason != RejectMalformed || re.Unwrap() == nil {
		t.Fatalf("want a *RejectError with a cause, got %#v", err)
	}
}
