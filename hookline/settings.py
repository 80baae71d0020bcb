"""One pydantic-settings root for every Hookline process.

Every value comes from the environment (prefix ``HOOKLINE_``, ``__`` between nested
names, e.g. ``HOOKLINE_KAFKA__BOOTSTRAP_SERVERS``) or an ``.env`` file. Nothing else in
Hookline reads ``os.environ``; secrets are ``SecretStr`` and never appear in a ``repr``.
The sources and connectors files name a secret as ``"secret:<name>"``; its value is
``Settings.secrets[<name>]``, i.e. ``HOOKLINE_SECRETS__<NAME>`` (docs/operations.md,
"Configuration and secrets").
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    client_id: str = Field("hookline", description="Client id prefix sent to the broker.")
    topic_prefix: str = Field(
        "hookline", description="Prefix of every topic name; tests use a unique one each."
    )
    default_partitions: int = Field(6, ge=1, description="Partitions of topics we create.")
    replication_factor: int = Field(
        1, ge=1, description="Replication of topics we create; production: 3."
    )
    min_insync_replicas: int = Field(
        1,
        ge=1,
        description="min.insync.replicas of topics we create: replicas that must have a "
        "record before acks=all succeeds; production: 2 (with replication_factor 3).",
    )
    linger_ms: int = Field(2, ge=0, description="Producer batching delay.")
    lag_interval_seconds: float = Field(
        15.0,
        ge=0,
        description="How often the processors and connectors measure their consumer "
        "groups' lag (hookline_consumer_lag_records); 0 = not measured.",
    )
    delivery_timeout_ms: int = Field(
        30_000, ge=1000, description="How long the producer keeps retrying one record."
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024 * 1024,
        le=64 * 1024 * 1024,
        description="Largest record (key + value + headers) any Hookline client produces or "
        "must read; topics we create take it plus batch framing (max.message.bytes). "
        "Every source's max_body_bytes plus 64 KiB must fit, else the ingress refuses to "
        "start. 8 MiB is the most Confluent Cloud's Basic/Standard clusters allow.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every client talks to the brokers; managed Kafka: SASL_SSL.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)."
    )
    sasl_username: str = Field("", description="SASL user (with SASL_PLAINTEXT or SASL_SSL).")
    sasl_password: SecretStr = Field(SecretStr(""), description="That user's SASL password.")
    ssl_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the brokers' certificates (SSL, "
        "SASL_SSL); unset: the system's trust store.",
    )
    ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate, when the brokers require TLS client auth."
    )
    ssl_key_file: Path | None = Field(None, description="PEM private key of that certificate.")
    ssl_key_password: SecretStr | None = Field(
        None, description="Password of that private key, when it is encrypted."
    )

    @model_validator(mode="after")
    def _security_is_complete(self) -> KafkaSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas cannot exceed replication_factor")
        if self.security_protocol.startswith("SASL_") and not self.sasl_username:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_username")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ValueError("ssl_cert_file and ssl_key_file go together")
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


class PostgresSettings(BaseModel):
    host: str = Field("127.0.0.1", description="PostgreSQL host.")
    port: int = Field(5433, description="PostgreSQL port (the local cluster uses 5433).")
    user: str = Field("hookline", description="Role Hookline connects as.")
    password: SecretStr = Field(SecretStr("hookline"), description="Password of that role.")
    database: str = Field("hookline", description="Database name.")
    pool_min_size: int = Field(1, ge=0, description="Connections kept open.")
    pool_max_size: int = Field(10, ge=1, description="Most connections opened.")
    pool_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a statement waits for a connection before it fails: while "
        "the database is unreachable, how soon a service notices.",
    )

    def conninfo(self) -> str:
        """A libpq connection string (contains the password: never log it)."""
        return (
            f"host={self.host} port={self.port} dbname={self.database} "
            f"user={self.user} password={self.password.get_secret_value()}"
        )


class IngressSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Interface the ingress listens on.")
    port: int = Field(8080, description="Port the ingress listens on.")
    sources_file: Path = Field(
        Path("config/sources.toml"), description="TOML file declaring webhook sources."
    )
    publish_timeout_seconds: float = Field(
        5.0, gt=0, description="Deadline for Kafka to acknowledge a webhook before 503."
    )
    retry_after_seconds: int = Field(5, ge=1, description="Retry-After sent with a 503.")
    default_max_body_bytes: int = Field(1_048_576, ge=1, description="Default body limit.")
    workers: int = Field(1, ge=1, description="Worker processes sharing the port.")
    shutdown_timeout_seconds: float = Field(10.0, gt=0, description="Grace period on SIGTERM.")
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Time a connection has to send a complete request head, counted from "
        "connecting or from the previous response; an idle keep-alive connection is closed "
        "after it too. Providers wait 10-30 s for an answer: keep it well below.",
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Time a request has to send its whole body before a 408."
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Interface of the internal /metrics listener (not public)."
    )
    metrics_port: int = Field(
        6068,
        ge=0,
        description="Port of the internal /metrics listener; worker i of N serves on "
        "metrics_port + i. 0: off. The public port serves only webhooks and health probes.",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Connections one worker holds open; beyond it a new connection is "
        "answered 503 and closed at once. Keep it below the file-descriptor limit (ulimit -n).",
    )


class ProcessorSettings(BaseModel):
    app_id: str = Field(
        "", description="faust application id (consumer group); default {topic_prefix}-processors."
    )
    web_host: str = Field("127.0.0.1", description="Interface of the worker's /metrics.")
    web_port: int = Field(6066, description="Port of the worker's metrics/health endpoint.")
    data_dir: Path = Field(Path(".run/processors"), description="Local table state.")
    dedupe_horizon_seconds: int = Field(
        8 * 24 * 3600, ge=3600, description="How long a seen event ID is remembered."
    )
    store: str = Field("rocksdb://", description="faust table store URL.")
    dedupe_write_buffer_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024 * 1024,
        description="RocksDB write buffer per dedupe partition (two may be full at once): "
        "with the block cache, what bounds the dedupe state's memory.",
    )
    dedupe_block_cache_bytes: int = Field(
        16 * 1024 * 1024, ge=1024 * 1024, description="RocksDB block cache per dedupe partition."
    )
    session_timeout_seconds: float = Field(
        10.0,
        ge=6,
        description="Consumer group session timeout: how soon a dead worker's "
        "partitions move to a live one.",
    )
    instance_id: str = Field(
        "",
        description="Static group membership of this worker (group.instance.id; unique per "
        "worker): a restarted worker takes its partitions and tables back at once, without a "
        "rebalance. Empty: dynamic membership.",
    )


class ConnectorSettings(BaseModel):
    config_file: Path = Field(
        Path("config/connectors.toml"), description="TOML file declaring the connectors."
    )
    instance_id: str = Field(
        "",
        description="Static group membership of this process (group.instance.id suffix): a "
        "restarted instance takes its partitions back at once. Empty: dynamic membership.",
    )
    metrics_host: str = Field("127.0.0.1", description="Interface of /metrics and /healthz.")
    metrics_port: int = Field(6070, ge=0, description="Port of /metrics and /healthz; 0: off.")
    alert_min_interval_seconds: float = Field(
        300.0, ge=0, description="At most one alert of a kind per connector this often."
    )
    shutdown_timeout_seconds: float = Field(
        15.0, gt=0, description="Grace period for the batch in progress on SIGTERM."
    )
    outage_alert_after_seconds: float = Field(
        60.0,
        ge=0,
        description="A connector waiting for PostgreSQL or Kafka this long raises a "
        "dependency_unavailable alert (and dependency_recovered once it runs again); a "
        "shorter outage is only logged and counted.",
    )
    probe_interval_seconds: float = Field(
        0.0,
        ge=0,
        description="Seconds between health probes of each destination's API "
        "(hookline_destination_up), unless a connector sets its own; 0: off (production: 60).",
    )
    digest_at: str = Field(
        "",
        pattern=r"^$|^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time (HH:MM) the daily digest of the previous day goes to the alert "
        "sink, from one instance; empty: no digest sent.",
    )


class AdminSettings(BaseModel):
    """The operators' admin REST API (``hookline admin``, docs/admin-api.md)."""

    host: str = Field("127.0.0.1", description="Interface the admin API listens on.")
    port: int = Field(8081, description="Port the admin API listens on.")
    jwt_secret: SecretStr = Field(
        SecretStr(""),
        description="HMAC key signing the people's access tokens (HS256), at least 32 "
        "bytes of randomness; the service refuses to start without it. Changing it signs "
        "everyone out.",
    )
    access_token_seconds: int = Field(
        900, ge=60, le=3600, description="Lifetime of an access token (JWT)."
    )
    refresh_token_seconds: int = Field(
        7 * 24 * 3600, ge=3600, description="Lifetime of a refresh token (rotated on each use)."
    )
    database_wait_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a request waits for a database connection before it is "
        "answered 503 unavailable (with Retry-After): while PostgreSQL is unreachable, an "
        "operator hears so in seconds (the other services wait postgres.pool_timeout_seconds).",
    )
    index_dead_letters: bool = Field(
        True,
        description="Run the dead-letter indexer (a consumer of every dead-letter topic "
        "of the prefix, writing the table the dead-letters routes read) in this process.",
    )
    indexer_group_id: str = Field(
        "", description="Consumer group of the indexer; default {topic_prefix}-admin-indexer."
    )
    payload_max_bytes: int = Field(
        256 * 1024,
        ge=1024,
        description="Longest dead-letter payload kept in the index (longer ones are cut "
        "and flagged; replay always reads the full record from Kafka).",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted (else 413)."
    )
    rate_per_second: float = Field(
        20.0,
        gt=0,
        description="Requests per second each client may make (an API key, a user, or an "
        "address for sign-in), refilling a bucket of rate_burst; over it: 429 + Retry-After. "
        "Counted in memory per admin process.",
    )
    rate_burst: int = Field(60, ge=1, description="Requests a client may make at once.")
    ingress_metrics_urls: list[str] = Field(
        default_factory=list,
        description="Each ingress worker's internal /metrics URL (worker i of N: "
        "http://{ingress.metrics_host}:{ingress.metrics_port + i}/metrics), sampled for the "
        "sources' accepted/rejected counts; empty: counts not reported. JSON list in env.",
    )
    ingress_scrape_seconds: float = Field(
        15.0, gt=0, description="Seconds between samples of the ingress workers' /metrics."
    )


