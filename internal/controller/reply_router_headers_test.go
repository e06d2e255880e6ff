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

package controller_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/operation"
	"k8s.io/apimachinery/pkg/api/validate"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// testUID is a uid as the apiserver gives one.
const testUID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// The SDK checks the saga headers without importing Kubernetes; here its
// verdict is compared with what the apiserver itself accepts, for the
// namespace, the name and the uid, and with the OrderSaga schema for the
// step.
func TestReplyHeaderChecksAgreeWithKubernetes(t *testing.T) {
	step := stepNameRule(t)
	corpus := headerCorpus()
	for _, v := range corpus {
		checkAgainstKubernetes(t, step, v)
	}
	t.Logf("%d values compared", len(corpus))
}

// FuzzReplyHeaderChecksAgreeWithKubernetes runs the same comparison on
// values the fuzzer makes up ("go test -fuzz" on this target); plain "go
// test" runs the seeds.
func FuzzReplyHeaderChecksAgreeWithKubernetes(f *testing.F) {
	for _, v := range headerCorpus()[:200] {
		f.Add(v)
	}
	step := stepNameRule(f)
	f.Fuzz(func(t *testing.T, v string) { checkAgainstKubernetes(t, step, v) })
}

func checkAgainstKubernetes(tb testing.TB, step *stepRule, v string) {
	tb.Helper()
	if v == "" {
		return // an empty header is MissingHeaders, and no valid value either
	}
	uidErrs := validate.UUID(context.Background(), operation.Operation{}, field.NewPath("uid"), &v, nil)
	kube := map[string]bool{
		protocol.HeaderSagaNamespace: len(apivalidation.ValidateNamespaceName(v, false)) == 0,
		protocol.HeaderSagaName:      len(apivalidation.NameIsDNSSubdomain(v, false)) == 0,
		protocol.HeaderSagaUID:       len(uidErrs) == 0,
		protocol.HeaderStep:          step.accepts(v),
	}
	for header, want := range kube {
		table := protocol.Headers{SagaNamespace: "shop", SagaName: "order-1", SagaUID: testUID, Step: "pay",
			Kind: protocol.KindCommand, Attempt: 1}.Table()
		table[header] = v
		_, err := protocol.ParseHeaders(table)
		if got := err == nil; got != want {
			tb.Errorf("%s %q: the SDK accepts it: %v, Kubernetes: %v (%v)", header, v, got, want, err)
		}
		if err != nil && protocol.RejectReason(err) != protocol.RejectInvalidHeader {
			tb.Errorf("%s %q refused as %s, want %s", header, v, protocol.RejectReason(err), protocol.RejectInvalidHeader)
		}
	}
}

// headerCorpus: apimachinery's own test values, forged values, values
// around every length limit, and random strings over the characters that
// matter.
func headerCorpus() []string {
	values := make([]string, 0, 4200)
	values = append(values,
		"a", "ab", "a1", "a-1", "a--1--2--b", "0", "01", "1-a", "a.b", "a..b", "a.b.c.d.e", "1.2.3.4.5",
		"A", "aBc", "-", "a-", "-a", "_", "a_b", ".", "a.", ".a", " ", "a b", "a@b", "a:b", "a%b", "a?b",
		"..", "a/b", "x%2f", "../kube-system", "order-1/status", "a\n", "\na", "a\x00", "é", "ordér", "ａ",
		"shop", "order-1", "charge-payment", "kube-system", "default",
		"123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
		"urn:uuid:123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000",
		"123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-42661417400g",
		"123e4567-e89b-12d3-a4564-26614174000", "not-a-uuid", "uid-1", testUID, string(uuid.NewUUID()),
		"{123e4567-e89b-12d3-a456-426614174000}", "123e4567-e89b-12d3-a456-426614174000\n",
	)
	for _, n := range []int{62, 63, 64, 252, 253, 254} {
		values = append(values, strings.Repeat("a", n), strings.Repeat("a", n-1)+"-", "a."+strings.Repeat("b", n-2))
	}
	// Labels of 63 joined by dots: long subdomains made of valid labels.
	label := strings.Repeat("c", 63)
	values = append(values, label+"."+label+"."+label+"."+strings.Repeat("d", 61), label+"."+label+"."+label+"."+strings.Repeat("d", 62))
	rng := rand.New(rand.NewPCG(11, 2026))
	const alphabet = "abcz09-.-.AZ_/%:é\x00 "
	for range 3000 {
		b := make([]byte, 1+rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		values = append(values, string(b))
	}
	const hex = "0123456789abcdefABCDEF-g"
	for range 1000 {
		b := []byte(string(uuid.NewUUID()))
		b[rng.IntN(len(b))] = hex[rng.IntN(len(hex))]
		values = append(values, string(b))
	}
	return values
}

// stepRule is the schema of spec.steps[].name in the generated CRD: what
// the apiserver checks a step's name against.
type stepRule struct {
	pattern   *regexp.Regexp
	minLength int
	maxLength int
}

func (r *stepRule) accepts(v string) bool {
	n := len([]rune(v)) // OpenAPI lengths count characters
	return r.pattern.MatchString(v) && n >= r.minLength && n <= r.maxLength
}

func stepNameRule(tb testing.TB) *stepRule {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "orders.ordersaga.io_ordersagas.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Steps struct {
										Items struct {
											Properties struct {
												Name struct {
													Pattern   string `json:"pattern"`
													MinLength int    `json:"minLength"`
													MaxLength int    `json:"maxLength"`
												} `json:"name"`
											} `json:"properties"`
										} `json:"items"`
									} `json:"steps"`
								} `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	js, err := utilyaml.ToJSON(raw)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(js, &crd); err != nil || len(crd.Spec.Versions) != 1 {
		tb.Fatalf("read the CRD: %v (%d versions)", err, len(crd.Spec.Versions))
	}
	name := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Steps.Items.Properties.Name
	if name.Pattern != protocol.StepNamePattern || name.MaxLength != protocol.MaxStepNameLength {
		tb.Fatalf("the API's step names are %s of at most %d characters; the SDK checks %s of at most %d",
			name.Pattern, name.MaxLength, protocol.StepNamePattern, protocol.MaxStepNameLength)
	}
	return &stepRule{pattern: regexp.MustCompile(name.Pattern), minLength: name.MinLength, maxLength: name.MaxLength}
}
