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
	"math"
	"regexp"
	"strconv"
)

// ValueType is the JSON type of a result value.
type ValueType string

const (
	// TypeString is a JSON string.
	TypeString ValueType = "string"
	// TypeNumber is a JSON number, kept in the notation it came in.
	TypeNumber ValueType = "number"
	// TypeBoolean is true or false.
	TypeBoolean ValueType = "boolean"
)

// Result is the small output of a successful step, by key.
type Result map[string]Value

// Value is one value of a step result: a JSON string, number or boolean.
// It keeps its JSON type, and a number its notation, from the reply that
// returned it to the commands that carry it on to later steps. The zero
// Value stands for JSON null, which a reply may send for a key it leaves out.
type Value struct {
	typ  ValueType
	text string // the string; the number's JSON notation; "true" or "false"
}

// String returns a string value.
func String(s string) Value { return Value{typ: TypeString, text: s} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{typ: TypeBoolean, text: strconv.FormatBool(b)} }

// Int returns an integer value.
func Int(n int64) Value { return Value{typ: TypeNumber, text: strconv.FormatInt(n, 10)} }

// Float returns a number value; NaN and the infinities are no JSON number.
func Float(f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("%v is not a JSON number", f)
	}
	return Value{typ: TypeNumber, text: strconv.FormatFloat(f, 'g', -1, 64)}, nil
}

// jsonNumber is the JSON grammar of a number (RFC 8259, section 6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// ValueOf returns the value of a type and text, as Type and Text give them.
func ValueOf(typ ValueType, text string) (Value, error) {
	switch typ {
	case TypeString:
		return String(text), nil
	case TypeNumber:
		if !jsonNumber.MatchString(text) {
			return Value{}, fmt.Errorf("%q is not a JSON number", text)
		}
	case TypeBoolean:
		if text != "true" && text != "false" {
			return Value{}, fmt.Errorf("%q is not a JSON boolean", text)
		}
	default:
		return Value{}, fmt.Errorf("unknown value type %q", typ)
	}
	return Value{typ: typ, text: text}, nil
}

// Type returns the value's JSON type, or "" for null.
func (v Value) Type() ValueType { return v.typ }

// Text returns the value as text: the string itself, the number's JSON
// notation, "true" or "false"; "" for null.
func (v Value) Text() string { return v.text }

// String returns the value as text, as Text does.
func (v Value) String() string { return v.text }

// IsNull reports whether the value is JSON null.
func (v Value) IsNull() bool { return v.typ == "" }

// MarshalJSON writes the value with its JSON type.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.typ {
	case TypeString:
		return json.Marshal(v.text)
	case TypeNumber, TypeBoolean:
		return []byte(v.text), nil
	default:
		return []byte("null"), nil
	}
}

// ErrNotScalar is the error of decoding a JSON object or array as a Value.
var ErrNotScalar = errors.New("only a string, a number or a boolean can be a result value")

// UnmarshalJSON reads a JSON string, number, boolean or null.
func (v *Value) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return errors.New("empty result value")
	}
	switch data[0] {
	case '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*v = String(s)
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(data, &b); err != nil {
			return err
		}
		*v = Bool(b)
	case 'n':
		*v = Value{} // null: the key is left out
	case '{', '[':
		return ErrNotScalar
	default:
		if !jsonNumber.Match(data) {
			return fmt.Errorf("%q is not a JSON number", data)
		}
		*v = Value{typ: TypeNumber, text: string(data)}
	}
	return nil
}
