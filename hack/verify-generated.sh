#!/usr/bin/env bash
# Fails when the generated files (CRDs, RBAC, deepcopy) are stale: it
# regenerates them and compares checksums before and after. It does not need a
# clean git tree, so it works the same in a working copy and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

generated() {
  { ls config/crd/bases/*.yaml config/rbac/role.yaml; find . -name 'zz_generated.*.go' -not -path './hack/tools/*'; } 2>/dev/null | sort -u
}
snapshot() { generated | xargs -r sha256sum; }

before="$(snapshot)"
make --no-print-directory manifests generate >/dev/null
after="$(snapshot)"
if [[ "$before" != "$after" ]]; then
  echo "verify-generated: generated files were stale and have been regenerated:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  echo "verify-generated: review and commit them." >&2
  exit 1
fi
echo "verify-generated: generated files are up to date" >&2
