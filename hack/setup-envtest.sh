#!/usr/bin/env bash
# Provides the envtest control plane (kube-apiserver, etcd, kubectl) for one
# Kubernetes version and prints the directory to use as KUBEBUILDER_ASSETS.
#
# Order of preference:
#   1. a cached copy that reports the right version;
#   2. setup-envtest's download (fails on machines that reach only the Go
#      module proxy);
#   3. a build from source through the Go module proxy (about 10 minutes cold
#      on 2 cores; the Go build cache makes later builds fast).
#
# Progress goes to stderr; stdout carries only the assets path, so callers can
# write KUBEBUILDER_ASSETS="$(hack/setup-envtest.sh)".
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.7.0}"
SETUP_ENVTEST_VERSION="${SETUP_ENVTEST_VERSION:-release-0.25}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
DATA_DIR="${ENVTEST_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest}"
ASSETS_DIR="${DATA_DIR}/k8s/${K8S_VERSION}-${GOOS}-${GOARCH}"
BUILD_DIR="${ENVTEST_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ordersaga/envtest-build-${K8S_VERSION}}"

log() { echo "setup-envtest: $*" >&2; }

assets_ok() {
  local dir="$1"
  [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" && -x "$dir/kubectl" ]] || return 1
  # The output is captured first: "cmd | grep -q" can end with SIGPIPE under
  # pipefail when grep exits early, and fail a good binary.
  local out
  out="$("$dir/kube-apiserver" --version 2>/dev/null)" || return 1
  grep -q "v${K8S_VERSION}\$" <<<"$out" || return 1
  out="$("$dir/etcd" --version 2>/dev/null)" || return 1
  grep -q "etcd Version:" <<<"$out" || return 1
}

if assets_ok "$ASSETS_DIR"; then
  log "using cached control plane v${K8S_VERSION} in ${ASSETS_DIR}"
  echo "$ASSETS_DIR"
  exit 0
fi

# 2. setup-envtest's own download. Bounded in time: on a closed network the
#    download hangs or fails, and we fall through to the source build.
log "trying setup-envtest download of v${K8S_VERSION}"
if path="$(timeout 120 go run "sigs.k8s.io/controller-runtime/tools/setup-envtest@${SETUP_ENVTEST_VERSION}" \
      use "${K8S_VERSION}" --bin-dir "${DATA_DIR}" -p path 2>/dev/null)" && [[ -n "$path" ]] \
   && [[ -x "$path/kube-apiserver" && -x "$path/etcd" && -x "$path/kubectl" ]]; then
  log "downloaded control plane to ${path}"
  echo "$path"
  exit 0
fi
log "download unavailable; building v${K8S_VERSION} from source through the Go module proxy (about 10 minutes cold)"

# 3. Build from source, under a lock so that concurrent runs build once, into
#    temporary names renamed at the end so that an interrupted build never
#    leaves a half-written binary in the cache. k8s.io/kubernetes refers to its staging modules by
#    relative replace directives, which do not apply to a dependency, so the
#    throwaway module pins each of them to the matching v0.x release.
mkdir -p "$BUILD_DIR" "$ASSETS_DIR"
exec 9>"$BUILD_DIR/.lock"
flock 9
if assets_ok "$ASSETS_DIR"; then
  log "another run built the control plane in ${ASSETS_DIR}"
  echo "$ASSETS_DIR"
  exit 0
fi
cd "$BUILD_DIR"
staging_version="v0.${K8S_VERSION#1.}"
gomod_file="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[[ -f "$gomod_file" ]] || { log "cannot download k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
{
  echo "module envtestbuild"
  echo
  echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod_file")"
  echo
  echo "require k8s.io/kubernetes v${K8S_VERSION}"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"${staging_version}"'#p' "$gomod_file"
  echo ")"
} > go.mod
log "pinned $(grep -c "=> k8s.io" go.mod) staging modules to ${staging_version}"
mkdir -p etcd
cat > etcd/main.go <<'GO'
// Command etcd runs the etcd server for envtest.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

# kubectl and the apiserver print these; without them the server reports
# v0.0.0 and kubectl cannot parse the version.
minor="${K8S_VERSION#1.}"; minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v${K8S_VERSION} \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION} \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"

export GOFLAGS="-mod=mod ${GOFLAGS:-}"
log "building kube-apiserver"
go build -trimpath -ldflags "$ldflags" -o "$ASSETS_DIR/.kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
log "building etcd v${ETCD_VERSION}"
go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null 2>&1 || true
go build -trimpath -ldflags "-s -w" -o "$ASSETS_DIR/.etcd.tmp" ./etcd
log "building kubectl"
go build -trimpath -ldflags "$ldflags" -o "$ASSETS_DIR/.kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
for bin in kube-apiserver etcd kubectl; do
  mv -f "$ASSETS_DIR/.${bin}.tmp" "$ASSETS_DIR/${bin}"
done

assets_ok "$ASSETS_DIR" || { log "built binaries failed their version check in ${ASSETS_DIR}"; exit 1; }
log "control plane v${K8S_VERSION} ready in ${ASSETS_DIR}"
echo "$ASSETS_DIR"
