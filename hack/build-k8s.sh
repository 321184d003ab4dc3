#!/usr/bin/env bash
# Build the pinned Kubernetes control plane, kubectl and etcd from the Go module
# proxy (module hack/k8s) into a cache outside the repo, keyed by version:
#   ${VYSTRA_CACHE:-~/.cache/vystra}/k8s/<version>/{kube-apiserver,...,etcd}
# Binaries already present are reused; pass --force to rebuild them all.
# Prints the cache directory on the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="${here}/k8s"
# The pinned versions, read from go.mod (a `require` line or an entry of a require block).
pinned() { awk -v m="$1" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' \
  "${module}/go.mod"; }
version="$(pinned k8s.io/kubernetes)"
etcd_version="$(pinned go.etcd.io/etcd/server/v3)"
out="${VYSTRA_CACHE:-${HOME}/.cache/vystra}/k8s/${version}"
force="${1:-}"

components=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
missing=()
for c in "${components[@]}"; do
  if [[ "${force}" == "--force" || ! -x "${out}/${c}" ]]; then missing+=("${c}"); fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "${out}"
  exit 0
fi

# The same ldflags as upstream hack/lib/version.sh, so `kubectl version` and the
# apiserver's /version report the real release instead of v0.0.0-master.
minor="${version#v1.}"; minor="${minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
done
ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_version}"

mkdir -p "${out}"
cd "${module}"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
for c in "${missing[@]}"; do
  if [[ "${c}" == etcd ]]; then pkg=./cmd/etcd; else pkg="k8s.io/kubernetes/cmd/${c}"; fi
  echo "building ${c} (${version}) ..." >&2
  start=$(date +%s)
  go build -p "${GO_BUILD_P:-2}" -trimpath -ldflags "${ldflags}" -o "${out}/${c}.tmp" "${pkg}"
  mv "${out}/${c}.tmp" "${out}/${c}"
  echo "built ${c} in $(( $(date +%s) - start ))s, $(du -h "${out}/${c}" | cut -f1)" >&2
done
echo "${out}"
