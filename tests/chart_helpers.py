"""The pinned helm client (hack/build-helm.sh) and the chart's files, for the chart tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from devcluster.tools import ensure_helm

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "vystra"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
EXAMPLE_VALUES = sorted((CHART / "examples").glob("*-values.yaml"))  # one per managed cloud


class Helm:
    """``helm`` with its own config and cache folders, and optionally a cluster's kubeconfig."""

    def __init__(self, kubeconfig: Path | None = None, namespace: str | None = None) -> None:
        self.binary = ensure_helm()
        self._home = tempfile.TemporaryDirectory(prefix="vystra-helm-")  # removed with self
        self.home = Path(self._home.name)
        self.kubeconfig, self.namespace = kubeconfig, namespace

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        extra = []
        if self.kubeconfig:
            extra += ["--kubeconfig", str(self.kubeconfig)]
        if self.namespace:
            extra += ["--namespace", self.namespace]
        result = subprocess.run(
            [str(self.binary), *args, *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                f"{result.stderr}"
            )
        return result

    def template(self, *args: str, release: str = "vystra") -> list[dict[str, Any]]:
        out = self("template", release, str(CHART), *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def operator_jobs(pools_yaml: str) -> list[dict]:
    """The worker Jobs the operator renders for each pool the chart configures."""
    from vystra.db.grants import WorkerLogin, role_name
    from vystra_operator.access import WorkerAccess
    from vystra_operator.config import OperatorSettings
    from vystra_operator.jobs import Member, render_job

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VYSTRA_OPERATOR_POOLS_YAML", pools_yaml)
        mp.setenv("VYSTRA_OPERATOR_JOBS_NAMESPACE", "vystra")
        settings = OperatorSettings()
    body = {
        "metadata": {"name": "talk", "namespace": "vystra-acme", "uid": "4f2d9c1e"},
        "spec": {"source": "uploads/acme/talk.mp4", "resources": {"limits": {"memory": "8Gi"}}},
    }
    access = WorkerAccess(
        "host=db dbname=vystra",
        WorkerLogin(role_name("4f2d9c1e"), "per-ingest"),
        "https://s3.example/vystra/uploads/acme/talk.mp4?X-Amz-Signature=0",
    )
    flavors = settings.scheduling().flavors
    return [render_job([Member(body, access)], pool, settings, "acme") for pool in flavors]
