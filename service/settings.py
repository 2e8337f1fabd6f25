"""Service settings, read from ``MOTIONSCRIPT_*`` environment variables (or ``.env``).

The embedded default needs no servers: a SQLite file and a local uploads folder
under ``data_dir``, and analysis workers started by ``motionscript serve``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTIONSCRIPT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="SQLite file and uploads live here by default")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<data_dir>/motionscript.db")
    uploads_dir: Path | None = Field(None, description="default <data_dir>/uploads")
    max_upload_mb: int = Field(1024, ge=1, description="largest accepted upload")
    max_json_mb: int = Field(64, ge=1, description="largest accepted JSON body (a landmark document, ...)")
    max_json_depth: int = Field(
        64, ge=2, description="deepest nesting of arrays and objects accepted in a JSON body (landmarks need 4)"
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        description="delete the uploaded recording and sensor files (not the results) of assessments older than "
        "this many days; a clinic's own setting (PATCH /v1/clinic) takes precedence (docs/limits.md)",
    )
    sweep_interval_s: float = Field(
        3600.0, gt=0, description="how often `serve` sweeps expired inputs and orphaned partial uploads"
    )

    # Limits that keep slow or busy clients from stalling other clinics (docs/limits.md)
    api_threads: int = Field(
        32, ge=1, description="threads that run the API's blocking handlers (each may hold one database connection)"
    )
    db_pool_size: int | None = Field(
        None, ge=1, description="database connections the API process keeps; default api_threads + 4"
    )
    db_max_overflow: int = Field(4, ge=0, description="extra connections the API may open above db_pool_size")
    db_pool_timeout_s: float = Field(
        10.0, gt=0, description="wait for a free connection at most this long, then answer 503 with Retry-After"
    )
    max_uploads_per_key: int = Field(4, ge=1, description="uploads one API key may stream at once (then 429)")
    max_uploads_per_clinic: int = Field(8, ge=1, description="uploads one clinic may stream at once (then 429)")
    max_uploads_total: int = Field(64, ge=1, description="uploads the API process streams at once (then 429)")
    upload_retry_after_s: int = Field(2, ge=1, description="Retry-After of a 429 for too many uploads at once")
    upload_checks: int = Field(
        2, ge=1, description="uploads checked (probed) at once, in their own threads, apart from api_threads"
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="a request body that sends nothing for this long is refused with 408"
    )
    body_min_rate_bps: int = Field(
        1024,
        ge=0,
        description="after body_timeout_s, a body arriving slower than this many bytes/s on average is refused (408)",
    )
    storage_keys: SecretStr | None = Field(
        None,
        description="keyring that encrypts stored uploads: 'id:base64key[,id:base64key...]', the first wraps new "
        "files, all unwrap (`motionscript storage keygen`); unset = the key file, generated on first start",
    )
    storage_key_file: Path | None = Field(None, description="default <data_dir>/storage.keys (when no storage_keys)")

    job_backend: Literal["local", "celery"] = "local"
    workers: int = Field(2, ge=0, description="analysis processes started by `serve` (local backend)")
    redis_url: str = "redis://127.0.0.1:6379/0"
    job_lease_s: float = Field(
        60.0, gt=0, description="a running job whose worker stops renewing this lease is run again"
    )
    job_max_attempts: int = Field(3, ge=1)
    celery_visibility_timeout_s: float = Field(
        300.0, gt=0, description="Redis redelivers an unacknowledged job after this"
    )
    poll_interval_s: float = Field(0.5, gt=0)

    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_backoff_s: float = Field(2.0, gt=0, description="first retry delay; doubles each attempt")
    webhook_allow_networks: list[str] = Field(
        default_factory=list,
        description="networks (CIDR) callbacks may reach although they are not public, e.g. "
        '["10.20.0.0/16"]; by default loopback, private, link-local and reserved addresses are refused',
    )

    @field_validator("webhook_allow_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for spec in v:
            ipaddress.ip_network(spec.strip(), strict=False)  # ValueError names the bad entry
        return v

    pose_backend: Literal["mediapipe", "onnx"] = Field(
        "onnx",
        description="pose runtime: onnx (onnxruntime, MediaPipe's graph in numpy; CPU or GPU) or mediapipe "
        "(Tasks API; searches for people on every frame, about twice the CPU; docs/performance.md)",
    )
    pose_model: str | None = Field(
        None, description="manifest entry; default blazepose_full (mediapipe) or blazepose_full_onnx (onnx)"
    )
    pose_device: Literal["cpu", "cuda"] = Field("cpu", description="onnx only; cuda needs onnxruntime-gpu, else CPU")
    pose_threads: int = Field(1, ge=0, description="onnx only: threads per network run (0 = all cores)")
    pose_people_check_s: float | None = Field(
        0.5,
        gt=0,
        description="onnx only: while someone is tracked, look for more people this often (seconds of "
        "video); unset = on every frame, as MediaPipe does",
    )
    live_people_check_s: float = Field(
        1.0,
        gt=0,
        description="onnx only: how often a live connection looks for more people than it tracks "
        "(a search costs a second network run; rarer searches keep each frame's latency low)",
    )
    live_max_connections: int = Field(
        8, ge=1, description="live WebSocket connections at once (each holds its own pose model, ~50 MB)"
    )
    live_max_connections_per_clinic: int = Field(
        2, ge=1, description="live WebSocket connections one clinic may hold at once (so one cannot take them all)"
    )
    live_idle_timeout_s: float = Field(
        60.0, gt=0, description="a live connection that sends nothing for this long is closed (code 4408)"
    )
    live_record_budget_mb: int = Field(
        4096,
        ge=0,
        description="disk the frame spools of every recording live connection (?record=1) may hold together; "
        "beyond it a connection's recording stops (the session goes on, what it recorded is kept)",
    )
    analysis_processes: int = Field(
        0, ge=0, description="processes that share one video of 10 s or more; 0 = one per core this process may use"
    )
    chunk_runner: Literal["processes", "threads"] = Field(
        "processes",
        description="what reads the parts of one video side by side: processes, or threads of the analysing "
        "process sharing one copy of the models (same landmarks; threads also work in the service's job workers, "
        "and hold less memory while reading, but a 10-minute video's kinematics then set the peak: "
        "docs/performance.md)",
    )
    log_level: str = "INFO"

    # People and links (service/accounts.py, docs/web.md)
    public_url: str | None = Field(
        None,
        description="the address people and patients open (https://clinic.example); links printed by the CLI "
        "and returned by POST /v1/patients/{id}/link start with it (default: the request's own address)",
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="a browser login lasts this long")
    login_link_minutes: float = Field(
        60.0 * 24, gt=0, le=60 * 24 * 14, description="a one-time login link printed by the CLI is valid this long"
    )
    patient_link_days: float = Field(
        14.0, gt=0, le=365, description="default validity of a patient link (POST /v1/patients/{id}/link)"
    )
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Secure flag on the session cookie: auto = when the request came over HTTPS (or a proxy's "
        "X-Forwarded-Proto says so); always behind a TLS-terminating proxy that does not say",
    )

    @property
    def pose_model_name(self) -> str:
        return self.pose_model or {"mediapipe": "blazepose_full", "onnx": "blazepose_full_onnx"}[self.pose_backend]

    def pose_backend_options(self, *, live: bool = False) -> dict[str, object]:
        """Keyword arguments for :func:`vision.backends.load_backend` (``live``: a live connection's model)."""
        if self.pose_backend == "onnx":
            if live:  # each frame's latency first: no every-frame search at the start, rarer searches
                return {
                    "device": self.pose_device,
                    "threads": self.pose_threads,
                    "people_check_s": self.live_people_check_s,
                    "people_check_start_s": 0.0,
                }
            return {
                "device": self.pose_device,
                "threads": self.pose_threads,
                "people_check_s": self.pose_people_check_s,
            }
        return {}

    def backend_factory(self, *, video: bool, live: bool = False, quiet: bool = True):
        """The configured pose backend as a picklable zero-argument factory.

        It names only :func:`vision.backends.load_backend`, so a parallel-extraction worker that
        unpickles it imports the pose runtime and nothing of the service. ``quiet=False`` for a
        server, which must not redirect its own stderr even briefly.
        """
        import functools

        from vision.backends import load_backend

        return functools.partial(
            load_backend,
            self.pose_model_name,
            video=video,
            num_poses=2,
            quiet=quiet,
            **self.pose_backend_options(live=live),
        )

    @property
    def processes_per_video(self) -> int:
        import os

        return self.analysis_processes or len(os.sched_getaffinity(0))

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'motionscript.db').resolve()}"

    @property
    def uploads_path(self) -> Path:
        return (self.uploads_dir or self.data_dir / "uploads").resolve()

    @property
    def storage_key_path(self) -> Path:
        return (self.storage_key_file or self.data_dir / "storage.keys").resolve()

    @property
    def scratch_path(self) -> Path:
        """Short-lived plaintext copies for the decoders (removed after each job)."""
        return (self.data_dir / "scratch").resolve()

    @property
    def api_pool_size(self) -> int:
        """Connections for the API process: one per handler thread, plus the event loop's short
        synchronous moments, authentication and the sweeper (docs/limits.md)."""
        return self.db_pool_size or self.api_threads + 4

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def live_record_budget_bytes(self) -> int:
        return self.live_record_budget_mb * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
