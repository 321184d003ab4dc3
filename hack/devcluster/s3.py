"""The S3-compatible object store of a dev cluster: a MinIO server on loopback with one bucket."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.client import Config as BotoConfig

from devcluster.config import LOOPBACK, ClusterConfig
from devcluster.health import http_ok, wait_for
from devcluster.processes import daemon_pid, start_daemon

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Info:
    """What a client needs to reach the store: boto3.client("s3", **info.client_kwargs())."""

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = REGION

    def client_kwargs(self) -> dict[str, object]:
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
            # Path-style: virtual-host names like vystra.127.0.0.1 do not resolve.
            "config": BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
        }

    def client(self):  # noqa: ANN201 - boto3 clients have no importable type
        return boto3.client("s3", **self.client_kwargs())

    def env(self) -> dict[str, str]:
        """The standard AWS variables plus the endpoint, for processes and pods."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "VYSTRA_S3_BUCKET": self.bucket,
        }


def s3_info(config: ClusterConfig) -> S3Info:
    return S3Info(config.s3_endpoint, config.s3_access_key, config.s3_secret_key, config.s3_bucket)


def start_s3(config: ClusterConfig, minio_bin: Path) -> S3Info:
    """Start MinIO unless it is running, wait until it is live, and create the bucket."""
    paths = config.paths
    info = s3_info(config)
    if daemon_pid("minio", paths.pids) is None:
        paths.s3_data.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(paths.s3_data),
            "MINIO_ROOT_USER": info.access_key,
            "MINIO_ROOT_PASSWORD": info.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "MINIO_REGION": REGION,
        }
        argv = [
            str(minio_bin),
            "server",
            str(paths.s3_data),
            "--quiet",
            "--address",
            f"{LOOPBACK}:{config.ports.s3}",
            "--console-address",
            f"{LOOPBACK}:{config.ports.s3_console}",
        ]
        start_daemon("minio", argv, paths.pids, paths.logs, env=env)
    wait_for(lambda: http_ok(f"{info.endpoint_url}/minio/health/live"), 60, "MinIO")
    client = info.client()
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if info.bucket not in existing:
        client.create_bucket(Bucket=info.bucket)
    return info
