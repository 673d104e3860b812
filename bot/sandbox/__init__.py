"""A Slack stand-in on loopback: a workspace model, a Web API server that records what users see, and a driver."""

from bot.sandbox.api import SlackApiSandbox
from bot.sandbox.driver import (
    AckRejected,
    CommandUnavailable,
    Delivery,
    DriverError,
    ElementNotFound,
    SlackDriver,
    SubmissionBlocked,
)
from bot.sandbox.errors import SlackApiError
from bot.sandbox.records import ApiCall, Change, Ephemeral, Fault, Message, MessageVersion, ResponsePost, View
from bot.sandbox.validation import validate_blocks, validate_view
from bot.sandbox.workspace import Channel, Team, User, Workspace

__all__ = [
    "AckRejected",
    "ApiCall",
    "Change",
    "Channel",
    "CommandUnavailable",
    "Delivery",
    "DriverError",
    "ElementNotFound",
    "Ephemeral",
    "Fault",
    "Message",
    "MessageVersion",
    "ResponsePost",
    "SlackApiError",
    "SlackApiSandbox",
    "SlackDriver",
    "SubmissionBlocked",
    "Team",
    "User",
    "View",
    "Workspace",
    "validate_blocks",
    "validate_view",
]
