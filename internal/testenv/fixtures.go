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

package testenv

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// NewSaga returns a valid three-step saga (reserve inventory, charge payment,
// schedule shipment), the shape of config/samples, for tests to adjust.
func NewSaga(namespace, name string) *ordersv1alpha1.OrderSaga {
	return &ordersv1alpha1.OrderSaga{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: ordersv1alpha1.OrderSagaSpec{
			Order: ordersv1alpha1.Order{
				ID:       "ORD-" + name,
				Customer: ordersv1alpha1.Customer{ID: "CUST-42"},
				Items: []ordersv1alpha1.LineItem{
					{SKU: "SKU-RED-MUG", Quantity: 2, UnitPrice: "12.50"},
					{SKU: "SKU-TEAPOT", Quantity: 1, UnitPrice: "40.00"},
				},
				Total: ordersv1alpha1.Money{Amount: "65.00", Currency: "EUR"},
			},
			Steps: []ordersv1alpha1.SagaStep{
				{
					Name:         "reserve-inventory",
					Service:      "inventory",
					Command:      ordersv1alpha1.Command{Name: "ReserveInventory"},
					Compensation: &ordersv1alpha1.Command{Name: "ReleaseInventory"},
				},
				{
					Name:         "charge-payment",
					Service:      "payment",
					Command:      ordersv1alpha1.Command{Name: "ChargePayment"},
					Compensation: &ordersv1alpha1.Command{Name: "RefundPayment"},
				},
				{
					Name:    "schedule-shipment",
					Service: "shipping",
					Command: ordersv1alpha1.Command{Name: "ScheduleShipment"},
				},
			},
		},
	}
}
