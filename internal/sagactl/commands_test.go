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

package sagactl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

// otherNamespace holds a saga that only -A lists.
const otherNamespace = "warehouse"

// options returns the options of a command line run at now, writing to
// out and errOut, on the envtest kubeconfig.
func options(now time.Time, out, errOut *bytes.Buffer) *Options {
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
	o.Now = func() time.Time { return now }
	*o.ConfigFlags.KubeConfig = kubeconfig
	*o.ConfigFlags.CacheDir = cacheDir
	return o
}

// run runs kubectl saga args at now and returns what it wrote.
func run(now time.Time, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd := options(now, &out, &errOut).Command()
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// store creates the saga and writes its status through the status
// subresource, as the operator would.
func store(s *ordersv1alpha1.OrderSaga) {
	GinkgoHelper()
	status := s.Status
	s.CreationTimestamp = metav1.Time{}
	s.Status = ordersv1alpha1.OrderSagaStatus{}
	Expect(k8sClient.Create(ctx, s)).To(Succeed())
	if status.Phase != "" {
		s.Status = status
		Expect(k8sClient.Status().Update(ctx, s)).To(Succeed())
	}
}

// readGolden returns a golden file of the rendering tests.
func readGolden(name string) string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var _ = Describe("kubectl saga", Ordered, func() {
	BeforeAll(func() {
		for _, s := range fixtures() {
			store(s)
		}
		elsewhere := compensatedSaga()
		elsewhere.Namespace = otherNamespace
		store(elsewhere)
	})

	Describe("tree", func() {
		It("shows each saga as stored as the golden file has it", func() {
			for name, s := range fixtures() {
				By("tree " + s.Name)
				out, _, err := run(fixtureNow, "tree", s.Name)
				Expect(err).NotTo(HaveOccurred())
				Expect(out).To(Equal(readGolden(name+".tree")), "tree of %s", s.Name)
			}
		})

		It("reads the saga from the namespace -n names", func() {
			out, _, err := run(fixtureNow, "tree", "order-1002", "-n", otherNamespace)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(HavePrefix("OrderSaga   warehouse/order-1002\n"))
		})

		It("fails with the apiserver's NotFound for a saga that does not exist", func() {
			_, _, err := run(fixtureNow, "tree", "order-9999")
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
			Expect(err).To(MatchError(ContainSubstring(`"order-9999" not found`)))
		})

		It("completes saga names for the shell", func() {
			out, _, err := run(fixtureNow, "__complete", "tree", "order-100")
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.Split(out, "\n")).To(HaveExactElements(
				"order-1002", "order-1003", "order-1004", "order-1005", ":4", ""))
		})

		It("wants exactly one saga name", func() {
			_, _, err := run(fixtureNow, "tree")
			Expect(err).To(MatchError(ContainSubstring("accepts 1 arg(s), received 0")))
		})
	})

	Describe("history", func() {
		It("shows the history as the golden file has it, with the dropped entries said", func() {
			out, _, err := run(fixtureNow, "history", "order-1003")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal(readGolden("failed.history")))
			Expect(out).To(HavePrefix("7 older transitions left out"))
		})

		It("shows timestamps with --timestamps", func() {
			out, _, err := run(fixtureNow, "history", "order-1002", "--timestamps")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal(readGolden("compensated.history-timestamps")))
		})
	})

	Describe("list", func() {
		// The apiserver stamps the creation times: ages are measured on the
		// real clock.
		var now time.Time
		BeforeEach(func() { now = time.Now() })

		names := func(table string) []string {
			rows := strings.Split(strings.TrimSpace(table), "\n")[1:]
			out := make([]string, 0, len(rows))
			for _, line := range rows {
				out = append(out, strings.Join(strings.Fields(line)[:2], " "))
			}
			return out
		}

		It("lists the sagas of the kubeconfig's namespace as kubectl get does", func() {
			out, _, err := run(now, "list")
			Expect(err).NotTo(HaveOccurred())
			lines := strings.Split(strings.TrimSpace(out), "\n")
			Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "ORDER", "PHASE", "STEP", "TEMPLATE", "AGE"}))
			Expect(strings.Fields(lines[3])[:5]).To(Equal([]string{"order-1004", "ORD-1004", "Running", "charge-payment", "checkout"}))
			Expect(names(out)).To(Equal([]string{"order-1002 ORD-1002", "order-1003 ORD-1003", "order-1004 ORD-1004", "order-1005 ORD-1005"}))
		})

		It("lists every namespace with -A, namespace first", func() {
			out, _, err := run(now, "list", "-A", "--phase", "compensated")
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.Fields(strings.Split(out, "\n")[0])[0]).To(Equal("NAMESPACE"))
			Expect(names(out)).To(Equal([]string{"shop order-1002", "warehouse order-1002"}))
		})

		It("filters by phase, template and age", func() {
			out, _, err := run(now, "list", "--phase", "Failed,Running")
			Expect(err).NotTo(HaveOccurred())
			Expect(names(out)).To(Equal([]string{"order-1003 ORD-1003", "order-1004 ORD-1004"}))

			out, _, err = run(now, "list", "--template", "checkout")
			Expect(err).NotTo(HaveOccurred())
			Expect(names(out)).To(Equal([]string{"order-1002 ORD-1002", "order-1004 ORD-1004"}))

			out, _, err = run(now, "list", "--newer-than", "1h", "-n", otherNamespace)
			Expect(err).NotTo(HaveOccurred())
			Expect(names(out)).To(Equal([]string{"order-1002 ORD-1002"}))
		})

		It("says so on the error stream when nothing matches", func() {
			out, errOut, err := run(now, "list", "--older-than", "1h")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(BeEmpty())
			Expect(errOut).To(Equal("No sagas found in shop namespace.\n"))
		})

		It("refuses an unknown phase", func() {
			_, _, err := run(now, "list", "--phase", "Done")
			Expect(err).To(MatchError(ContainSubstring(`unknown phase "Done"`)))
		})
	})
})
