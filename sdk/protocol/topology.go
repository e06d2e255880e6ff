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

// DefaultTopologyPrefix starts the name of every exchange and queue of an
// operator started without --topology-prefix.
const DefaultTopologyPrefix = "ordersaga"

// CommandExchange is the name of the durable topic exchange commands are
// published to, with the routing key "<service>.<command>", under prefix.
func CommandExchange(prefix string) string { return prefix + ".commands" }

// ReplyQueue is the name of the durable queue participants reply to (the
// commands' reply_to), under prefix.
func ReplyQueue(prefix string) string { return prefix + ".replies" }
