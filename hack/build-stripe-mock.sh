#!/usr/bin/env bash
# Build the pinned stripe-mock (Stripe's official API stand-in, the billing tests' Stripe) from
# the Go module proxy into a cache outside the repo:
#   ${VYSTRA_CACHE:-~/.cache/vystra}/stripe-mock/<version>/stripe-mock
# Reuses an existing binary (--force rebuilds). Prints the cache directory on the last line.
set -euo pipefail

# stripe-mock embeds Stripe's OpenAPI spec at build time, so the version pins the API surface
# the tests see (Billing Meter Events included).
version="${STRIPE_MOCK_VERSION:-v0.203.0}"
out="${VYSTRA_CACHE:-${HOME}/.cache/vystra}/stripe-mock/${version}"

if [[ -x "${out}/stripe-mock" && "${1:-}" != "--force" ]]; then
  echo "${out}"
  exit 0
fi

mkdir -p "${out}"
echo "building stripe-mock (${version}) ..." >&2
start=$(date +%s)
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
CGO_ENABLED=0 GOBIN="${tmp}" GOFLAGS="-mod=mod" go install -p "${GO_BUILD_P:-2}" -trimpath \
  -ldflags "-s -w" "github.com/stripe/stripe-mock@${version}"
mv "${tmp}/stripe-mock" "${out}/stripe-mock"
echo "built stripe-mock in $(( $(date +%s) - start ))s, $(du -h "${out}/stripe-mock" | cut -f1)" >&2
echo "${out}"
