"""Prometheus metrics of the operator, served on VYSTRA_OPERATOR_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("vystra_operator_reconciles_total", "Controller passes run.", ["result"])
QUEUE_DEPTH = Gauge("vystra_operator_queue_depth", "VideoIngests waiting for capacity.", ["pool"])
CAPACITY = Gauge(
    "vystra_operator_flavor_capacity", "Job slots of a flavor not taken by others.", ["flavor"]
)
FLAVOR_RTF = Gauge(
    "vystra_operator_flavor_rtf",
    "Processing seconds per media second, learnt from finished Jobs.",
    ["flavor", "model"],
)
JOBS_CREATED = Counter("vystra_operator_jobs_created_total", "Worker Jobs created.", ["pool"])
STATUS_BACKLOG = Gauge("vystra_operator_status_backlog", "Status writes waiting to be sent.")
WRITE_RETRIES = Counter("vystra_operator_write_retries_total", "Status writes retried.")
LEADER = Gauge("vystra_operator_leader", "1 while this replica holds the leader Lease.")
ADMISSION_WAIT = Histogram(
    "vystra_operator_admission_wait_seconds",
    "From VideoIngest creation to its Job's creation.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
PREEMPTIONS = Counter(
    "vystra_operator_preemptions_total", "Jobs stopped for tenants under their fair share."
)
DISRUPTIONS = Counter(
    "vystra_operator_disruptions_total", "Worker pods evicted, preempted or reclaimed."
)
FAILURES = Counter("vystra_operator_failures_total", "Failed VideoIngests.", ["reason"])
SUCCEEDED = Counter("vystra_operator_succeeded_total", "VideoIngests that succeeded.")
MEDIA_SECONDS = Counter(
    "vystra_operator_media_seconds_total",
    "Seconds of media indexed by workers, by Whisper model (the spec's; default: unset).",
    ["model"],
)
JOB_DURATION = Histogram(
    "vystra_operator_job_duration_seconds",
    "From Job creation to its end, by flavor and outcome.",
    ["pool", "phase"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
STAGE_SECONDS = Histogram(
    "vystra_operator_stage_seconds",
    "Wall seconds a succeeded ingest's worker spent in each stage, by Whisper model.",
    ["stage", "model"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
