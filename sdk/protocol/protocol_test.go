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
	"errors"
	"fmt"
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
			want: Reply{Status: StatusSucceeded, Result: map[string]string{"paymentId": "pay-1"}}},
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
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	want := Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: "uid-1", Step: "charge-payment",
		Kind: KindCompensation, Round: 1, Attempt: 3, Deadline: time.Date(2026, 11, 27, 10, 0, 0, 500, time.UTC)}
	got, err := ParseHeaders(want.Table())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	// AMQP decodes integers into whatever width the sender chose.
	table := want.Table()
	table[HeaderAttempt] = int64(3)
	table[HeaderRound] = uint8(1)
	if got, err := ParseHeaders(table); err != nil || got.Attempt != 3 || got.Round != 1 {
		t.Fatalf("integer widths: got %+v, %v", got, err)
	}
}

func TestParseHeadersErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"no uid", func(m map[string]any) { delete(m, HeaderSagaUID) }, HeaderSagaUID},
		{"empty step", func(m map[string]any) { m[HeaderStep] = "" }, HeaderStep},
		{"unknown kind", func(m map[string]any) { m[HeaderKind] = "undo" }, "unknown kind"},
		{"attempt as string", func(m map[string]any) { m[HeaderAttempt] = "1" }, HeaderAttempt},
		{"attempt overflows", func(m map[string]any) { m[HeaderAttempt] = int64(1) << 40 }, HeaderAttempt},
		{"bad deadline", func(m map[string]any) { m[HeaderDeadline] = "tomorrow" }, HeaderDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := Headers{SagaNamespace: "ns", SagaName: "n", SagaUID: "u", Step: "s", Kind: KindCommand, Attempt: 1}.Table()
			tt.mutate(table)
			_, err := ParseHeaders(table)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error naming %q, got %v", tt.want, err)
			}
		})
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
