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

package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// getTable asks the apiserver for the object of resource as kubectl get
// does, as a Table.
func getTable(resource, namespace, name string) *metav1.Table {
	httpClient, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	url := fmt.Sprintf("%s/apis/orders.ordersaga.io/v1alpha1/namespaces/%s/%s/%s", strings.TrimSuffix(cfg.Host, "/"), namespace, resource, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), url+": "+string(body))
	table := &metav1.Table{}
	Expect(json.Unmarshal(body, table)).To(Succeed())
	return table
}

var _ = Describe("kubectl get ordersagas", func() {
	It("prints Order, Phase, Step, Suspended, Ready and Age, and with -o wide Template, Version and Drill", func() {
		saga := newSaga()
		saga.Spec.Suspend = true
		Expect(k8sClient.Create(ctx, saga)).To(Succeed())
		saga.Status.Phase = ordersv1alpha1.PhaseRunning
		saga.Status.CurrentStep = "charge-payment"
		saga.Status.Drill = true
		meta.SetStatusCondition(&saga.Status.Conditions, metav1.Condition{
			Type: ordersv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: ordersv1alpha1.ReasonRunning,
		})
		Expect(k8sClient.Status().Update(ctx, saga)).To(Succeed())

		table := getTable("ordersagas", saga.Namespace, saga.Name)
		var columns, wide []string
		for _, c := range table.ColumnDefinitions {
			if c.Priority == 0 {
				columns = append(columns, c.Name)
			} else {
				wide = append(wide, c.Name)
			}
		}
		Expect(columns).To(Equal([]string{"Name", "Order", "Phase", "Step", "Suspended", "Ready", "Age"}))
		Expect(wide).To(Equal([]string{"Template", "Version", "Drill"}))
		Expect(table.Rows).To(HaveLen(1))
		Expect(table.Rows[0].Cells[:5]).To(Equal([]any{saga.Name, saga.Spec.Order.ID, "Running", "charge-payment", true}))
		drill := slices.IndexFunc(table.ColumnDefinitions, func(c metav1.TableColumnDefinition) bool { return c.Name == "Drill" })
		Expect(table.Rows[0].Cells[drill]).To(BeTrue())
	})
})
