"""Settings from the environment (the only reader of it): one class per section, secrets as ``SecretStr``."""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypeVar

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.handoff import MIN_HANDOFF_SECRET_BYTES, private_address
from bot.core.hours import SupportHours, parse_hours
from bot.core.oncall import mentions

Mode = Literal["http", "socket", "teams-only", "playground", "check-key"]

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Namespace of the Teams app id derived from the bot's client id when TEAMS_APP_ID is not set.
_APP_ID_NAMESPACE = uuid.UUID("5d0b7c1e-3f0a-4c55-9d1e-a1de05e00001")


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line naming it."""


class _Section(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class SlackSettings(_Section):
    """How the bot talks to Slack."""

    model_config = SettingsConfigDict(env_prefix="SLACK_")

    bot_token: SecretStr | None = Field(None, description="Bot user OAuth token (xoxb-…) of Aldense's install.")
    signing_secret: SecretStr | None = Field(None, description="Signing secret that verifies requests from Slack.")
    app_token: SecretStr | None = Field(None, description="App-level token (xapp-…); Socket Mode only.")
    api_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://slack.com/api/"),
        description="Slack Web API base URL; point it at a Slack-compatible server for tests.",
    )

    @field_validator("bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value


class SupportSettings(_Section):
    """Where Aldense's support team is told what happens."""

    model_config = SettingsConfigDict(env_prefix="ALDENSE_")

    onboarding_channel: str | None = Field(
        None, pattern=r"^[CG][A-Z0-9]{2,}$", description="Channel id of Aldense's internal onboarding channel."
    )
    handoff_url: AnyHttpUrl | None = Field(
        None, description="Optional https URL that receives each verified key (never a private or loopback address)."
    )
    handoff_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 secret that signs hand-off requests; at least 32 bytes."
    )
    handoff_allow_private: bool = Field(
        False,
        description="UNSAFE outside tests and development: allow an http hand-off URL on a private address.",
    )

    @model_validator(mode="after")
    def _handoff_is_safe(self) -> SupportSettings:
        if self.handoff_url is None:
            return self
        if self.handoff_secret is None:
            raise ValueError("ALDENSE_HANDOFF_SECRET is required when ALDENSE_HANDOFF_URL is set")
        if len(self.handoff_secret.get_secret_value().encode()) < MIN_HANDOFF_SECRET_BYTES:
            raise ValueError(f"ALDENSE_HANDOFF_SECRET must be at least {MIN_HANDOFF_SECRET_BYTES} bytes")
        if not self.handoff_allow_private:
            if self.handoff_url.scheme != "https":
                raise ValueError("ALDENSE_HANDOFF_URL must be https (or set ALDENSE_HANDOFF_ALLOW_PRIVATE for tests)")
            refused = private_address(self.handoff_url.host or "")
            if refused:
                raise ValueError(f"ALDENSE_HANDOFF_URL points at a {refused} address; keys never go there")
        return self

    support_card_seconds: float = Field(
        5.0,
        ge=0,
        le=600,
        description="A clinic's status card is refreshed at most once this often: the changes in between fold into "
        "one refresh showing the latest.",
    )
    outbound_budgets: bool = Field(
        True,
        description="Spend Slack's and Teams' published rate limits in priority order (clinics first). Turn off only "
        "against a stand-in without limits; 429s are honoured either way.",
    )
    outbound_share: float = Field(
        1.0,
        gt=0,
        le=1,
        description="The part of each platform budget one replica spends: 1 / the number of replicas (0.5 for two).",
    )
    support_mention: str | None = Field(
        None,
        description="Who a request for help pages: comma-separated Slack user-group ids (S…) and user ids (U…/W…).",
    )
    support_hours: str | None = Field(
        None, description="Support's hours, told to a clinic asking for help, e.g. 'Mon-Fri 09:00-17:30 Europe/London'."
    )
    support_expected_wait_minutes: int | None = Field(
        None, gt=0, le=7 * 24 * 60, description="How soon someone usually answers a request for help, in minutes."
    )
    support_step_posts: bool = Field(
        False, description="Also post each finished step in the clinic's support thread (the card shows them anyway)."
    )

    @field_validator("support_mention")
    @classmethod
    def _mention_ids(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        mentions(value)  # refuses anything but Slack user-group and user ids
        return value

    @field_validator("support_hours")
    @classmethod
    def _hours_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_hours(value)
        return value

    @property
    def hours(self) -> SupportHours | None:
        """``support_hours`` parsed (validated when the settings were read)."""
        return parse_hours(self.support_hours) if self.support_hours else None

    @property
    def mention(self) -> str:
        """``support_mention`` as Slack mention text (``<!subteam^S…> <@U…>``), or empty."""
        return mentions(self.support_mention) if self.support_mention else ""


class DentallySettings(_Section):
    """How keys are checked with Dentally."""

    model_config = SettingsConfigDict(env_prefix="DENTALLY_")

    api_url: str | None = Field(
        None, description="Overrides every region's API base URL (tests, playground); may contain {region}."
    )
    regions: str = Field("uk,au,ca", description="Comma-separated regions that 'Not sure — detect it' tries.")


class TeamsSettings(_Section):
    """How the bot talks to Microsoft Teams; Teams is served when all three credentials are set."""

    model_config = SettingsConfigDict(env_prefix="TEAMS_")

    client_id: str | None = Field(
        None, pattern=_GUID, description="Application (client) id of the bot's Entra app registration."
    )
    client_secret: SecretStr | None = Field(None, description="Client secret of that app registration.")
    tenant_id: str | None = Field(
        None, pattern=_GUID, description="Aldense's own Entra tenant id: its users are staff, every other is a clinic."
    )
    app_id: str | None = Field(
        None, pattern=_GUID, description="Teams app id in the package manifest; derived from the client id if unset."
    )
    service_url: AnyHttpUrl = Field(
        AnyHttpUrl("https://smba.trafficmanager.net/teams/"),
        description="Bot Connector base URL for messages sent before Teams has told us a conversation's own.",
    )

    @property
    def configured(self) -> bool:
        """Whether the client id, secret and tenant are all set."""
        return None not in (self.client_id, self.client_secret, self.tenant_id)

    @property
    def partly_configured(self) -> bool:
        """Whether some but not all of the three credentials are set (a mistake)."""
        return not self.configured and any(v is not None for v in (self.client_id, self.client_secret, self.tenant_id))

    @property
    def manifest_id(self) -> str | None:
        """The Teams app id: ``TEAMS_APP_ID``, else a fixed id derived from the client id."""
        if self.app_id:
            return self.app_id
        return str(uuid.uuid5(_APP_ID_NAMESPACE, self.client_id)) if self.client_id else None


class ServerSettings(_Section):
    """Where state lives and how the process serves HTTP."""

    state_url: str = Field(
        "sqlite:///aldense-guide.sqlite3",
        pattern=r"^(sqlite:///|redis://|rediss://|unix://|redis\+cluster://|rediss\+cluster://|redis\+sentinel://)",
        # It may hold the Redis password: never shown in reprs or logs.
        repr=False,
        description=(
            "State store: sqlite:///path (one replica), or Redis for many replicas: redis://host:port/db, "
            "rediss://…[?ssl_ca_certs=/path/ca.pem] (TLS, certificate checked), redis+cluster://host:port "
            "(any node of a Redis Cluster; rediss+cluster:// with TLS), or "
            "redis+sentinel://host1:port1,host2:port2/service_name[/db][?sentinel_password=…]."
        ),
    )
    public_base_url: AnyHttpUrl | None = Field(
        None, description="Public HTTPS base where Slack fetches step pictures (/guide-assets/… is appended)."
    )
    port: int = Field(3000, ge=1, le=65535, description="HTTP port of `aldense-guide run`.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of our code.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text (for people) or one JSON object per line (for a log platform)."
    )
    http_header_seconds: float = Field(
        10, gt=0, le=300, description="A request's whole header must arrive within this long, or it gets 408."
    )
    http_body_seconds: float = Field(
        10, gt=0, le=300, description="A request's whole body must arrive within this long of its header, or 408."
    )
    http_open_bodies: int = Field(
        32,
        ge=1,
        le=10000,
        description="At most this many bodies arrive at once (unchecked: signatures need the whole body); "
        "over it, the oldest unfinished one is cut with 408.",
    )
    http_keepalive_seconds: int = Field(
        5, ge=1, le=3600, description="An idle keep-alive connection is closed after this long."
    )
    http_requests_per_connection: int = Field(
        1000, ge=1, description="A keep-alive connection is closed after serving this many requests."
    )
    key_encryption_keys: SecretStr | None = Field(
        None, description="Fernet keys, comma-separated, newest first; without them no key is accepted."
    )
    kickoff_on_join: bool = Field(True, description="Post the kick-off when a clinic member joins a shared channel.")
    guide_path: str | None = Field(None, description="Guide file to use instead of the built-in Dentally guide.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class FollowUpSettings(_Section):
    """Reminders for quiet guides and keep-alive calls for stored keys."""

    nudge_after_hours: float = Field(24, gt=0, description="A guide quiet this long gets a friendly reminder.")
    nudge_max: int = Field(2, ge=0, le=10, description="At most this many reminders per guide.")
    keepalive_days: float = Field(
        7,
        gt=0,
        lt=14,
        description="Call Dentally with each stored key this often (Dentally expires keys unused 14 days).",
    )
    outbox_retry_seconds: float = Field(
        30, gt=0, description="Slack work left unfinished (a replica died, Slack was down) is retried after this long."
    )
    due_work_interval_seconds: float = Field(
        15, gt=0, description="How often each replica looks for due reminders, keep-alives and unfinished work."
    )
    retention_days: float = Field(
        180,
        gt=0,
        description="Abandoned or idle guides quiet this long are erased, and so is a clinic left with no guide and "
        "no stored key.",
    )


class Settings:
    """Every section, built once by the composition root."""

    def __init__(
        self,
        slack: SlackSettings,
        support: SupportSettings,
        dentally: DentallySettings,
        server: ServerSettings,
        follow_up: FollowUpSettings,
        teams: TeamsSettings | None = None,
    ) -> None:
        self.slack = slack
        self.support = support
        self.dentally = dentally
        self.server = server
        self.follow_up = follow_up
        self.teams = teams or TeamsSettings()

    def __repr__(self) -> str:
        return f"Settings(slack={self.slack!r}, support={self.support!r}, server={self.server!r}, teams={self.teams!r})"


_REQUIRED: dict[Mode, tuple[tuple[str, str, str], ...]] = {
    "http": (
        ("slack", "bot_token", "SLACK_BOT_TOKEN"),
        ("slack", "signing_secret", "SLACK_SIGNING_SECRET"),
        ("support", "onboarding_channel", "ALDENSE_ONBOARDING_CHANNEL"),
    ),
    "socket": (
        ("slack", "bot_token", "SLACK_BOT_TOKEN"),
        ("slack", "app_token", "SLACK_APP_TOKEN"),
        ("support", "onboarding_channel", "ALDENSE_ONBOARDING_CHANNEL"),
    ),
    "teams-only": (
        ("teams", "client_id", "TEAMS_CLIENT_ID"),
        ("teams", "client_secret", "TEAMS_CLIENT_SECRET"),
        ("teams", "tenant_id", "TEAMS_TENANT_ID"),
    ),
    "playground": (),
    "check-key": (),
}

_PREFIXES = {
    "slack": "SLACK_",
    "support": "ALDENSE_",
    "dentally": "DENTALLY_",
    "server": "",
    "follow_up": "",
    "teams": "TEAMS_",
}


def load_settings(mode: Mode, **overrides: Any) -> Settings:
    """Read the environment and check what ``mode`` needs.

    Args:
        mode: What the process is about to do; decides which settings are required.
        overrides: Values that win over the environment, as ``section__field=value`` (used by the playground).

    Raises:
        SettingsError: One line naming the first missing or malformed setting.
    """
    settings = Settings(
        slack=_build(SlackSettings, "slack", overrides),
        support=_build(SupportSettings, "support", overrides),
        dentally=_build(DentallySettings, "dentally", overrides),
        server=_build(ServerSettings, "server", overrides),
        follow_up=_build(FollowUpSettings, "follow_up", overrides),
        teams=_build(TeamsSettings, "teams", overrides),
    )
    for section_name, field, env_name in _REQUIRED[mode]:
        if getattr(getattr(settings, section_name), field) is None:
            raise SettingsError(f"{env_name} is required for this command but is not set")
    if mode in ("http", "socket", "teams-only") and settings.teams.partly_configured:
        raise SettingsError(
            "TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID go together: set all three or none"
        )
    return settings


_S = TypeVar("_S", bound=_Section)


def _build(section: type[_S], name: str, overrides: dict[str, Any]) -> _S:
    given = {key.split("__", 1)[1]: value for key, value in overrides.items() if key.startswith(name + "__")}
    try:
        return section(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        raise SettingsError(f"{_PREFIXES[name]}{field.upper()}: {error['msg']}") from None
