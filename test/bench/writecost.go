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

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// WriteCostResult is what one apiserver write of each kind costs, one
// writer at a time and no operator running: the floor under a saga's
// latency at light load, and the price of each of its writes under load.
type WriteCostResult struct {
	WritesPerKind int `json:"writesPerKind"`
	// ObjectBytes is the saga written, as JSON: a real final saga, run
	// through the operator first.
	ObjectBytes int         `json:"objectBytes"`
	Kinds       []WriteCost `json:"kinds"`
}

// WriteCost is one kind of write: the latency its client sees and the
// apiserver's CPU time per write.
type WriteCost struct {
	Kind         string      `json:"kind"`
	Latency      Percentiles `json:"latencySeconds"`
	APIServerCPU float64     `json:"apiserverCPUSecondsPerWrite"`
}

// The kinds of write compared, in the order printed.
const (
	writeSagaPatch   = "OrderSaga: status merge patch"
	writeSagaPut     = "OrderSaga: status update (PUT, the whole object)"
	writeSagaMeta    = "OrderSaga: metadata merge patch (the retirement's kind)"
	writeSchemaless  = "the same saga in a CRD without a schema: status merge patch"
	writeConfigMap   = "ConfigMap holding the same status: merge patch"
	writeCostRounds  = 2
	schemalessGroup  = "writecost.bench.ordersaga.io"
	schemalessPlural = "ordersagas"
	// statusKey is the status's key in the JSON written.
	statusKey = "status"
)

// writeCost runs one saga through the operator for a realistic final
// object, stops the operator, and then writes each kind of object in
// turn, alternating between two statuses so that every write changes it.
func (b *bench) writeCost(writes int) (*WriteCostResult, error) {
	ns, err := b.namespace("writecost")
	if err != nil {
		return nil, fmt.Errorf("create the namespace: %w", err)
	}
	var final *ordersv1alpha1.OrderSaga
	if err := b.withOperator(thisTree(b.manager), 1, func() error {
		final, err = b.runOne(ns, "writecost-model")
		return err
	}); err != nil {
		return nil, fmt.Errorf("run the model saga: %w", err)
	}
	if err := b.installSchemaless(); err != nil {
		return nil, fmt.Errorf("install the schemaless CRD: %w", err)
	}
	defer b.removeSchemaless()

	raw, err := json.Marshal(final)
	if err != nil {
		return nil, fmt.Errorf("encode the model saga: %w", err)
	}
	statuses := [2]ordersv1alpha1.OrderSagaStatus{final.Status, earlier(final.Status)}
	kinds, err := b.writeTargets(ns, final, statuses)
	defer b.removeWriteTargets(ns)
	if err != nil {
		return nil, fmt.Errorf("create the objects written: %w", err)
	}
	perRound := writes / writeCostRounds
	res := &WriteCostResult{WritesPerKind: perRound * writeCostRounds, ObjectBytes: len(raw)}
	latencies := make([][]float64, len(kinds))
	cpu := make([]float64, len(kinds))
	for round := range writeCostRounds {
		for k, kind := range kinds {
			before := apiserverCPU()
			for i := range perRound {
				start := time.Now()
				// Numbered across rounds: each write alternates from the last.
				if err := kind.write(round*perRound + i); err != nil {
					return nil, fmt.Errorf("%s: %w", kind.name, err)
				}
				latencies[k] = append(latencies[k], time.Since(start).Seconds())
			}
			cpu[k] += apiserverCPU() - before
		}
	}
	for k, kind := range kinds {
		res.Kinds = append(res.Kinds, WriteCost{Kind: kind.name, Latency: percentiles(latencies[k]),
			APIServerCPU: cpu[k] / float64(len(latencies[k]))})
	}
	return res, nil
}

