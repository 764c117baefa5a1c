"""Deployment settings: `SPECTRA_` environment variables, then an optional TOML config file.

Workspace settings (currency, time zone, thresholds) live in the database, not here.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path | None:
    raw = os.environ.get("SPECTRA_CONFIG")
    if raw:
        return Path(raw)
    data_dir = Path(os.environ.get("SPECTRA_DATA_DIR", ".spectra"))
    candidate = data_dir / "spectra.toml"
    return candidate if candidate.exists() else None


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECTRA_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".spectra"), description="Where the SQLite database and the secret key live."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite in the data directory."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for hot-path state shared by several processes (holds, limits, affinity).",
    )
    redis_prefix: str = Field(
        default="spectra:", description="Prefix of every Redis key (one per installation)."
    )
    host: str = "127.0.0.1"
    port: int = 8080
    behind_proxy: bool = Field(
        default=False,
        description="A reverse proxy bounds slow clients (header and body read timeouts); "
        "needed to listen on a non-loopback address (see docs/deployment.md).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; default none (the TCP peer is the client).",
    )
    workers: int = 1
    server: Literal["uvicorn", "granian"] = Field(
        default="uvicorn",
        description="HTTP server of `spectra serve`; granian needs `pip install "
        "'spectra[granian]'` (see docs/deployment.md).",
    )
    public_url: str | None = Field(
        default=None, description="How people reach this server (links, snippets)."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret (base64 or hex); default: generated into the data directory.",
    )
    secret_key_file: Path | None = None
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password when the workspace setting smtp_password is none."
    )
    auto_migrate: bool = True
    log_level: str = "INFO"
    log_json: bool = False
    change_poll_interval: float = 0.5
    commit_max_delay: float = 0.02
    commit_max_batch: int = 500
    commit_max_queue: int = Field(
        default=10_000,
        description="Settlements the group committer may hold uncommitted; at this depth the "
        "gateway admits new requests only as the backlog drains (the crash window bound).",
    )
    settlement_journal: bool = Field(
        default=True,
        description="Write each settlement to a local journal file (in the data directory) "
        "before the answer's last byte, replayed at start: a killed process loses no charge.",
    )
    journal_fsync_interval: float = Field(
        default=1.0,
        description="Seconds between fsyncs of the settlement journal (the power-loss window).",
    )
    access_log: str = Field(
        default="stderr",
        description="Gateway access log, one JSON line per request: `stderr`, `stdout`, a file "
        "path (appended to), or `off`.",
    )
    otel: bool = Field(
        default=False,
        description="Export OpenTelemetry traces of gateway requests (OTLP over HTTP; the "
        "standard OTEL_EXPORTER_OTLP_* variables configure the exporter). Needs spectra[otel].",
    )
    commit_backlog_wait: float = Field(
        default=2.0,
        description="Longest a request waits for the settlement backlog to drain below "
        "SPECTRA_COMMIT_MAX_QUEUE before it is refused 503 settlement_backlog, s.",
    )
    lease_ttl_seconds: float = 15.0
    audit_anchor_interval: float = Field(
        default=300.0,
        gt=0,
        description="How often the audit chain's head is anchored outside the database, s "
        "(only when it moved; also on serve shutdown and after `spectra audit verify`).",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="The append-only log of signed audit anchors; default "
        "audit-anchors.jsonl in the data directory.",
    )
    session_ttl_hours: int = 12
    cookie_secure: bool | None = None
    gateway_max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        description="Largest request body the gateway accepts (after decompression), bytes.",
    )
    gateway_connect_timeout: float = Field(default=10.0, description="Upstream connect timeout, s.")
    gateway_first_byte_timeout: float = Field(
        default=300.0, description="Upstream response-headers timeout (includes connect), s."
    )
    gateway_idle_timeout: float = Field(
        default=300.0, description="Longest wait for the next upstream body chunk, s."
    )
    gateway_max_attempts: int = Field(
        default=3, description="Accounts tried per request before the first byte (failover)."
    )
    gateway_shutdown_grace: float = Field(
        default=30.0, description="On shutdown, how long open streams may run on, s."
    )
    gateway_key_rpm: int | None = Field(default=None, description="Requests/min per member key.")
    gateway_key_tpm: int | None = Field(default=None, description="Tokens/min per member key.")
    gateway_key_concurrency: int | None = Field(default=None, description="Open requests per key.")
    gateway_user_rpm: int | None = Field(default=None, description="Requests/min per member.")
    gateway_user_tpm: int | None = Field(default=None, description="Tokens/min per member.")
    gateway_user_concurrency: int | None = Field(
        default=None, description="Open requests per member."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"SPECTRA_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR range"
                ) from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)

    @field_validator("change_poll_interval")
    @classmethod
    def _poll_bound(cls, value: float) -> float:
        return max(0.05, min(value, 0.5))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'spectra.db').resolve()}"

    @property
    def resolved_secret_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def resolved_audit_anchor_file(self) -> Path:
        return self.audit_anchor_file or self.data_dir / "audit-anchors.jsonl"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def public_base(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings(**overrides: Any) -> Settings:
    """Forget cached settings (tests and the CLI's global options)."""
    get_settings.cache_clear()
    for key, value in overrides.items():
        os.environ[f"SPECTRA_{key.upper()}"] = str(value)
    return get_settings()


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)
