"""``vystra-worker``: runs one VideoIngest inside its Kubernetes Job.

It reads the resource, runs the shared pipeline, and writes progress (seconds processed,
segments indexed, video id) to the resource's status subresource as segments land. On bad
input it records the pipeline's reason and message in status and exits with
``EXIT_INPUT_ERROR``, which the Job's pod failure policy turns into an immediate failure;
any other error exits 1 so the Job retries (the pipeline is idempotent).
The operator alone decides the phase.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from vystra.billing.quota import check_duration
from vystra.db import open_database, origins
from vystra.errors import VystraError
from vystra.k8s import (
    EXIT_INPUT_ERROR,
    GROUP,
    MAX_SECONDS_ANNOTATION,
    PLURAL,
    VERSION,
    load_kube_config,
    progress,
)
from vystra.objectkeys import tenant_source
from vystra.pipeline import IngestOptions, Pipeline, Progress
from vystra.segment import SegmentOptions
from vystra.settings import Settings, get_settings
from vystra.shutdown import exit_on_sigterm
from vystra.videoingest import Spec

log = logging.getLogger("vystra.worker")
STATUS_INTERVAL = 1.0  # seconds between progress patches: live, without flooding the API


def options_from_spec(spec: Spec, settings: Settings) -> IngestOptions:
    return IngestOptions(
        title=spec.title,
        language=spec.language,
        model=spec.model,
        segmenting=SegmentOptions(
            spec.segmenting.target_seconds,
            spec.segmenting.overlap_seconds,
            settings.segment_pause_seconds,
        ),
        insights=spec.insights,
    )


class StatusWriter:
    """Merge-patches ``status`` of one VideoIngest, at most every STATUS_INTERVAL seconds."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        name: str,
        first: dict[str, Any],
        on_video: Callable[[str], None],
    ) -> None:
        self.api, self.namespace, self.name = api, namespace, name
        self._first = first  # sent with the first patch (the node this pod runs on)
        self._on_video = on_video
        self._video: str | None = None
        self._last = 0.0

    def patch(self, status: dict[str, Any]) -> None:
        status, self._first = {**self._first, **status}, {}
        self.api.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, PLURAL, self.name, {"status": status}
        )

    def on_progress(self, p: Progress) -> None:
        final = p.stage == "done"
        if p.video_id is not None and p.video_id != self._video:
            self._on_video(p.video_id)  # recorded before the first segment is stored
            self._video = p.video_id
        if p.video_id is None or (not final and time.monotonic() - self._last < STATUS_INTERVAL):
            return
        self._last = time.monotonic()
        try:
            self.patch(
                {
                    "videoId": p.video_id,
                    "progress": progress(p.processed_seconds, p.duration, p.segments),
                }
            )
        except Exception:  # progress is best effort; the ingest itself must go on
            log.warning("could not patch progress of %s/%s", self.namespace, self.name)


def run(namespace: str, name: str, settings: Settings) -> int:
    from kubernetes import client

    load_kube_config()
    api = client.CustomObjectsApi()
    body = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    # the tenant the operator found bound to the namespace (VYSTRA_TENANT in the Job)
    meta, tenant = body["metadata"], settings.tenant
    spec = Spec.from_body(body)
    with open_database(settings, max_size=2, migrate_schema=False) as db:

        def record_origin(video_id: str, reused: bool = False) -> None:
            origin = origins.Origin(
                meta["uid"], tenant, namespace, name, video_id, reused, spec.retain
            )
            with db.connect() as conn:
                origins.record(conn, origin)

        first = {"node": settings.node_name} if settings.node_name else {}
        writer = StatusWriter(api, namespace, name, first, record_origin)
        try:
            limit = (meta.get("annotations") or {}).get(MAX_SECONDS_ANNOTATION)

            def on_progress(p: Progress) -> None:
                if limit and p.stage == "audio":  # probed, nothing stored yet
                    check_duration(float(limit), p.duration)
                writer.on_progress(p)

            result = Pipeline(settings, db).ingest(
                tenant_source(spec.source, tenant, settings.s3_bucket),
                options_from_spec(spec, settings),
                tenant=tenant,
                on_progress=on_progress,
            )
            reused = result.status == "exists"
            record_origin(result.video_id, reused)
        except (VystraError, ValueError) as exc:
            reason = getattr(exc, "reason", "InvalidSpec")
            log.error("%s: %s", reason, exc)
            writer.patch({"reason": reason, "message": str(exc)})
            return EXIT_INPUT_ERROR
    writer.patch(
        {
            "videoId": result.video_id,
            "reused": reused,
            "progress": progress(result.duration_s, result.duration_s, result.segments),
        }
    )
    log.info("ingested %s as %s: %d segments", spec.source, result.video_id, result.segments)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vystra-worker", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # a deleted or preempted pod gets SIGTERM: unwind (the database is released, the video
    # is not marked failed) and exit 143; the next attempt resumes after the stored units
    exit_on_sigterm()
    try:
        return run(args.namespace, args.name, get_settings())
    except Exception:
        log.exception("worker failed; the Job will retry")
        return 1


if __name__ == "__main__":
    sys.exit(main())
