"""``vystra-worker``: runs one VideoIngest inside its Kubernetes Job.

The operator hands it everything on its command line (the resource's uid and spec, the plan's
video-length limit) and in its environment (a database login of this ingest's own, a presigned
URL of an object source), so the worker holds no Kubernetes credential. It runs the shared
pipeline and reports progress (seconds processed, segments indexed, video id) in its row of
``ingest_reports`` as segments land; the operator writes that into the resource's status. On
bad input it reports the pipeline's reason and message and exits with ``EXIT_INPUT_ERROR``,
which the Job's pod failure policy turns into an immediate failure; any other error exits 1 so
the Job retries (the pipeline resumes after the units it stored). The operator alone decides
the phase.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from vystra.billing.quota import check_duration
from vystra.db import Database, open_database, origins, reports
from vystra.errors import VystraError
from vystra.k8s import EXIT_INPUT_ERROR
from vystra.objectkeys import tenant_source
from vystra.pipeline import IngestOptions, Pipeline, Progress
from vystra.segment import SegmentOptions
from vystra.settings import Settings, get_settings
from vystra.shutdown import exit_on_sigterm
from vystra.videoingest import Spec

log = logging.getLogger("vystra.worker")
REPORT_INTERVAL = 1.0  # seconds between progress reports: live, without flooding


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


class Reporter:
    """Writes this ingest's report at most every REPORT_INTERVAL seconds, and its origin as
    soon as the video id is known (before the first segment is stored)."""

    def __init__(self, db: Database, args: argparse.Namespace, tenant: str, spec: Spec) -> None:
        self.db, self.args, self.spec = db, args, spec
        self.report = reports.Report(args.uid, tenant)
        self._last = 0.0

    def write(self, **changes: Any) -> None:
        self.report = replace(self.report, **changes)
        with self.db.connect() as conn:
            reports.write(conn, self.report)

    def record_origin(self, video_id: str, reused: bool) -> None:
        a = self.args
        origin = origins.Origin(
            a.uid, self.report.tenant, a.namespace, a.name, video_id, reused, self.spec.retain
        )
        with self.db.connect() as conn:
            origins.record(conn, origin)

    def on_progress(self, p: Progress) -> None:
        if p.video_id is None:
            return
        if p.video_id != self.report.video_id:
            self.record_origin(p.video_id, reused=False)
        elif p.stage != "done" and time.monotonic() - self._last < REPORT_INTERVAL:
            return
        self._last = time.monotonic()
        try:
            self.write(
                video_id=p.video_id,
                processed=p.processed_seconds,
                duration=p.duration,
                segments=p.segments,
            )
        except Exception:  # progress is best effort; the ingest itself must go on
            log.warning("could not report progress of %s/%s", self.args.namespace, self.args.name)


def run(args: argparse.Namespace, settings: Settings) -> int:
    spec = Spec.from_body({"spec": json.loads(args.spec)})
    tenant = settings.tenant  # bound to the namespace by the platform (VYSTRA_TENANT in the Job)
    with open_database(settings, max_size=2, migrate_schema=False) as db:
        reporter = Reporter(db, args, tenant, spec)
        try:

            def on_progress(p: Progress) -> None:
                if p.stage == "audio":  # probed, nothing stored yet
                    check_duration(args.max_video_seconds, p.duration)
                reporter.on_progress(p)

            result = Pipeline(settings, db).ingest(
                tenant_source(spec.source, tenant, settings.s3_bucket),
                options_from_spec(spec, settings),
                tenant=tenant,
                on_progress=on_progress,
            )
        except (VystraError, ValueError) as exc:
            reason = getattr(exc, "reason", "InvalidSpec")
            log.error("%s: %s", reason, exc)
            reporter.write(reason=reason, message=str(exc))
            return EXIT_INPUT_ERROR
        reused = result.status == "exists"
        reporter.record_origin(result.video_id, reused)
        reporter.write(
            video_id=result.video_id,
            reused=reused,
            processed=result.duration_s,
            duration=result.duration_s,
            segments=result.segments,
            done=True,
        )
    log.info("ingested %s as %s: %d segments", spec.source, result.video_id, result.segments)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vystra-worker", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True, help="the VideoIngest's namespace")
    parser.add_argument("--name", required=True, help="the VideoIngest's name")
    parser.add_argument("--uid", required=True, help="the VideoIngest's metadata.uid")
    parser.add_argument("--spec", required=True, help="its spec as JSON, as admitted")
    parser.add_argument(
        "--max-video-seconds", type=float, default=None, help="the tenant's plan limit"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # a deleted or preempted pod gets SIGTERM: unwind (the database is released, the video
    # is not marked failed) and exit 143; the next attempt resumes after the stored units
    exit_on_sigterm()
    try:
        return run(args, get_settings())
    except Exception:
        log.exception("worker failed; the Job will retry")
        return 1


if __name__ == "__main__":
    sys.exit(main())
