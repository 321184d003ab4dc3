"""Certificates and keys of a dev cluster, made with the system's openssl.

One CA signs the apiserver's serving certificate and every client certificate; the
service-account key pair signs and verifies bound tokens. Files are made once per state dir
and reused, so kubeconfigs handed out stay valid across restarts.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# Names the apiserver is reached by: loopback for us, the in-cluster names for clients that
# derive the server from the `kubernetes` Service.
APISERVER_SANS = (
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
    "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
)

# Client identities: CN is the user, O the group, as the apiserver's x509 authenticator reads them.
CLIENTS = {
    "admin": "/CN=vystra-admin/O=system:masters",
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
    "apiserver-kubelet-client": "/CN=kube-apiserver-kubelet-client/O=system:masters",
    "node-agent": "/CN=vystra-node-agent/O=system:masters",
    "front-proxy-client": "/CN=front-proxy-client",
}

# A minimal openssl config, so the distribution's default `v3_ca` section does not turn every
# leaf certificate into a CA.
_OPENSSL_CNF = "[req]\ndistinguished_name = dn\n[dn]\n"


@dataclass(frozen=True)
class CertPaths:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"


def _openssl(*args: str | Path, cnf: Path) -> None:
    subprocess.run(
        ["openssl", *map(str, args)],
        check=True,
        capture_output=True,
        env={"OPENSSL_CONF": str(cnf), "PATH": "/usr/bin:/bin"},
    )


def _ec_key() -> list[str]:
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _leaf(paths: CertPaths, name: str, subject: str, cnf: Path, *exts: str) -> None:
    if paths.cert(name).exists():
        return
    ext_args = [arg for ext in exts for arg in ("-addext", ext)]
    _openssl(
        "req",
        "-x509",
        *_ec_key(),
        "-keyout",
        paths.key(name),
        "-out",
        paths.cert(name),
        "-days",
        "3650",
        "-subj",
        subject,
        "-CA",
        paths.ca_cert,
        "-CAkey",
        paths.ca_key,
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        *ext_args,
        cnf=cnf,
    )


def ensure_certs(directory: Path) -> CertPaths:
    """Create the CA, serving and client certificates and the service-account keys if missing."""
    paths = CertPaths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cnf = directory / "openssl.cnf"
    cnf.write_text(_OPENSSL_CNF)
    if not paths.ca_cert.exists():
        _openssl(
            "req",
            "-x509",
            *_ec_key(),
            "-keyout",
            paths.ca_key,
            "-out",
            paths.ca_cert,
            "-days",
            "3650",
            "-subj",
            "/CN=vystra-dev-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            cnf=cnf,
        )
    _leaf(
        paths,
        "apiserver",
        "/CN=kube-apiserver",
        cnf,
        f"subjectAltName={APISERVER_SANS}",
        "extendedKeyUsage=serverAuth",
    )
    _leaf(
        paths,
        "node-agent-serving",
        "/CN=vystra-node-agent",
        cnf,
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "extendedKeyUsage=serverAuth",
    )
    for name, subject in CLIENTS.items():
        _leaf(paths, name, subject, cnf, "extendedKeyUsage=clientAuth")
    if not paths.sa_key.exists():
        _openssl(
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            paths.sa_key,
            cnf=cnf,
        )
        _openssl("pkey", "-in", paths.sa_key, "-pubout", "-out", paths.sa_pub, cnf=cnf)
    for key in directory.glob("*.key"):
        key.chmod(0o600)
    return paths
