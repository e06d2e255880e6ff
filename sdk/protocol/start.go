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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strings"
)

// Requests an order service sends on the bus (docs/events.md): a start
// message on the start queue, a query on the query queue. Each is answered
// on its reply_to with the request's correlation_id (else its message_id).

// AMQP type properties of the bus requests and their replies. A request may
// leave its type out.
const (
	StartType      = "ordersaga.start.v1"
	StartReplyType = "ordersaga.start-reply.v1"
	QueryType      = "ordersaga.query.v1"
	QueryReplyType = "ordersaga.query-reply.v1"
)

// MaxRequestBytes bounds the body of a start message or a query: an order of
// MaxLineItems lines fits many times over.
const MaxRequestBytes = 64 << 10

// Reasons a start message or a query is refused: the reason of the failure
// reply and the dead-letter reason header. The set is fixed.
const (
	// RefuseOversized: the body exceeds MaxRequestBytes.
	RefuseOversized = "OversizedRequest"
	// RefuseWrongContentType: the content type is neither absent nor
	// application/json.
	RefuseWrongContentType = "WrongContentType"
	// RefuseUnknownType: the type property is another message's.
	RefuseUnknownType = "UnknownRequestType"
	// RefuseMalformed: the body is not one JSON object.
	RefuseMalformed = "MalformedRequest"
	// RefuseInvalid: a field is missing or not a valid name (template,
	// namespace, saga name).
	RefuseInvalid = "InvalidRequest"
	// RefuseInvalidOrder: the order has no valid id, or the apiserver refused
	// the saga (the OrderSaga API's validation of the order).
	RefuseInvalidOrder = "InvalidOrder"
	// RefuseNamespaceNotAccepted: the operator does not start sagas in the
	// namespace from the bus (--start-namespaces), or, answering a query, its
	// shard does not own the namespace (--namespaces).
	RefuseNamespaceNotAccepted = "NamespaceNotAccepted"
	// RefuseUnknownTemplate: no SagaTemplate of that name in the namespace.
	RefuseUnknownTemplate = "UnknownTemplate"
	// RefuseSagaNameTaken: the saga name derived from the template and the
	// order id belongs to a saga of another order or template.
	RefuseSagaNameTaken = "SagaNameTaken"
	// RefuseNotPermitted: the apiserver refused the operator the saga's
	// creation (RBAC or an admission policy).
	RefuseNotPermitted = "NotPermitted"
	// RefuseNoReplyTo: a query without reply_to, which cannot be answered.
	RefuseNoReplyTo = "NoReplyTo"
	// RefuseSagaNotFound: the query names no saga.
	RefuseSagaNotFound = "SagaNotFound"
	// RefuseAmbiguousOrder: several sagas carry the queried order id.
	RefuseAmbiguousOrder = "AmbiguousOrder"
	// FailUnavailable: the operator could not read the saga (the apiserver
	// is unavailable); asking again later may succeed. Not dead-lettered.
	FailUnavailable = "Unavailable"
)

// StartRequest is the body of a start message: start a saga from Template
// in Namespace for Order.
type StartRequest struct {
	Template  string `json:"template"`
	Namespace string `json:"namespace"`
	Order     Order  `json:"order"`
	// TTLSecondsAfterFinished, when set, is the saga's
	// spec.ttlSecondsAfterFinished.
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// Failure is what a failure reply carries.
type Failure struct {
	// Reason is one of the Refuse* constants.
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// StartReply is the body of the reply to a start message: the saga, or
// Error.
type StartReply struct {
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name,omitempty"`
	UID       string   `json:"uid,omitempty"`
	Error     *Failure `json:"error,omitempty"`
}

// QueryRequest is the body of a query: a saga by Namespace and Name, or by
// OrderID (within Namespace if set, else in every namespace).
type QueryRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	OrderID   string `json:"orderId,omitempty"`
}

// QueryReply is the body of the reply to a query: the saga, or Error.
type QueryReply struct {
	Saga  *SagaSummary `json:"saga,omitempty"`
	Error *Failure     `json:"error,omitempty"`
}

// SagaSummary is a saga as a query returns it.
type SagaSummary struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	OrderID   string `json:"orderId"`
	// Phase is the saga's status.phase (docs/api.md); empty before its
	// first pass.
	Phase       string `json:"phase"`
	CurrentStep string `json:"currentStep,omitempty"`
	// Template and TemplateGeneration are the SagaTemplate the saga names
	// and the version it pinned (0 until it has).
	Template           string             `json:"template,omitempty"`
	TemplateGeneration int64              `json:"templateGeneration,omitempty"`
	Conditions         []ConditionSummary `json:"conditions,omitempty"`
	Steps              []StepSummary      `json:"steps,omitempty"`
}

// ConditionSummary is one of the saga's status conditions.
type ConditionSummary struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// StepSummary is one step of the saga as its status records it.
type StepSummary struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Result is the step's result, each value with its JSON type.
	Result Result `json:"result,omitempty"`
}

