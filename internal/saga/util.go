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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

func ptrMicro(t time.Time) *metav1.MicroTime { return &metav1.MicroTime{Time: t} }

// truncate cuts s to at most n bytes on a UTF-8 boundary, so that a
// recorded message always fits the status schema.
var truncate = protocol.Truncate
