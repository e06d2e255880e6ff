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
	"strings"
	"testing"
)

// testUID is a uid as the apiserver gives one.
const testUID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// The cases k8s.io/apimachinery v0.37.2 tests its own checks with
// (pkg/util/validation and pkg/api/validate/content: TestIsDNS1123Label,
// TestIsDNS1123Subdomain; pkg/api/validate: TestK8sUUID), copied here
// because this module does not import Kubernetes, followed by values a
// forged reply would carry. The operator's tests run a larger corpus through
// ParseHeaders and apimachinery side by side.
var (
	dns1123LabelsGood = []string{
		"a", "ab", "abc", "a1", "a-1", "a--1--2--b",
		"0", "01", "012", "1a", "1-a", "1--a--b--2",
		strings.Repeat("a", 63),
	}
	dns1123LabelsBad = []string{
		"A", "ABC", "aBc", "A1", "A-1", "1-A",
		"-", "a-", "-a", "1-", "-1",
		"_", "a_", "_a", "a_b", "1_", "_1", "1_2",
		".", "a.", ".a", "a.b", "1.", ".1", "1.2",
		" ", "a ", " a", "a b", "1 ", " 1", "1 2",
		strings.Repeat("a", 64),
		// Forged.
		"..", "a/b", "x%2f", "../kube-system", "a\n", "\na", "a\x00", "é", "ａ",
	}
	dns1123SubdomainsGood = []string{
		"a", "ab", "abc", "a1", "a-1", "a--1--2--b",
		"0", "01", "012", "1a", "1-a", "1--a--b--2",
		"a.a", "ab.a", "abc.a", "a1.a", "a-1.a", "a--1--2--b.a",
		"a.1", "ab.1", "abc.1", "a1.1", "a-1.1", "a--1--2--b.1",
		"0.a", "01.a", "012.a", "1a.a", "1-a.a", "1--a--b--2",
		"0.1", "01.1", "012.1", "1a.1", "1-a.1", "1--a--b--2.1",
		"a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5", "11.22.33.44.55",
		strings.Repeat("a", 253),
	}
	dns1123SubdomainsBad = []string{
		"A", "ABC", "aBc", "A1", "A-1", "1-A",
		"-", "a-", "-a", "1-", "-1",
		"_", "a_", "_a", "a_b", "1_", "_1", "1_2",
		".", "a.", ".a", "a..b", "1.", ".1", "1..2",
		" ", "a ", " a", "a b", "1 ", " 1", "1 2",
		"A.a", "aB.a", "ab.A", "A1.a", "a1.A",
		"A.1", "aB.1", "A1.1", "1A.1",
		"0.A", "01.A", "012.A", "1A.a", "1a.A",
		"A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee",
		"a@b", "a,b", "a_b", "a;b",
		"a:b", "a%b", "a?b", "a$b",
		strings.Repeat("a", 254),
		// Forged.
		"..", "a/b", "x%2f", "order-1/status", "a\n", "order-1\x00", "ordér",
	}
	uidsGood = []string{
		"123e4567-e89b-12d3-a456-426614174000",
		testUID,
	}
	uidsBad = []string{
		"123E4567-E89B-12D3-A456-426614174000",
		"urn:uuid:123e4567-e89b-12d3-a456-426614174000",
		"123e4567e89b12d3a456426614174000",
		"123e4567-e89b-12d3-a456-42661417400",
		"123e4567-e89b-12d3-a456-42661417400g",
		"123e4567-e89b-12d3-a4564-26614174000",
		"not-a-uuid",
		// Forged.
		"uid-1", "{123e4567-e89b-12d3-a456-426614174000}", "123e4567-e89b-12d3-a456-426614174000\n",
		"123e4567-e89b-12d3-a456-4266141740000", "..", "a/b",
	}
)

func TestParseHeadersAcceptsOnlyWhatTheApiserverGives(t *testing.T) {
	tests := []struct {
		header    string
		good, bad []string
		says      string
	}{
		{HeaderSagaNamespace, dns1123LabelsGood, dns1123LabelsBad, "not a namespace"},
		{HeaderSagaName, dns1123SubdomainsGood, dns1123SubdomainsBad, "not an object name"},
		{HeaderSagaUID, uidsGood, uidsBad, "not an object uid"},
		// Step names follow the API's pattern, a DNS-1123 label.
		{HeaderStep, dns1123LabelsGood, dns1123LabelsBad, "not a step name"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			for _, v := range tt.good {
				table := validHeaders().Table()
				table[tt.header] = v
				if _, err := ParseHeaders(table); err != nil {
					t.Errorf("%q refused: %v", v, err)
				}
			}
			for _, v := range tt.bad {
				table := validHeaders().Table()
				table[tt.header] = v
				_, err := ParseHeaders(table)
				if RejectReason(err) != RejectInvalidHeader || !strings.Contains(err.Error(), tt.header) ||
					!strings.Contains(err.Error(), tt.says) {
					t.Errorf("%q: want %s naming %s (%q), got %v", v, RejectInvalidHeader, tt.header, tt.says, err)
				}
			}
		})
	}
}

// A forged value can be as long as an AMQP frame allows; the error, which
// becomes the dead-letter detail header, repeats only the start of it.
func TestParseHeadersQuotesRefusedValuesShortly(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	for _, header := range []string{HeaderSagaNamespace, HeaderSagaName, HeaderSagaUID, HeaderStep, HeaderKind, HeaderDeadline, HeaderAttempt} {
		table := validHeaders().Table()
		table[header] = long
		_, err := ParseHeaders(table)
		if RejectReason(err) != RejectInvalidHeader {
			t.Fatalf("%s: %v", header, err)
		}
		if n := len(err.Error()); n > 1024 {
			t.Errorf("%s: the error repeats %d bytes", header, n)
		}
	}
}

func validHeaders() Headers {
	return Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: testUID, Step: "charge-payment",
		Kind: KindCommand, Attempt: 1}
}