// OrderIDPattern and MaxOrderIDLength are the OrderSaga API's rules of
// spec.order.id; the operator's tests check that its schema says the same.
const (
	OrderIDPattern   = `^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	MaxOrderIDLength = 64
)

var orderIDRegexp = regexp.MustCompile(OrderIDPattern)

// CheckOrderID checks an order id as the OrderSaga API does.
func CheckOrderID(id string) error {
	if id == "" || len(id) > MaxOrderIDLength || !orderIDRegexp.MatchString(id) {
		return fmt.Errorf("order id %s must match %s, at most %d characters", quote(id), OrderIDPattern, MaxOrderIDLength)
	}
	return nil
}

// DecodeStartRequest parses and checks a start message. The template and the
// namespace must be names, the order must have a valid id; the rest of the
// order is checked by the apiserver when the saga is created. Unknown fields
// are ignored. The error is a *RejectError with a Refuse* reason.
func DecodeStartRequest(typ, contentType string, body []byte) (StartRequest, error) {
	var r StartRequest
	if err := decodeRequest(StartType, typ, contentType, body, &r); err != nil {
		return StartRequest{}, err
	}
	switch {
	case r.Template == "":
		return StartRequest{}, reject(RefuseInvalid, "template missing")
	case len(r.Template) > maxDNS1123LabelLength || !dns1123Label.MatchString(r.Template):
		return StartRequest{}, reject(RefuseInvalid, "template %s is not a SagaTemplate name (%s)", quote(r.Template), dns1123LabelFmt)
	case r.Namespace == "":
		return StartRequest{}, reject(RefuseInvalid, "namespace missing")
	}
	if err := checkNamespace(r.Namespace); err != nil {
		return StartRequest{}, reject(RefuseInvalid, "namespace %s: %v", quote(r.Namespace), err)
	}
	if t := r.TTLSecondsAfterFinished; t != nil && (*t < 0 || *t > MaxTTLSecondsAfterFinished) {
		return StartRequest{}, reject(RefuseInvalid, "ttlSecondsAfterFinished %d is not between 0 and %d", *t, MaxTTLSecondsAfterFinished)
	}
	if err := CheckOrderID(r.Order.ID); err != nil {
		return StartRequest{}, reject(RefuseInvalidOrder, "%v", err)
	}
	return r, nil
}

// DecodeQueryRequest parses and checks a query: exactly one of name and
// orderId, and a namespace with a name.
func DecodeQueryRequest(typ, contentType string, body []byte) (QueryRequest, error) {
	var q QueryRequest
	if err := decodeRequest(QueryType, typ, contentType, body, &q); err != nil {
		return QueryRequest{}, err
	}
	if (q.Name == "") == (q.OrderID == "") {
		return QueryRequest{}, reject(RefuseInvalid, "exactly one of name and orderId is required")
	}
	if q.Name != "" && q.Namespace == "" {
		return QueryRequest{}, reject(RefuseInvalid, "a query by name needs the namespace")
	}
	if q.Namespace != "" {
		if err := checkNamespace(q.Namespace); err != nil {
			return QueryRequest{}, reject(RefuseInvalid, "namespace %s: %v", quote(q.Namespace), err)
		}
	}
	if q.Name != "" {
		if err := checkName(q.Name); err != nil {
			return QueryRequest{}, reject(RefuseInvalid, "name %s: %v", quote(q.Name), err)
		}
	}
	if q.OrderID != "" {
		if err := CheckOrderID(q.OrderID); err != nil {
			return QueryRequest{}, reject(RefuseInvalid, "%v", err)
		}
	}
	return q, nil
}

// decodeRequest checks a request's properties and size and decodes its one
// JSON object into v.
func decodeRequest(wantType, typ, contentType string, body []byte, v any) error {
	if len(body) > MaxRequestBytes {
		return reject(RefuseOversized, "body of %d bytes exceeds %d", len(body), MaxRequestBytes)
	}
	if typ != "" && typ != wantType {
		return reject(RefuseUnknownType, "type %s is not %s (nor absent)", quote(typ), wantType)
	}
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != ContentType {
			return reject(RefuseWrongContentType, "content type %s is not %s (nor absent)", quote(contentType), ContentType)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return reject(RefuseMalformed, "decode JSON: %s", Truncate(err.Error(), 256))
	}
	if dec.More() {
		return reject(RefuseMalformed, "trailing data after the JSON object")
	}
	return nil
}

// IsRefusal reports whether err carries a Refuse* reason.
func IsRefusal(err error) bool {
	re, ok := errors.AsType[*RejectError](err)
	return ok && re.Reason != ""
}

// MaxTTLSecondsAfterFinished is the OrderSaga API's bound of
// spec.ttlSecondsAfterFinished (a year).
const MaxTTLSecondsAfterFinished = 31536000

// MaxSagaNameLength bounds the names StartedSagaName gives, so that they
// fit wherever a Kubernetes label value must hold them.
const MaxSagaNameLength = 63

// sagaNameHashLength is how many hex digits of SHA-256 end a name whose
// order id had to be changed: 40 bits, so that two orders colliding is
// negligible (and detected: the operator compares the order id).
const sagaNameHashLength = 10

// StartedSagaName is the name of the OrderSaga a start message creates:
// "<template>.<order id>" when the id is already a lowercase DNS label and
// the whole fits MaxSagaNameLength; otherwise the template and the id made
// lowercase, characters other than letters, digits and '-' turned into '-',
// cut to fit, followed by '-' and a hash of the template and the original
// id. The dot cannot occur in a template name, so distinct templates and
// ids give distinct names. The same template and id always give the same
// name: a redelivered start message finds its saga.
func StartedSagaName(template, orderID string) string {
	if dns1123Label.MatchString(orderID) && len(template)+1+len(orderID) <= MaxSagaNameLength {
		return template + "." + orderID
	}
	sum := sha256.Sum256([]byte(template + "\x00" + orderID))
	suffix := "-" + hex.EncodeToString(sum[:])[:sagaNameHashLength]
	prefix := template + "." + sanitizeLabel(orderID)
	prefix = prefix[:min(len(prefix), MaxSagaNameLength-len(suffix))]
	return strings.TrimRight(prefix, "-.") + suffix
}

// sanitizeLabel lowercases s and turns every run of characters a DNS label
// cannot hold into one '-', without a '-' at either end.
func sanitizeLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
