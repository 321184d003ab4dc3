# Billing targets, included by the top-level Makefile. See vystra/billing/ and tests/billing/.
#
#   make stripe-mock       build (or reuse) the pinned stripe-mock under ~/.cache/vystra/stripe-mock/
#   make test-billing      the billing tests (Checkout, webhooks, metering, quotas) on stripe-mock

STRIPE_MOCK_VERSION ?= v0.203.0

.PHONY: stripe-mock test-billing

stripe-mock:
	STRIPE_MOCK_VERSION=$(STRIPE_MOCK_VERSION) hack/build-stripe-mock.sh

test-billing: install stripe-mock
	$(PY) -m pytest -q tests/billing
