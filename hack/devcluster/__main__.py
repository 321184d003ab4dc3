"""python -m devcluster {up,down,status,logs,tools}: the commands behind `make cluster-*`.

The state dir and ports come from VYSTRA_CLUSTER_STATE_DIR / VYSTRA_CLUSTER_PORT_BASE or the
--state-dir / --port-base options (defaults: <repo>/.cluster, 16440).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from devcluster.cluster import DAEMONS, down, status, up
from devcluster.config import ClusterConfig, Ports
from devcluster.tools import ensure_k8s_binaries, ensure_minio


def _config(args: argparse.Namespace) -> ClusterConfig:
    overrides: dict[str, object] = {}
    if args.state_dir:
        overrides["state_dir"] = args.state_dir
    if args.port_base:
        overrides["ports"] = Ports(args.port_base)
    return ClusterConfig.from_env(**overrides)


def _logs(cfg: ClusterConfig, target: str | None, lines: int) -> int:
    logs = cfg.paths.logs
    if target is None:
        files = [logs / f"{name}.log" for name in DAEMONS]
        files += sorted(p for p in logs.glob("*_*.log"))
    elif "/" in target:
        namespace, pod = target.split("/", 1)
        files = [cfg.paths.pod_log(namespace, pod)]
    else:
        files = [logs / f"{target}.log"]
    for path in files:
        if not path.exists():
            continue
        print(f"==> {path} <==")
        print("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devcluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--port-base", type=int)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start (or resume) the cluster and wait until nodes are Ready")
    commands.add_parser("down", help="stop every component; keeps the state dir")
    commands.add_parser("status", help="which components run, and the nodes")
    logs = commands.add_parser("logs", help="tail component and pod logs")
    logs.add_argument(
        "target", nargs="?", help="a component (kube-apiserver, node-agent, ...) or NAMESPACE/POD"
    )
    logs.add_argument("-n", "--lines", type=int, default=40)
    commands.add_parser("tools", help="build (or reuse) the cached binaries")
    args = parser.parse_args(argv)
    cfg = _config(args)

    if args.command == "up":
        started = time.monotonic()
        cluster = up(cfg)
        print(
            f"cluster up in {time.monotonic() - started:.1f}s\n"
            f"  kubeconfig: {cluster.kubeconfig}\n  kubectl:    {cluster.kubectl_path}\n"
            f"  S3:         {cluster.s3.endpoint_url} bucket {cluster.s3.bucket} "
            f"(key {cluster.s3.access_key} / {cluster.s3.secret_key})"
        )
    elif args.command == "down":
        stopped = down(cfg)
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    elif args.command == "status":
        running = status(cfg)
        for name, pid in running.items():
            print(f"{name:24} {'running, pid ' + str(pid) if pid else 'stopped'}")
        if running["kube-apiserver"]:
            from devcluster.handle import DevCluster

            print(
                DevCluster(cfg).kubectl("get", "nodes", "-L", "vystra.io/pool", check=False).stdout
            )
        return 0 if all(running.values()) else 1
    elif args.command == "logs":
        return _logs(cfg, args.target, args.lines)
    elif args.command == "tools":
        print(ensure_k8s_binaries())
        print(ensure_minio())
    return 0


if __name__ == "__main__":
    sys.exit(main())
