"""Tenancy is bound by the platform: the chart's admission policies, tried for real by a tenant's
own kubectl identity (a user bound by RBAC to its namespace) against the dev cluster's API server.
"""

from __future__ import annotations

import uuid

import pytest
import yaml
from chart_helpers import CHART, Helm
from kubernetes import client

from vystra.k8s import TENANT_LABEL
from vystra.objectkeys import tenant_prefix

USER = "alice@tenant.example"


@pytest.fixture(scope="module")
def policies(cluster):
    docs = Helm().template(
        "-f",
        str(CHART / "ci" / "minimal-values.yaml"),
        "-s",
        "templates/admission-policy.yaml",
        "--namespace",
        "vystra",
    )
    for doc in docs:
        doc["metadata"]["name"] = f"test-{doc['metadata']['name']}"
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            doc["spec"]["policyName"] = f"test-{doc['spec']['policyName']}"
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    yield docs
    for doc in docs:
        cluster.kubectl("delete", doc["kind"], doc["metadata"]["name"], check=False)


@pytest.fixture
def tenant_ns(cluster, namespace, policies):
    """The tenant's namespace, where alice may manage VideoIngests and pods, and one more
    namespace of hers that no administrator bound to a tenant."""
    unbound = f"unbound-{uuid.uuid4().hex[:6]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=unbound)))
    rules = [
        {
            "apiGroups": ["vystra.io"],
            "resources": ["videoingests"],
            "verbs": ["get", "list", "create", "update", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create"]},
    ]
    for ns in (namespace, unbound):
        cluster.kubectl(
            "apply",
            "-f",
            "-",
            input=yaml.safe_dump_all(
                [
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "Role",
                        "metadata": {"name": "tenant", "namespace": ns},
                        "rules": rules,
                    },
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "RoleBinding",
                        "metadata": {"name": "tenant", "namespace": ns},
                        "roleRef": {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "Role",
                            "name": "tenant",
                        },
                        "subjects": [{"kind": "User", "name": USER}],
                    },
                ]
            ),
        )
    # and may edit namespaces' labels, so that only the policy stands in the way
    cluster.kubectl(
        "create",
        "clusterrole",
        f"ns-edit-{unbound}",
        "--verb=get,patch,update",
        "--resource=namespaces",
        check=False,
    )
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        f"ns-edit-{unbound}",
        f"--clusterrole=ns-edit-{unbound}",
        f"--user={USER}",
        check=False,
    )
    # a new policy takes a moment to reach the API server's admission: wait until it bites
    cluster.wait_for(
        lambda: (
            apply_as_alice(
                cluster, namespace, "probe", {"labels": {TENANT_LABEL: "x"}}, dry_run=True
            ).returncode
            != 0
        ),
        60,
        "the admission policies in force",
    )
    yield namespace, unbound
    cluster.kubectl("delete", "clusterrolebinding", f"ns-edit-{unbound}", check=False)
    cluster.kubectl("delete", "clusterrole", f"ns-edit-{unbound}", check=False)
    cluster.core.delete_namespace(unbound)


def apply_as_alice(
    cluster, ns: str, name: str, metadata: dict | None = None, dry_run: bool = False, **spec
):
    body = {
        "apiVersion": "vystra.io/v1alpha1",
        "kind": "VideoIngest",
        "metadata": {"name": name, "namespace": ns, **(metadata or {})},
        "spec": {"source": f"s3://vystra/{tenant_prefix(ns)}a.mp4", **spec},
    }
    args = ["--dry-run=server"] if dry_run else []
    return cluster.kubectl(
        "--as", USER, "apply", *args, "-f", "-", input=yaml.safe_dump(body), check=False
    )


def test_a_tenant_cannot_claim_another_tenant_by_label(cluster, tenant_ns):
    ns, _ = tenant_ns
    out = apply_as_alice(cluster, ns, "claim", {"labels": {TENANT_LABEL: "bob"}})
    assert out.returncode != 0 and "labels under vystra.io/ are reserved" in out.stderr


