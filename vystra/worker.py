"""``vystra-worker``: runs the VideoIngests of one Kubernetes Job, in turn.

A Job runs one ingest, or a batch of one namespace's short ones (the pod's start and the
models' load are paid once). The operator hands the worker everything on its command line
(each resource's name, uid and spec, the plan's video-length limit) and in its environment
(each ingest's own database login, a presigned URL of an object source), so the worker holds
no Kubernetes credential. For each ingest it runs the shared pipeline under that ingest's
login and reports progress (seconds processed, segments indexed, video id) in its row of
``ingest_reports`` as segments land; the operator writes that into the resource's status.

Bad input is reported (the pipeline's reason and message) and the worker goes on to the next
ingest; if every ingest of the Job was bad it exits with ``EXIT_INPUT_ERROR``, which the Job's
pod failure policy turns into an immediate failure. Any other error exits 1 so the Job retries:
the retry skips the ingests already reported done or bad, and resumes the others after the
units they stored. The operator alone decides the phase.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from psycopg.conninfo import make_conninfo

from vystra import logs, tracing
from vystra.billing.quota import check_duration
from vystra.db import Database, open_database, origins, reports
from vystra.errors import VystraError
from vystra.k8s import EXIT_INPUT_ERROR, WORKER_LOGINS_ENV, WorkerIngest, decode_ingests
from vystra.objectkeys import tenant_source
from vystra.pipeline import IngestOptions, Pipeline, Progress, StageClock
from vystra.segment import SegmentOptions
from vystra.settings import Settings, get_settings
from vystra.shutdown import exit_on_sigterm
from vystra.videoingest import Spec
from vystra.visual import VisualOptions

log = logging.getLogger("vystra.worker")
REPORT_INTERVAL = 1.0  # seconds between progress reports: live, without flooding


@dataclass(frozen=True)
class Assignment:
    """One ingest of this Job, with what it alone may reach."""

    namespace: str
    ingest: WorkerIngest
    spec: Spec

    @property
    def name(self) -> str:
        return self.ingest.name

    @property
    def uid(self) -> str:
        return self.ingest.uid

    def settings(self, settings: Settings) -> Settings:
        """The settings this ingest runs under: its login and its source URL."""
        url = settings.database_url
        if url is not None and self.ingest.user is not None:
            url = make_conninfo(url, user=self.ingest.user, password=self.ingest.password)
        return settings.model_copy(
            update={"database_url": url, "presigned_source_url": self.ingest.source_url}
        )


def assignments(args: argparse.Namespace, environ: Mapping[str, str]) -> list[Assignment]:
    """The Job's ingests from the command line, each with its login from the environment."""
    return [
        Assignment(args.namespace, ingest, Spec.from_body({"spec": ingest.spec}))
        for ingest in decode_ingests(args.ingests, environ.get(WORKER_LOGINS_ENV))
    ]


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
        visual=VisualOptions(
            spec.visual.enabled,
            spec.visual.interval_seconds,
            spec.visual.scene_threshold,
            spec.visual.ocr,
        ),
    )


class Reporter:
    """Writes this ingest's report at most every REPORT_INTERVAL seconds, and its origin as
    soon as the video id is known (before the first segment is stored)."""

    def __init__(self, db: Database, job: Assignment, tenant: str) -> None:
        self.db, self.job = db, job
        self.report = reports.Report(job.uid, tenant)
        self.stages = StageClock()
        self._last = 0.0

    def write(self, **changes: Any) -> None:
        self.report = replace(self.report, **changes)
        with self.db.connect() as conn:
            reports.write(conn, self.report)

    def record_origin(self, video_id: str, reused: bool) -> None:
        a = self.job
        origin = origins.Origin(
            a.uid, self.report.tenant, a.namespace, a.name, video_id, reused, a.spec.retain
        )
        with self.db.connect() as conn:
            origins.record(conn, origin)

    def on_progress(self, p: Progress) -> None:
        self.stages.see(p.stage)
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
                visual=self.report.visual if p.visual_seconds is None else p.visual_seconds,
            )
        except Exception:  # progress is best effort; the ingest itself must go on
            log.warning("could not report progress of %s/%s", self.job.namespace, self.job.name)


def run_one(job: Assignment, settings: Settings) -> bool:
    """Ingest one assignment; False if its input was bad (reported). An ingest already
    reported done or bad (by an earlier attempt of this Job) is not run again."""
    tenant = settings.tenant  # bound to the namespace by the platform (VYSTRA_TENANT in the Job)
    settings = job.settings(settings)
    spec = job.spec
    with open_database(settings, max_size=2, migrate_schema=False) as db:
        with db.connect() as conn:
            earlier = reports.read(conn, job.uid)
        if earlier is not None and (earlier.done or earlier.reason):
            log.info("%s/%s already reported by an earlier attempt", job.namespace, job.name)
            return earlier.done
        reporter = Reporter(db, job, tenant)
        try:

            def on_progress(p: Progress) -> None:
                if p.stage == "audio":  # probed, nothing stored yet
                    check_duration(job.ingest.max_video_seconds, p.duration)
                reporter.on_progress(p)

            result = Pipeline(settings, db, register_index=False).ingest(
                tenant_source(spec.source, tenant, settings.s3_bucket),
                options_from_spec(spec, settings),
                tenant=tenant,
                on_progress=on_progress,
            )
        except (VystraError, ValueError) as exc:
            reason = getattr(exc, "reason", "InvalidSpec")
            log.error("%s/%s: %s: %s", job.namespace, job.name, reason, exc)
            trace.get_current_span().set_status(Status(StatusCode.ERROR, reason))
            reporter.write(reason=reason, message=str(exc))
            return False
        finally:
            reporter.stages.stop()
        reused = result.status == "exists"
        reporter.record_origin(result.video_id, reused)
        reporter.write(
            video_id=result.video_id,
            reused=reused,
            processed=result.duration_s,
            duration=result.duration_s,
            segments=result.segments,
            done=True,
            stages=reporter.stages.seconds,
        )
    log.info("ingested %s as %s: %d segments", spec.source, result.video_id, result.segments)
    return True


def run(jobs: Sequence[Assignment], settings: Settings) -> int:
    """Each ingest in turn (the models load once); EXIT_INPUT_ERROR if every one was bad."""
    succeeded = []
    for job in jobs:
        ingest = f"{job.namespace}/{job.name}"
        with (
            logs.bound(tenant=settings.tenant, ingest=ingest, request_id=job.ingest.request_id),
            tracing.span(
                "ingest",
                within=job.ingest.traceparent,
                attributes={"vystra.tenant": settings.tenant, "vystra.ingest": ingest},
            ),
        ):
            succeeded.append(run_one(job, settings))
    return 0 if any(succeeded) else EXIT_INPUT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vystra-worker", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True, help="the VideoIngests' namespace")
    parser.add_argument(
        "--ingests",
        required=True,
        help='JSON list, in the order to run: [{"name", "uid", "spec" (as admitted),'
        ' "maxVideoSeconds" (the plan\'s limit, optional)}]',
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_format)
    tracing.configure("vystra-worker")  # spans still queued are sent as it exits
    # a deleted or preempted pod gets SIGTERM: unwind (the database is released, the video
    # is not marked failed) and exit 143; the next attempt resumes after the stored units
    exit_on_sigterm()
    try:
        return run(assignments(args, os.environ), settings)
    except Exception:
        log.exception("worker failed; the Job will retry")
        return 1


if __name__ == "__main__":
    sys.exit(main())
