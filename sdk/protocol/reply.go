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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"regexp"
	"unicode/utf8"
)

// Reasons a reply is refused. They become the dead-letter reason header and a
// metric label, so the set is fixed.
const (
	RejectOversized        = "OversizedReply"
	RejectWrongContentType = "WrongContentType"
	RejectMalformed        = "MalformedReply"
	RejectInvalid          = "InvalidReply"
	RejectMissingHeaders   = "MissingHeaders"
	RejectInvalidHeader    = "InvalidHeader"
	RejectUnknownType      = "UnknownReplyType"
)

// CheckReplyType checks a reply's AMQP type property: ReplyType, or none at
// all (taken as ReplyType, so that a participant need not set it). Any other
// type is a version, or a kind of message, the operator does not read.
func CheckReplyType(typ string) error {
	if typ == "" || typ == ReplyType {
		return nil
	}
	return reject(RejectUnknownType, "type %q is not %s (nor absent)", typ, ReplyType)
}

// RejectError says why a reply was refused.
type RejectError struct {
	// Reason is one of the Reject* constants.
	Reason string
	Err    error
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *RejectError) Unwrap() error { return e.Err }

func reject(reason string, format string, args ...any) error {
	return &RejectError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// RejectReason returns the reason of a *RejectError in err's chain, or "".
func RejectReason(err error) string {
	if re, ok := errors.AsType[*RejectError](err); ok {
		return re.Reason
	}
	return ""
}

var reasonPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// DecodeReply parses and checks a reply body. Unknown JSON fields are
// ignored, so that participants may add their own. A message longer than
// MaxMessageLength is cut (it is prose); anything else out of bounds refuses
// the reply, because the operator could not record it faithfully.
func DecodeReply(contentType string, body []byte) (Reply, error) {
	var r Reply
	if len(body) > MaxReplyBytes {
		return r, reject(RejectOversized, "body of %d bytes exceeds %d", len(body), MaxReplyBytes)
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != ContentType {
		return r, reject(RejectWrongContentType, "content type %q is not %s", contentType, ContentType)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); errors.Is(err, ErrNotScalar) {
		return Reply{}, reject(RejectInvalid, "result: %v", err)
	} else if err != nil {
		return Reply{}, reject(RejectMalformed, "decode JSON: %v", err)
	}
	if dec.More() {
		return Reply{}, reject(RejectMalformed, "trailing data after the JSON object")
	}
	// A null value is a key left out, as JavaScript's undefined and
	// Python's None come out.
	maps.DeleteFunc(r.Result, func(_ string, v Value) bool { return v.IsNull() })
	if len(r.Result) == 0 {
		r.Result = nil
	}
	if err := r.Validate(); err != nil {
		return Reply{}, err
	}
	r.Message = Truncate(r.Message, MaxMessageLength)
	return r, nil
}

// Validate checks the reply's fields against the protocol's rules.
func (r Reply) Validate() error {
	if !r.Status.Valid() {
		return reject(RejectInvalid, "status %q is not succeeded, failed or retryable", r.Status)
	}
	if r.Reason != "" && (len(r.Reason) > MaxReasonLength || !reasonPattern.MatchString(r.Reason)) {
		return reject(RejectInvalid, "reason %q is not an UpperCamelCase code of at most %d characters", r.Reason, MaxReasonLength)
	}
	if len(r.Result) > MaxResultEntries {
		return reject(RejectInvalid, "result has %d entries, more than %d", len(r.Result), MaxResultEntries)
	}
	for k, v := range r.Result {
		if k == "" || len(k) > MaxResultKeyLength {
			return reject(RejectInvalid, "result key %q is empty or longer than %d bytes", k, MaxResultKeyLength)
		}
		if v.IsNull() {
			return reject(RejectInvalid, "result value of %q is null", k)
		}
		if len(v.Text()) > MaxResultValueLength {
			return reject(RejectInvalid, "result value of %q is longer than %d bytes", k, MaxResultValueLength)
		}
	}
	if r.Status != StatusSucceeded && len(r.Result) > 0 {
		return reject(RejectInvalid, "only a succeeded reply may carry a result")
	}
	return nil
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 character.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