// runOne runs one small saga to its end and returns it as it finished.
func (b *bench) runOne(ns, name string) (*ordersv1alpha1.OrderSaga, error) {
	ctx, stop := context.WithCancel(b.ctx)
	defer stop()
	events, err := b.watchSagas(ctx, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	if err := b.k8s.Create(b.ctx, smallSaga(ns, name, "CUST-OK")); err != nil {
		return nil, err
	}
	final, _, err := waitFinal(events, name)
	if err != nil {
		return nil, err
	}
	// The retirement patch follows the final status write; take the saga
	// as it is then, labels and all.
	if err := waitFor(b.ctx, time.Minute, func() bool {
		return b.k8s.Get(b.ctx, client.ObjectKeyFromObject(final), final) == nil &&
			final.Labels[ordersv1alpha1.FinishedLabel] == "true"
	}); err != nil {
		return nil, fmt.Errorf("saga %s not retired: %w", name, err)
	}
	return final, nil
}

// earlier is st one transition before its end: what the write before the
// final one held.
func earlier(st ordersv1alpha1.OrderSagaStatus) ordersv1alpha1.OrderSagaStatus {
	st = *st.DeepCopy()
	if n := len(st.History); n > 1 {
		st.History = st.History[:n-1]
	}
	st.Phase, st.CompletionTime = ordersv1alpha1.PhaseRunning, nil
	return st
}

// writeTarget is one kind of write: write(i) makes the i-th.
type writeTarget struct {
	name  string
	write func(i int) error
}

// writeTargets creates one object of each kind, holding the final saga's
// spec and status, and the writes that alternate between the statuses.
func (b *bench) writeTargets(ns string, model *ordersv1alpha1.OrderSaga, statuses [2]ordersv1alpha1.OrderSagaStatus) ([]writeTarget, error) {
	newSaga := func(name string) (*ordersv1alpha1.OrderSaga, error) {
		s := &ordersv1alpha1.OrderSaga{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: model.Labels},
			Spec: *model.Spec.DeepCopy()}
		if err := b.k8s.Create(b.ctx, s); err != nil {
			return nil, err
		}
		base := s.DeepCopy()
		s.Status = statuses[0]
		return s, b.k8s.Status().Patch(b.ctx, s, client.MergeFrom(base))
	}
	forStatus, err := newSaga("writecost-status")
	if err != nil {
		return nil, err
	}
	forPut, err := newSaga("writecost-put")
	if err != nil {
		return nil, err
	}
	forMeta, err := newSaga("writecost-meta")
	if err != nil {
		return nil, err
	}
	schemaless, err := b.schemalessCopy(ns, model, statuses[0])
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "writecost"}}
	if err := b.k8s.Create(b.ctx, cm); err != nil {
		return nil, err
	}
	statusJSON := [2]string{}
	for i, st := range statuses {
		raw, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		statusJSON[i] = string(raw)
	}
	locked := func(obj client.Object) client.Patch {
		return client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	}
	return []writeTarget{
		{writeSagaPatch, func(i int) error {
			patch := locked(forStatus)
			forStatus.Status = statuses[(i+1)%2]
			return b.k8s.Status().Patch(b.ctx, forStatus, patch)
		}},
		{writeSagaPut, func(i int) error {
			forPut.Status = statuses[(i+1)%2]
			return b.k8s.Status().Update(b.ctx, forPut)
		}},
		{writeSagaMeta, func(i int) error {
			patch := locked(forMeta)
			metav1.SetMetaDataAnnotation(&forMeta.ObjectMeta, "bench.ordersaga.io/write", strconv.Itoa(i))
			return b.k8s.Patch(b.ctx, forMeta, patch)
		}},
		{writeSchemaless, func(i int) error {
			st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&statuses[(i+1)%2])
			if err != nil {
				return err
			}
			raw, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": schemaless.GetResourceVersion()}, statusKey: st})
			if err != nil {
				return err
			}
			return b.k8s.Status().Patch(b.ctx, schemaless, client.RawPatch(types.MergePatchType, raw))
		}},
		{writeConfigMap, func(i int) error {
			patch := locked(cm)
			cm.Data = map[string]string{statusKey: statusJSON[(i+1)%2]}
			return b.k8s.Patch(b.ctx, cm, patch)
		}},
	}, nil
}

