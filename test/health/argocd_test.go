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

package health

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	ordersv1alpha1 "github.com/ordersaga/ordersaga-operator/api/v1alpha1"
)

const (
	scriptPath = "../../config/argocd/health.lua"
	patchPath  = "../../config/argocd/argocd-cm-patch.yaml"
)

// healthKey is the argocd-cm key of a health check: the group and kind.
var healthKey = "resource.customizations.health." + ordersv1alpha1.GroupVersion.Group + "_OrderSaga"

var update = flag.Bool("update", false, "write "+patchPath+" from "+scriptPath)

// patchHeader starts the generated argocd-cm patch; the script follows,
// indented as the value of healthKey.
var patchHeader = `# Generated from config/argocd/health.lua by "go test ./test/health -update":
# edit the script, not this file.
#
# The Argo CD health check of OrderSagas, as a patch of the argocd-cm
# ConfigMap (in Argo CD's namespace), for example:
#   kubectl -n argocd patch configmap argocd-cm --type merge \
#     --patch-file config/argocd/argocd-cm-patch.yaml
# or, in the kustomization of an Argo CD installation:
#   patches:
#     - path: argocd-cm-patch.yaml
# Or paste the data entry into argocd-cm by hand. See docs/api.md,
# "Health: kstatus and Argo CD".
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  ` + healthKey + `: |
`

// argoStatuses are the health codes Argo CD accepts from a script; it turns
// any other into Unknown.
var argoStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// argoHealth is what the health check returns.
type argoHealth struct {
	Status  string
	Message string
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// renderPatch is the argocd-cm patch that carries script.
func renderPatch(script string) []byte {
	var b strings.Builder
	b.WriteString(patchHeader)
	for line := range strings.SplitAfterSeq(script, "\n") {
		switch line {
		case "":
		case "\n":
			b.WriteString(line) // no trailing blanks on empty lines
		default:
			b.WriteString("    " + line)
		}
	}
	return []byte(b.String())
}

// TestArgoCDPatchCarriesTheScript keeps one source of truth: the patch is
// generated from health.lua, and Argo CD reads the script back from it
// unchanged.
func TestArgoCDPatchCarriesTheScript(t *testing.T) {
	script := readFile(t, scriptPath)
	want := renderPatch(script)
	if *update {
		if err := os.WriteFile(patchPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := []byte(readFile(t, patchPath))
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what %s makes: run go test ./test/health -update", patchPath, scriptPath)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(got, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" || len(cm.Data) != 1 {
		t.Fatalf("the patch is not argocd-cm with one entry: %+v", cm)
	}
	if cm.Data[healthKey] != script {
		t.Fatalf("argocd-cm's %s is not the script", healthKey)
	}
}

// runScript runs the health check on obj as Argo CD runs a custom check,
// failing the test if the check fails.
func runScript(t *testing.T, script string, obj map[string]any) argoHealth {
	t.Helper()
	h, err := evalScript(script, obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// evalScript runs script as Argo CD runs a custom health check: obj as the
// global "obj", the returned table read as status and message, a second at
// most. It opens only the base, table and package libraries (Argo CD adds
// a restricted os library, which the script does not need), so a script
// that calls the string library, which Argo CD does not open for custom
// checks, fails here too.
func evalScript(script string, obj map[string]any) (argoHealth, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	value, err := toLua(l, obj)
	if err != nil {
		return argoHealth{}, err
	}
	l.SetGlobal("obj", value)
	if err := l.DoString(script); err != nil {
		return argoHealth{}, fmt.Errorf("run the health check: %w", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return argoHealth{}, fmt.Errorf("the health check returned %s, want a table", l.Get(-1).Type())
	}
	status, okStatus := ret.RawGetString("status").(lua.LString)
	message, okMessage := ret.RawGetString("message").(lua.LString)
	if !okStatus || !okMessage || !slices.Contains(argoStatuses, string(status)) {
		return argoHealth{}, fmt.Errorf("the health check returned status %v, message %v: want one of %v and a message",
			ret.RawGetString("status"), ret.RawGetString("message"), argoStatuses)
	}
	return argoHealth{Status: string(status), Message: string(message)}, nil
}

// TestScriptsRunAsInArgoCD checks that evalScript refuses what Argo CD
// refuses.
func TestScriptsRunAsInArgoCD(t *testing.T) {
	obj := map[string]any{"status": map[string]any{"phase": "Completed", "observedGeneration": int64(1)}}
	for name, script := range map[string]string{
		"string library": `return { status = string.upper("healthy"), message = "" }`,
		"invalid status": `return { status = "Fine", message = "" }`,
		"no table":       `return "Healthy"`,
		"no message":     `return { status = "Healthy" }`,
		"endless":        `while true do end`,
	} {
		if h, err := evalScript(script, obj); err == nil {
			t.Errorf("%s: the script ran, returning %+v", name, h)
		}
	}
	h, err := evalScript(`return { status = obj.status.phase == "Completed" and "Healthy" or "Unknown", message = "generation " .. obj.status.observedGeneration }`, obj)
	if err != nil || h != (argoHealth{Status: "Healthy", Message: "generation 1"}) {
		t.Errorf("got %+v, %v; want Healthy, generation 1", h, err)
	}
}

// toLua converts an unstructured value as Argo CD does: maps to tables,
// slices to arrays, numbers to Lua numbers.
func toLua(l *lua.LState, v any) (lua.LValue, error) {
	switch v := v.(type) {
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for k, e := range v {
			lv, err := toLua(l, e)
			if err != nil {
				return nil, err
			}
			tbl.RawSetString(k, lv)
		}
		return tbl, nil
	case []any:
		tbl := l.CreateTable(len(v), 0)
		for _, e := range v {
			lv, err := toLua(l, e)
			if err != nil {
				return nil, err
			}
			tbl.Append(lv)
		}
		return tbl, nil
	case string:
		return lua.LString(v), nil
	case bool:
		return lua.LBool(v), nil
	case int64:
		return lua.LNumber(v), nil
	case float64:
		return lua.LNumber(v), nil
	case nil:
		return lua.LNil, nil
	}
	return nil, fmt.Errorf("no Lua value for %T", v)
}
