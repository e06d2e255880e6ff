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
	"testing"
	"unicode/utf8"
)

// FuzzDecodeReply: whatever bytes arrive, DecodeReply never panics, and
// either refuses them with a known reason or returns a reply that the status
// can record.
func FuzzDecodeReply(f *testing.F) {
	f.Add("application/json", []byte(`{"status":"succeeded","result":{"paymentId":"p-1"}}`))
	f.Add("application/json; charset=utf-8", []byte(`{"status":"failed","reason":"CardDeclined","message":"no"}`))
	f.Add("application/json", []byte(`{"status":"retryable"}`))
	f.Add("text/plain", []byte(`{"status":"succeeded"}`))
	f.Add("application/json", []byte(`{"status":"succeeded","result":{"":"x"}}`))
	f.Add("application/json", []byte(`{"status":"succeeded","result":{"n":1.50,"b":true,"z":null}}`))
	f.Add("application/json", []byte(`{"status":"succeeded","result":{"o":{"a":[]}}}`))
	f.Add("application/json", []byte("\xff\xfe"))
	f.Add("", []byte(nil))
	known := map[string]bool{RejectOversized: true, RejectWrongContentType: true, RejectMalformed: true, RejectInvalid: true}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r, err := DecodeReply(contentType, body)
		if err != nil {
			if !known[RejectReason(err)] {
				t.Fatalf("refused without a known reason: %v", err)
			}
			return
		}
		if verr := r.Validate(); verr != nil {
			t.Fatalf("accepted an invalid reply: %v", verr)
		}
		if _, err := json.Marshal(Command{Results: map[string]Result{"step": r.Result}}); err != nil {
			t.Fatalf("accepted a result that later commands cannot carry: %v", err)
		}
		if len(r.Message) > MaxMessageLength || (utf8.ValidString(body2string(body)) && !utf8.ValidString(r.Message)) {
			t.Fatalf("message not cut safely: %d bytes", len(r.Message))
		}
	})
}

func body2string(b []byte) string { return string(b) }

// FuzzDecodeStartRequest: whatever bytes arrive, DecodeStartRequest never
// panics, refuses with a known reason or accepts names the saga's name can be
// derived from, and that name is always a valid object name.
func FuzzDecodeStartRequest(f *testing.F) {
	f.Add([]byte(`{"template":"checkout","namespace":"shop","order":` + goodOrder + `}`))
	f.Add([]byte(`{"template":"checkout","namespace":"shop","order":{"id":"A:b.c_d"}}`))
	f.Add([]byte(`{"template":"checkout","namespace":"shop","order":{"id":"x"},"ttlSecondsAfterFinished":-1}`))
	f.Add([]byte(`{"template":"","namespace":"shop"}`))
	f.Add([]byte("\xff"))
	known := map[string]bool{RefuseOversized: true, RefuseMalformed: true, RefuseInvalid: true, RefuseInvalidOrder: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeStartRequest("", ContentType, body)
		if err != nil {
			if !known[RejectReason(err)] {
				t.Fatalf("refused without a known reason: %v", err)
			}
			return
		}
		name := StartedSagaName(r.Template, r.Order.ID)
		if err := checkName(name); err != nil || len(name) > MaxSagaNameLength {
			t.Fatalf("name %q of %q and %q: %v", name, r.Template, r.Order.ID, err)
		}
	})
}
