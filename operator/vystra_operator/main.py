"""``vystra-operator``: run the Kopf operator (replicas elect a leader on a Lease)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import kopf
from prometheus_client import start_http_server

from vystra import logs, tracing
from vystra.k8s import load_kube_config
from vystra_operator.config import get_operator_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vystra-operator", description=__doc__)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--log-format", choices=["json", "plain"], default="json")
    parser.add_argument("--liveness", default="http://0.0.0.0:8081/healthz")
    parser.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    args = parser.parse_args(argv)
    if args.reload:
        from vystra import devreload

        rest = devreload.strip_reload(sys.argv[1:] if argv is None else argv)
        return devreload.run("vystra_operator.main", rest, ["vystra", "vystra_operator"])

    settings = get_operator_settings()
    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    ours = logging.getLogger("vystra")
    ours.setLevel(logging.INFO)
    if args.log_format == "json":
        # the API's and the worker's JSON shape, with the ingest, tenant and request of each
        # record's work (Kopf's own formatter knows nothing of them)
        ours.handlers[:] = [logs.handler("json")]
        ours.propagate = False
    tracing.configure("vystra-operator")
    load_kube_config()  # for the kubernetes client used by the reconcile loop
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    import vystra_operator.handlers  # noqa: F401  registers the handlers

    # standalone: no Kopf peering; replicas elect a leader on a coordination.k8s.io Lease
    # (leader.py) and every replica keeps warm caches
    kopf.run(
        standalone=True,
        clusterwide=settings.namespace is None,
        namespaces=[settings.namespace] if settings.namespace else [],
        liveness_endpoint=args.liveness or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
