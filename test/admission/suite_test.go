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

// Package admission_test checks the admission policies of config/admission
// on a real kube-apiserver: who may remove the compensate finalizer, and
// when; and the operator under the identity "make deploy" gives it, with
// and without the policies.
package admission_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

var (
	ctx    context.Context
	cancel context.CancelFunc
	env    *envtest.Environment
	// cfg is the control plane's administrator (system:masters).
	cfg       *rest.Config
	scheme    *runtime.Scheme
	k8sClient client.Client
	// operatorCfg acts as the operator's service account as "make deploy"
	// installs it, with the RBAC config/default grants it.
	operatorCfg *rest.Config
)

// operatorFieldManager is the field manager of the operator's writes (the
// apiserver names it after the user agent), to tell them in managedFields.
const operatorFieldManager = "ordersaga-operator-under-test"

// refusal is the validating policy's message, as people see it.
const refusal = "only the ordersaga operator may remove the compensate finalizer of a saga that has not finished: " +
	"a command already sent would never be compensated"

func TestAdmission(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Admission Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	env, cfg, err = controlplane.Start()
	Expect(err).NotTo(HaveOccurred())
	scheme, err = controlplane.Scheme()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	operatorCfg, err = controlplane.OperatorServiceAccount(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	operatorCfg.UserAgent = operatorFieldManager
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "admission-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// editor returns a client of a user with the editor role on OrderSagas in
// namespace, and nothing else.
func editor(namespace string) client.Client {
	GinkgoHelper()
	editorCfg, err := controlplane.Editor(ctx, cfg, namespace, "editor")
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(editorCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// operatorClient returns a client acting as the operator's service account.
func operatorClient() client.Client {
	GinkgoHelper()
	c, err := client.New(operatorCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// create creates s as c, and has the administrator delete it after the
// test whatever its finalizers.
func create(c client.Client, s *ordersv1alpha1.OrderSaga) {
	GinkgoHelper()
	Expect(c.Create(ctx, s)).To(Succeed())
	DeferCleanup(func() {
		live := &ordersv1alpha1.OrderSaga{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(s), live); err != nil {
			Expect(client.IgnoreNotFound(err)).To(Succeed())
			return
		}
		base := live.DeepCopy()
		live.Finalizers = nil
		Expect(client.IgnoreNotFound(k8sClient.Patch(ctx, live, client.MergeFrom(base)))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, live))).To(Succeed())
	})
}

// setPhase writes the saga's status phase as the operator would, so that a
// test decides whether the saga has finished.
func setPhase(s *ordersv1alpha1.OrderSaga, phase ordersv1alpha1.SagaPhase) {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
	base := s.DeepCopy()
	s.Status.Phase = phase
	Expect(k8sClient.Status().Patch(ctx, s, client.MergeFrom(base))).To(Succeed())
}

// removeFinalizer has c remove the compensate finalizer from the saga as
// it is now, by a merge patch as kubectl patch or edit would.
func removeFinalizer(c client.Client, s *ordersv1alpha1.OrderSaga) error {
	GinkgoHelper()
	live := &ordersv1alpha1.OrderSaga{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), live)).To(Succeed())
	base := live.DeepCopy()
	controllerutil.RemoveFinalizer(live, ordersv1alpha1.Finalizer)
	return c.Patch(ctx, live, client.MergeFrom(base))
}

// finalizers returns the saga's finalizers as stored.
func finalizers(s *ordersv1alpha1.OrderSaga) []string {
	GinkgoHelper()
	live := &ordersv1alpha1.OrderSaga{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), live)).To(Succeed())
	return live.Finalizers
}
