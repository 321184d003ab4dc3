"""Fixtures for tests against the real dev cluster (hack/devcluster).

- `cluster`   (session): a DevCluster — kubeconfig, API clients (core, batch, rbac, custom),
                         kubectl, pod logs, wait helpers, S3 info. Started once, stopped at the end.
- `namespace` (test):    a fresh namespace with its default service account, deleted afterwards.
- `s3`        (session): S3Info — endpoint_url, access_key, secret_key, bucket, client().

The test cluster uses a temporary state dir and the first free port range from 16540
(VYSTRA_TEST_CLUSTER_PORT_BASE pins one), so it runs next to a dev cluster from
`make cluster-up` and next to another test session. To keep it up between runs (seconds
saved per run), set VYSTRA_TEST_CLUSTER_STATE_DIR to a fixed dir and VYSTRA_TEST_CLUSTER_KEEP=1;
the next session finds it running there and reuses it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from devcluster import (
    ClusterConfig,
    DevCluster,
    Ports,
    S3Info,
    down,
    free_port_base,
    running_port_base,
    up,
)
from kubernetes import client

from vystra.k8s import TENANT_LABEL

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    fixed_dir = os.environ.get("VYSTRA_TEST_CLUSTER_STATE_DIR")
    state_dir = Path(fixed_dir) if fixed_dir else tmp_path_factory.mktemp("devcluster")
    if "VYSTRA_TEST_CLUSTER_PORT_BASE" in os.environ:
        port_base = int(os.environ["VYSTRA_TEST_CLUSTER_PORT_BASE"])
    else:
        port_base = running_port_base(state_dir) or free_port_base(16540)
    cfg = ClusterConfig.from_env(state_dir=state_dir, ports=Ports(port_base))
    try:
        yield up(cfg)
    finally:
        if os.environ.get("VYSTRA_TEST_CLUSTER_KEEP") != "1":
            down(cfg)


@pytest.fixture(scope="session")
def s3(cluster: DevCluster) -> S3Info:
    return cluster.s3


@pytest.fixture
def namespace(cluster: DevCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace named after the test, bound to a tenant of the same name as `vystra tenants
    create` binds one; pods can be created once its default SA exists."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{uuid.uuid4().hex[:5]}"
    core = cluster.core
    meta = client.V1ObjectMeta(name=name, labels={TENANT_LABEL: name})
    core.create_namespace(client.V1Namespace(metadata=meta))
    cluster.wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        30,
        f"default service account in {name}",
    )
    yield name
    core.delete_namespace(name)
