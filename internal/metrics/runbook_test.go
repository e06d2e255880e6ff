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

package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// runbookURL is where the alerts' runbook links point: the on-call runbook
// as the repository shows it.
const runbookURL = "https://github.com/ordersaga/ordersaga-operator/blob/main/docs/operations.md#"

// Every alert must link to a section of docs/operations.md that exists and
// names the alert, so that a renamed heading cannot leave an alert pointing
// nowhere.
func TestAlertsLinkTheRunbook(t *testing.T) {
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `json:"alert"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rule); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := runbookSections(string(doc))
	alerts := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts++
			url := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(url, runbookURL)
			if !ok {
				t.Errorf("alert %s: runbook_url %q does not point into %s", r.Alert, url, runbookURL)
				continue
			}
			body, ok := sections[anchor]
			if !ok {
				t.Errorf("alert %s: docs/operations.md has no section #%s", r.Alert, anchor)
				continue
			}
			if !strings.Contains(body, "`"+r.Alert+"`") {
				t.Errorf("alert %s: section #%s does not name it", r.Alert, anchor)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("alerts.yaml holds no alert")
	}
}

// runbookSections maps the GitHub anchor of each "## " heading to the text
// of its section.
func runbookSections(doc string) map[string]string {
	sections := map[string]string{}
	anchor := ""
	for line := range strings.SplitSeq(doc, "\n") {
		if heading, ok := strings.CutPrefix(line, "## "); ok {
			anchor = githubAnchor(heading)
			sections[anchor] = ""
			continue
		}
		if anchor != "" {
			sections[anchor] += line + "\n"
		}
	}
	return sections
}

var notInAnchor = regexp.MustCompile(`[^a-z0-9 _-]`)

// githubAnchor is the anchor GitHub gives a heading: lower case,
// punctuation dropped, spaces as hyphens.
func githubAnchor(heading string) string {
	return strings.ReplaceAll(notInAnchor.ReplaceAllString(strings.ToLower(heading), ""), " ", "-")
}
