"""Configuration from the environment (prefix ``AVOWAL_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from avowal import project

EXAMPLE_POLICY = Path("examples/contactmonkey-2017/policy.yaml")


class ProjectSettings(PydanticBaseSettingsSource):
    """The settings of the project in use (``avowal.toml``, see :mod:`avowal.project`)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # read whole in __call__

    def __call__(self) -> dict[str, Any]:
        config = project.find()
        if config is None:
            return {}
        return project.read(config, self.settings_cls.model_fields)


class Settings(BaseSettings):
    """Where avowal keeps its data and which policy it enforces: the environment (``AVOWAL_``)
    over the project's ``avowal.toml`` over the defaults."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            ProjectSettings(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    # A refusal never repeats the value given: it may hold a password (AVOWAL_ANALYTICS_URL...).
    model_config = SettingsConfigDict(
        env_prefix="AVOWAL_", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = Field(
        "development",
        description="Run mode; production refuses insecure defaults.",
    )
    data_dir: Path = Field(
        Path(".avowal"),
        description="Folder for the embedded SQLite database, keys and the mail outbox.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; defaults to SQLite in the data folder.",
    )
    policy_file: Path = Field(
        EXAMPLE_POLICY,
        description="The machine-readable privacy policy (YAML) this instance enforces.",
    )
    sql_echo: bool = Field(False, description="Log every SQL statement (development only).")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="How `avowal serve` writes its log: plain text lines, or one JSON object a "
        "line (time, level, logger, message; route, method, status, duration and request id).",
    )
    demo: bool = Field(
        False,
        description="Serve the demo site at /demo/ (development only; `make run` turns it on): "
        "forms of the policy's collection points sent through avowal's client with a service "
        "token it makes in the data folder.",
    )
    master_key_file: Path | None = Field(
        None,
        description="Master keyring wrapping every person's data key; a development keyring is "
        "generated in the data folder when unset (refused in production).",
    )
    index_key_file: Path | None = Field(
        None, description="Key of the blind indexes and keyed hashes; generated when unset."
    )
    signing_key_file: Path | None = Field(
        None,
        description="Ed25519 key signing receipts and audit checkpoints; generated when unset.",
    )
    checkpoint_dir: Path | None = Field(
        None, description="Folder, outside the database, for signed audit-chain checkpoints."
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest request body accepted (413 above it)."
    )

    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The address people reach this server at; every link and redirect is built "
        "from it, never from a request's Host header (https:// required in production).",
    )
    allowed_hosts: list[str] = Field(
        [],
        description="Host names answered besides the public URL's (exact, or `*.example.com`); "
        "requests for any other host get 400 unknown_host. Outside production localhost, "
        "127.0.0.1, ::1 and testserver are answered too.",
    )
    consent_origins: list[str] = Field(
        [],
        description="Origins (`https://shop.example.com`) whose pages may send cookie choices "
        "to /v1/consents/cookies, besides the policy's analytics sites and the public URL's.",
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed.",
    )
    tls_cert_file: Path | None = Field(None, description="Certificate for `avowal serve` TLS.")
    tls_key_file: Path | None = Field(None, description="Private key for `avowal serve` TLS.")
    session_idle_minutes: int = Field(
        30, ge=1, le=1440, description="A staff session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        12, ge=1, le=168, description="A staff session ends this long after sign-in, whatever."
    )
    enrolment_hours: int = Field(72, ge=1, le=720, description="Lifetime of an enrolment link.")
    login_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-ins for one account from one address before back-off starts "
        "(for that account from that address only).",
    )
    login_account_max_failures: int = Field(
        50,
        ge=1,
        le=10000,
        description="Failed sign-ins for one account from all addresses before it backs off "
        "everywhere (a ceiling against guessing from many addresses).",
    )
    login_address_max_accounts: int = Field(
        20,
        ge=1,
        le=10000,
        description="Accounts failing to sign in from one address before that address backs off "
        "for every account (a ceiling against trying one password on many accounts).",
    )
    login_window_minutes: int = Field(
        60, ge=1, le=1440, description="Failed sign-ins older than this are forgotten."
    )
    lockout_minutes: int = Field(
        1, ge=1, le=1440, description="First back-off; each further failure doubles it."
    )
    lockout_max_minutes: int = Field(
        15, ge=1, le=1440, description="Longest back-off: the doubling stops here."
    )

    geoip_file: Path | None = Field(
        None, description="A local MaxMind-format country database; without it no country is kept."
    )
    analytics_visit_minutes: int = Field(
        30, ge=1, le=240, description="A visit ends after this long without a page view."
    )
    analytics_rollup_seconds: int = Field(
        60, ge=1, le=3600, description="How often the in-process worker refreshes rollups."
    )
    analytics_filter_budget_seconds: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Most seconds a filtered dashboard request spends computing days from raw "
        "events before it answers 503 (the days computed are kept; ask again).",
    )
    analytics_sample_visits: int = Field(
        250_000,
        ge=0,
        description="On ClickHouse, a filtered dashboard view whose range has more visits than "
        "this is estimated from a sample of the visitors, about this many visits, so that it "
        "answers as fast at any size (exact=true asks for exact figures; the Stats API is always "
        "exact). 0: never sample.",
    )
    analytics_max_batch: int = Field(
        500, ge=1, le=10000, description="Most events committed in one ingest transaction."
    )
    analytics_writer: Literal["auto", "process", "thread"] = Field(
        "auto",
        description="Where a server writes its ingest's group commits: `process`, a process of "
        "its own (more events per second: the database work no longer competes with the event "
        "loop for Python's lock); `thread`, a thread of the server; `auto`, a process except in "
        "the test mode.",
    )

    analytics_url: SecretStr | None = Field(
        None,
        description="Keep analytics events in ClickHouse instead of the database: "
        "`clickhouse://user:password@host:8123/database`, `clickhouses://` or `https://` for "
        "TLS, or `chdb:///folder?database=name` for ClickHouse's engine embedded in one process "
        "(docs/analytics.md). Unset: events stay in the database with everything else.",
    )

    policy_refresh_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="How often a server looks for newly published policy versions (0: on every "
        "request). A version switches in at its effective time whatever this says, once seen.",
    )
    evidence_cache_seconds: int = Field(
        300, ge=0, le=86400, description="How long the page's evidence lines are reused."
    )

    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token a Prometheus scraper sends to GET /metrics; without it /metrics "
        "answers 404 (the figures are operational, never personal).",
    )

    # -- mail ---------------------------------------------------------------------------------
    mail_transport: Literal["auto", "smtp", "files", "none"] = Field(
        "auto",
        description="Where mail goes: smtp (AVOWAL_SMTP_HOST), files (`.eml` files in the data "
        "folder's outbox), none (mail is not configured: promises needing it are not kept). "
        "auto: smtp when a host is set, else files outside production and none in production.",
    )
    mail_from: str = Field(
        "avowal@localhost",
        description="The From address of every message (production needs a real one).",
    )
    smtp_host: str | None = Field(None, description="SMTP server host name.")
    smtp_port: int | None = Field(
        None, ge=1, le=65535, description="SMTP port; 587 for starttls, 465 for tls, 25 for none."
    )
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls (upgrade a plain connection), tls (implicit TLS from the start) or "
        "none (plain text; refused in production).",
    )
    smtp_username: str | None = Field(None, description="SMTP user name, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_timeout_seconds: float = Field(
        30.0, gt=0, le=300, description="Give up on one SMTP conversation after this long."
    )
    smtp_ca_file: Path | None = Field(
        None, description="CA bundle to verify the SMTP server with (default: the system's)."
    )
    mail_max_attempts: int = Field(
        8, ge=1, le=50, description="Delivery attempts before a message is finally failed."
    )
    mail_retry_seconds: int = Field(
        60, ge=1, le=86400, description="First retry delay; each further retry doubles it."
    )
    mail_interval_seconds: float = Field(
        5.0, gt=0, le=3600, description="How often the in-process mail worker looks for mail."
    )
    worker_stale_seconds: float = Field(
        300.0,
        gt=0,
        le=86400,
        description="/readyz answers 503 `worker_not_ready` when a job of `avowal worker` last "
        "beat longer ago than its interval plus this many seconds. Checked only where the worker "
        "runs apart (PostgreSQL); an embedded (SQLite) server does that work itself.",
    )

    @property
    def mail_outbox_path(self) -> Path:
        """Return the folder of `.eml` copies (the embedded default's outbox)."""
        return self.data_dir / "outbox"

    @property
    def effective_mail_transport(self) -> Literal["smtp", "files", "none"]:
        """Return where mail actually goes (resolving ``auto``)."""
        if self.mail_transport != "auto":
            return self.mail_transport
        if self.smtp_host:
            return "smtp"
        return "none" if self.env == "production" else "files"

    @property
    def master_key_path(self) -> Path:
        """Return the master keyring file in use."""
        return self.master_key_file or self.data_dir / "keys" / "master.json"

    @property
    def index_key_path(self) -> Path:
        """Return the blind-index key file in use."""
        return self.index_key_file or self.data_dir / "keys" / "index.key"

    @property
    def signing_key_path(self) -> Path:
        """Return the signing key file in use."""
        return self.signing_key_file or self.data_dir / "keys" / "signing.pem"

    @property
    def checkpoint_path(self) -> Path:
        """Return the folder of audit checkpoints."""
        return self.checkpoint_dir or self.data_dir / "checkpoints"

    @field_validator("analytics_url")
    @classmethod
    def _analytics_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        from avowal.analytics.clickhouse import connection

        connection.parse(value.get_secret_value())  # raises, naming what is wrong with it
        return value

    @property
    def effective_database_url(self) -> str:
        """Return the configured database URL or the embedded SQLite default."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'avowal.sqlite3').resolve()}"


def get_settings() -> Settings:
    """Read settings from the environment."""
    return Settings()
