"""A public policy scanner (checkov's Kubernetes checks) over what Vystra runs: the chart's
workloads and the worker Jobs the operator renders, for every pool. No pod-security check may
fail: privilege and its escalation, root, capabilities, seccomp, read-only root filesystem,
host namespaces."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml
from chart_helpers import CHART, Helm, operator_jobs
from devcluster.tools import ensure_checkov

POD_SECURITY = {
    "CKV_K8S_16": "privileged containers",
    "CKV_K8S_17": "host PID",
    "CKV_K8S_18": "host IPC",
    "CKV_K8S_19": "host network",
    "CKV_K8S_20": "privilege escalation",
    "CKV_K8S_22": "read-only root filesystem",
    "CKV_K8S_23": "root containers",
    "CKV_K8S_25": "added capabilities",
    "CKV_K8S_28": "NET_RAW",
    "CKV_K8S_29": "pod security context",
    "CKV_K8S_30": "container security context",
    "CKV_K8S_31": "seccomp profile",
    "CKV_K8S_37": "capabilities assigned",
    "CKV_K8S_39": "SYS_ADMIN",
    "CKV_K8S_40": "high UID",
}


def test_no_pod_security_check_fails_on_the_chart_or_the_worker_jobs(tmp_path: Path) -> None:
    docs = Helm().template("-f", str(CHART / "ci" / "full-values.yaml"))
    pools = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "vystra-pools"
    )
    jobs = operator_jobs(pools["data"]["pools.yaml"])
    assert {j["metadata"]["labels"]["vystra.io/pool"] for j in jobs} == {"gpu", "cpu"}
    (tmp_path / "chart.yaml").write_text(yaml.safe_dump_all(docs))
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump_all(jobs))

    scan = subprocess.run(
        [
            str(ensure_checkov()),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--check",
            ",".join(POD_SECURITY),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # offline: no guideline download
    )
    results = json.loads(scan.stdout)["results"]
    failed = [
        f"{c['resource']}: {c['check_id']} ({POD_SECURITY[c['check_id']]})"
        for c in results["failed_checks"]
    ]
    assert failed == []
    passed: dict[tuple[str, str], set[str]] = {}
    for check in results["passed_checks"]:
        kind, _, name = check["resource"].split(".", 2)  # Kind.namespace.name
        passed.setdefault((kind, name), set()).add(check["check_id"])
    workloads = {w for w in passed if w[0] in ("Deployment", "Job", "Pod")}
    expected = {
        ("Deployment", "vystra-api"),
        ("Deployment", "vystra-operator"),
        ("Pod", "vystra-test-api-ready"),
        *(("Job", j["metadata"]["name"]) for j in jobs),
    }
    assert workloads == expected
    for workload in workloads:  # each was scanned by every check, and passed it
        assert passed[workload] == set(POD_SECURITY), workload
