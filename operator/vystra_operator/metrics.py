"""Prometheus metrics of the operator, served on VYSTRA_OPERATOR_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("vystra_operator_reconciles_total", "Reconcile cycles run.", ["result"])
QUEUE_DEPTH = Gauge("vystra_operator_queue_depth", "VideoIngests waiting, by pool.", ["pool"])
RUNNING = Gauge("vystra_operator_running_jobs", "Worker Jobs running, by pool.", ["pool"])
GPU_CAPACITY = Gauge("vystra_operator_gpu_capacity", "GPUs allocatable in the GPU pools.")
JOBS_CREATED = Counter("vystra_operator_jobs_created_total", "Worker Jobs created.", ["pool"])
ADMISSION_WAIT = Histogram(
    "vystra_operator_admission_wait_seconds",
    "From VideoIngest creation to its Job's creation.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
JOB_DURATION = Histogram(
    "vystra_operator_job_duration_seconds",
    "From Job creation to the VideoIngest's terminal phase.",
    ["pool", "phase"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
FAILURES = Counter("vystra_operator_failures_total", "Failed VideoIngests.", ["reason"])
