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

// Package badheaders forges the saga headers of a reply so that they name
// no object the apiserver could hold ("..", "a/b", "x%2f"...): the replies of
// issue #11, which the operator must dead-letter as InvalidHeader. The
// integration tests and the benchmark flood the operator with them.
package badheaders

import (
	"maps"
	"strings"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// forgeries are the saga headers a bad reply carries instead of the
// command's.
var forgeries = []struct {
	header string
	forge  func(value string) string
}{
	{protocol.HeaderSagaNamespace, func(string) string { return ".." }},
	{protocol.HeaderSagaName, func(string) string { return "a/b" }},
	{protocol.HeaderSagaName, func(string) string { return "x%2f" }},
	{protocol.HeaderSagaUID, func(string) string { return "not-a-uid" }},
	{protocol.HeaderSagaUID, strings.ToUpper},
	{protocol.HeaderSagaNamespace, func(value string) string { return "../" + value }},
	{protocol.HeaderSagaName, func(value string) string { return value + "/status" }},
	{protocol.HeaderSagaName, func(string) string { return ".." }},
	{protocol.HeaderSagaNamespace, func(string) string { return "Kube-System" }},
	{protocol.HeaderSagaName, func(string) string { return strings.Repeat("a", 254) }},
	{protocol.HeaderSagaNamespace, func(value string) string { return value + "\x00" }},
	{protocol.HeaderStep, func(value string) string { return "../" + value }},
	{protocol.HeaderSagaUID, func(value string) string { return value + "\n" }},
	{protocol.HeaderSagaName, func(value string) string { return value + "%2f.." }},
}

// Forge returns a copy of a reply's headers with one saga header replaced
// by the n-th forgery; n runs through them all, then again.
func Forge(headers map[string]any, n int) map[string]any {
	f := forgeries[n%len(forgeries)]
	out := make(map[string]any, len(headers)+1)
	maps.Copy(out, headers)
	value, _ := out[f.header].(string)
	out[f.header] = f.forge(value)
	return out
}
