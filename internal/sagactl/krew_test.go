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
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/ordersaga/ordersaga-operator/internal/testenv/controlplane"
)

// krewPlugin is a krew plugin manifest, the fields this one uses: the test
// decodes strictly, so that a misspelt field is caught.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		Caveats          string `json:"caveats"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestKrewManifest fills hack/krew/saga.yaml as the release does and checks
// that each platform gets its own archive, checksum and binary.
func TestKrewManifest(t *testing.T) {
	g := NewWithT(t)
	raw, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "hack", "krew", "saga.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	filled := os.Expand(string(raw), func(name string) string {
		if name == "VERSION" {
			return "v0.1.0"
		}
		return strings.ToLower(name) // SHA256_LINUX_AMD64 → sha256_linux_amd64
	})
	var p krewPlugin
	g.Expect(yaml.UnmarshalStrict([]byte(filled), &p)).To(Succeed())
	g.Expect(p.APIVersion).To(Equal("krew.googlecontainertools.github.com/v1alpha2"))
	g.Expect(p.Kind).To(Equal("Plugin"))
	// kubectl finds the plugin as kubectl-<name>: the binary's name.
	g.Expect(p.Metadata.Name).To(Equal("saga"))
	g.Expect(p.Spec.Version).To(Equal("v0.1.0"))
	g.Expect(p.Spec.ShortDescription).NotTo(BeEmpty())
	g.Expect(p.Spec.Homepage).To(HavePrefix("https://"))
	for _, cmd := range NewCommand(genericiooptions.NewTestIOStreamsDiscard()).Commands() {
		if cmd.Name() != "completion" && cmd.Name() != "help" {
			g.Expect(p.Spec.Description).To(ContainSubstring(cmd.Name()+" "), "the description names every command")
		}
	}
	g.Expect(p.Spec.Platforms).NotTo(BeEmpty())
	for _, pl := range p.Spec.Platforms {
		osName, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		g.Expect(pl.URI).To(Equal("https://github.com/ordersaga/ordersaga-operator/releases/download/v0.1.0/kubectl-saga_v0.1.0_" +
			osName + "_" + arch + ".tar.gz"))
		g.Expect(pl.SHA256).To(Equal("sha256_" + osName + "_" + arch))
		bin := "kubectl-saga"
		if osName == "windows" {
			bin += ".exe"
		}
		g.Expect(pl.Bin).To(Equal(bin))
	}
}
