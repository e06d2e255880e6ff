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

// Limits of a reply. They match the bounds of the OrderSaga status, which
// records the reply, so that a recorded reply always fits.
const (
	MaxReplyBytes        = 64 << 10
	MaxReasonLength      = 64
	MaxMessageLength     = 1024
	MaxResultEntries     = 16
	MaxResultKeyLength   = 63
	MaxResultValueLength = 256
)