class PollerSettings(BaseModel):
    config_file: Path = Field(
        Path("config/pollers.toml"), description="TOML file declaring the polled sources."
    )
    instance_id: str = Field(
        "", description="This instance's name in the poll leases; empty: host name and PID."
    )
    backfill_reserve_share: float = Field(
        0.5,
        ge=0,
        lt=1,
        description="Share of a vendor's rate bucket a backfill leaves to live traffic: it "
        "takes a token only while this share of the burst stays in the bucket.",
    )
    metrics_host: str = Field("127.0.0.1", description="Address of the pollers' /metrics.")
    metrics_port: int = Field(
        6071, ge=0, description="Port of the scheduled pollers' /metrics (not backfill); 0: off."
    )


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Level.")
    format: Literal["json", "console"] = Field("json", description="Output format.")


class TracingSettings(BaseModel):
    """W3C trace context always travels with a webhook (hookline/tracing.py); spans are
    exported only when an OTLP endpoint is set (needs the optional ``tracing`` extra)."""

    otlp_endpoint: str = Field(
        "",
        description="OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces; empty: spans "
        "are not exported and the OpenTelemetry SDK is not even imported.",
    )
    sample_ratio: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of new traces exported; a continued trace follows its parent's "
        "sampled flag. Only with otlp_endpoint.",
    )
    export_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait for the OTLP endpoint per export batch."
    )


class Settings(BaseSettings):
    """The root. Build it once in ``main()`` and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="HOOKLINE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    processors: ProcessorSettings = Field(default_factory=ProcessorSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)
    pollers: PollerSettings = Field(default_factory=PollerSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Every secret the sources and connectors files name as 'secret:<name>' "
        "(names are lower-cased); set each as HOOKLINE_SECRETS__<NAME>, in the environment "
        "or in .env.",
    )