def test_a_tenant_cannot_set_reserved_annotations(cluster, tenant_ns):
    ns, _ = tenant_ns
    limits = {"annotations": {"vystra.io/upload-id": "another-tenants-upload"}}
    out = apply_as_alice(cluster, ns, "unlimited", limits)
    assert out.returncode != 0 and "annotations under vystra.io/ are reserved" in out.stderr


@pytest.mark.parametrize(
    "source",
    [
        "s3://vystra/uploads/bob/a.mp4",
        "uploads/bob/u1/a.mp4",
        "s3://vystra/talks/a.mp4",
        "s3://elsewhere/uploads/{ns}/a.mp4",
        "uploads/{ns}/../bob/a.mp4",
        "uploads/{ns}//a.mp4",
        "uploads/{ns}-evil/a.mp4",
    ],
)
def test_a_tenant_cannot_name_objects_that_are_not_its_own(cluster, tenant_ns, source):
    ns, _ = tenant_ns
    out = apply_as_alice(cluster, ns, "foreign", source=source.format(ns=ns))
    assert out.returncode != 0 and "is not this tenant's" in out.stderr, out.stderr


def test_a_tenant_names_its_own_objects_and_urls(cluster, tenant_ns):
    ns, _ = tenant_ns
    for source in (f"{tenant_prefix(ns)}u1/a.mp4", "https://example.org/a.mp4"):
        out = apply_as_alice(cluster, ns, "own", dry_run=True, source=source)
        assert out.returncode == 0, out.stderr


def test_videoingests_are_refused_in_unbound_namespaces(cluster, tenant_ns):
    _, unbound = tenant_ns
    out = apply_as_alice(cluster, unbound, "stray")
    assert out.returncode != 0 and "is bound to no Vystra tenant" in out.stderr


@pytest.mark.parametrize(
    "resources",
    [
        {"requests": {"cpu": "100"}},
        {"limits": {"memory": "1Ti"}},
        {"limits": {"nvidia.com/gpu": "8"}},
        {"requests": {"cpu": "a-lot"}},
    ],
)
def test_spec_resources_are_bounded(cluster, tenant_ns, resources):
    ns, _ = tenant_ns
    out = apply_as_alice(cluster, ns, "greedy", resources=resources)
    assert out.returncode != 0 and "spec.resources may only name" in out.stderr


def test_a_tenant_cannot_bind_or_rebind_a_namespace(cluster, tenant_ns):
    ns, unbound = tenant_ns
    for target, value in ((unbound, "alice"), (ns, "bob")):
        out = cluster.kubectl(
            "--as",
            USER,
            "label",
            "--overwrite",
            "namespace",
            target,
            f"{TENANT_LABEL}={value}",
            check=False,
        )
        assert out.returncode != 0, out.stdout
        assert "only Vystra and cluster administrators bind a namespace" in out.stderr


def test_a_plain_videoingest_is_accepted_and_edits_keep_vystras_keys(cluster, tenant_ns):
    ns, _ = tenant_ns
    created = apply_as_alice(cluster, ns, "fine", resources={"requests": {"cpu": "2"}})
    assert created.returncode == 0, created.stderr
    # Vystra's own writes (here an administrator, as the API's service account would) may
    # set reserved keys, and the tenant may still edit the resource as long as it keeps them
    cluster.kubectl("annotate", "vi", "fine", "-n", ns, "vystra.io/upload-id=up1")
    edited = cluster.kubectl(
        "--as",
        USER,
        "patch",
        "vi",
        "fine",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec": {"retain": true}}',
        check=False,
    )
    assert edited.returncode == 0, edited.stderr
    dropped = cluster.kubectl(
        "--as", USER, "annotate", "vi", "fine", "-n", ns, "vystra.io/upload-id-", check=False
    )
    assert dropped.returncode != 0 and "reserved" in dropped.stderr
