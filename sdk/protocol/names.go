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
	"fmt"
	"regexp"
)

// The saga headers name Kubernetes objects. A value the apiserver would
// never give (a namespace "..", a name "a/b", a uid that is not a UUID) is
// refused here, before anything uses it as a key or a request path. The
// rules mirror k8s.io/apimachinery's exactly (this module does not import
// Kubernetes); the operator's tests check them against apimachinery.

const (
	// dns1123LabelFmt and dns1123SubdomainFmt are apimachinery's
	// (k8s.io/apimachinery/pkg/util/validation).
	dns1123LabelFmt     = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
	dns1123SubdomainFmt = dns1123LabelFmt + "(\\." + dns1123LabelFmt + ")*"

	// maxDNS1123LabelLength and maxDNS1123SubdomainLength are RFC 1123's.
	maxDNS1123LabelLength     = 63
	maxDNS1123SubdomainLength = 253
)

// StepNamePattern and MaxStepNameLength are the rules of a step's name in
// the OrderSaga API (spec.steps[].name): a lowercase DNS label, usable in
// routing keys and metric labels. The operator's tests check that the API's
// schema says the same.
const (
	StepNamePattern   = "^" + dns1123LabelFmt + "$"
	MaxStepNameLength = maxDNS1123LabelLength
)

var (
	dns1123Label     = regexp.MustCompile("^" + dns1123LabelFmt + "$")
	dns1123Subdomain = regexp.MustCompile("^" + dns1123SubdomainFmt + "$")
	stepName         = regexp.MustCompile(StepNamePattern)
)

// checkNamespace: a namespace's name is a DNS-1123 label
// (apimachinery's ValidateNamespaceName).
func checkNamespace(v string) error {
	if len(v) > maxDNS1123LabelLength || !dns1123Label.MatchString(v) {
		return fmt.Errorf("not a namespace: must be a lowercase RFC 1123 label of at most %d characters (%s)",
			maxDNS1123LabelLength, dns1123LabelFmt)
	}
	return nil
}

// checkName: the name of a custom resource is a DNS-1123 subdomain
// (apimachinery's NameIsDNSSubdomain, which the apiserver applies to it).
func checkName(v string) error {
	if len(v) > maxDNS1123SubdomainLength || !dns1123Subdomain.MatchString(v) {
		return fmt.Errorf("not an object name: must be a lowercase RFC 1123 subdomain of at most %d characters (%s)",
			maxDNS1123SubdomainLength, dns1123SubdomainFmt)
	}
	return nil
}

// checkUID: the apiserver gives every object a random UUID in its
// normalized form, lowercase 8-4-4-4-12 hexadecimal (apimachinery's
// validate.UUID, format k8s-uuid).
func checkUID(v string) error {
	bad := len(v) != 36
	for i := 0; !bad && i < len(v); i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			bad = c != '-'
		default:
			bad = (c < '0' || c > '9') && (c < 'a' || c > 'f')
		}
	}
	if bad {
		return fmt.Errorf("not an object uid: must be a lowercase UUID in 8-4-4-4-12 format")
	}
	return nil
}

// checkStepName: a step's name as the OrderSaga API accepts it.
func checkStepName(v string) error {
	if len(v) > MaxStepNameLength || !stepName.MatchString(v) {
		return fmt.Errorf("not a step name: must match %s, at most %d characters", StepNamePattern, MaxStepNameLength)
	}
	return nil
}

// maxQuotedLength bounds how much of a refused value an error repeats: the
// error becomes a dead-letter header, and a header of several kilobytes
// could make the dead-letter publish itself fail.
const maxQuotedLength = 64

// quote renders a refused value for an error message, cut to
// maxQuotedLength bytes.
func quote(v string) string {
	if len(v) <= maxQuotedLength {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q… (%d bytes)", v[:maxQuotedLength], len(v))
}
