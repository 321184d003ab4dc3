"""Kubeconfig files: certificate-based ones for people and components, token-based ones for pods."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _document(server: str, ca_cert: Path, user: dict[str, str], namespace: str) -> dict:
    context = {"cluster": "vystra-dev", "user": "user", "namespace": namespace}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "vystra-dev",
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert)},
            }
        ],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "vystra-dev", "context": context}],
        "current-context": "vystra-dev",
    }


def write_cert_kubeconfig(
    path: Path, server: str, ca_cert: Path, client_cert: Path, client_key: Path
) -> Path:
    """A self-contained kubeconfig (certificates embedded) that can be copied anywhere."""
    user = {"client-certificate-data": _b64(client_cert), "client-key-data": _b64(client_key)}
    return _write(path, _document(server, ca_cert, user, "default"))


def write_token_kubeconfig(
    path: Path, server: str, ca_cert: Path, token_file: Path, namespace: str
) -> Path:
    """A pod's kubeconfig. It names the token file rather than embedding the token, so Go
    clients pick up the node agent's refreshed token the way they re-read a projected one."""
    user = {"tokenFile": str(token_file)}
    return _write(path, _document(server, ca_cert, user, namespace))


def _write(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(document, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