// schemalessCopy creates the model saga, spec and status, in the
// schemaless CRD.
func (b *bench) schemalessCopy(ns string, model *ordersv1alpha1.OrderSaga, st ordersv1alpha1.OrderSagaStatus) (*unstructured.Unstructured, error) {
	spec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&model.Spec)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(schemalessGroup + "/v1alpha1")
	u.SetKind("OrderSaga")
	u.SetNamespace(ns)
	u.SetName("writecost-schemaless")
	u.SetLabels(model.Labels)
	if err := b.k8s.Create(b.ctx, u); err != nil {
		return nil, err
	}
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(map[string]any{statusKey: status})
	if err != nil {
		return nil, err
	}
	return u, b.k8s.Status().Patch(b.ctx, u, client.RawPatch(types.MergePatchType, raw))
}

// installSchemaless installs a copy of the OrderSaga CRD, in a group of
// its own, whose schema keeps every field and checks none: what the
// OrderSaga's schema costs each write is the difference.
func (b *bench) installSchemaless() error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := b.k8s.Get(b.ctx, client.ObjectKey{Name: "ordersagas.orders.ordersaga.io"}, &crd); err != nil {
		return err
	}
	crd.ObjectMeta = metav1.ObjectMeta{Name: schemalessPlural + "." + schemalessGroup}
	crd.Spec.Group = schemalessGroup
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		v.Schema = &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
			Type: "object", XPreserveUnknownFields: new(true)}}
		v.AdditionalPrinterColumns, v.SelectableFields = nil, nil
	}
	if err := b.k8s.Create(b.ctx, &crd); err != nil {
		return err
	}
	return waitFor(b.ctx, time.Minute, func() bool {
		if b.k8s.Get(b.ctx, client.ObjectKeyFromObject(&crd), &crd) != nil {
			return false
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

// removeWriteTargets deletes the sagas written, finalizers first: no
// operator will finalize them.
func (b *bench) removeWriteTargets(ns string) {
	for _, name := range []string{"writecost-status", "writecost-put", "writecost-meta"} {
		s := &ordersv1alpha1.OrderSaga{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		err := b.dropFinalizers(s)
		if err == nil {
			err = client.IgnoreNotFound(b.k8s.Delete(b.ctx, s))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "    could not remove saga %s/%s: %v\n", ns, name, err)
		}
	}
}

// removeSchemaless deletes the schemaless CRD and waits until it is gone,
// so that the apiserver is not still cleaning up when it is stopped.
func (b *bench) removeSchemaless() {
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: schemalessPlural + "." + schemalessGroup}}
	err := client.IgnoreNotFound(b.k8s.Delete(b.ctx, crd))
	if err == nil {
		err = waitFor(b.ctx, time.Minute, func() bool {
			return apierrors.IsNotFound(b.k8s.Get(b.ctx, client.ObjectKeyFromObject(crd), crd))
		})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "    could not remove the schemaless CRD: %v\n", err)
	}
}

// apiserverCPU is the CPU time so far of the bench's own kube-apiserver.
func apiserverCPU() float64 { return cpuByComponent(-1)[componentAPIServer] }

// printWriteCost prints a row per kind of write.
func printWriteCost(w *WriteCostResult, row func(name, value, target string)) {
	for _, k := range w.Kinds {
		row("write cost, one writer: "+k.Kind, fmt.Sprintf("p50 %.1f ms, p90 %.1f ms; apiserver CPU %.1f ms per write",
			k.Latency.P50*1000, k.Latency.P90*1000, k.APIServerCPU*1000), "")
	}
	row("write cost: the saga written, as JSON", fmt.Sprintf("%d bytes, %d writes of each kind", w.ObjectBytes, w.WritesPerKind), "")
}
