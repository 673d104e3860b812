"""A Slack stand-in on loopback: a workspace, a Web API server recording what users see, Socket Mode, drivers."""

from bot.fakes.slack.api import SlackApiSandbox
from bot.fakes.slack.driver import (
    AckRejected,
    CommandUnavailable,
    Delivery,
    DriverError,
    ElementNotFound,
    SlackDriver,
    SubmissionBlocked,
)
from bot.fakes.slack.errors import WebApiRefusal
from bot.fakes.slack.records import ApiCall, Change, Ephemeral, Fault, Message, MessageVersion, ResponsePost, View
from bot.fakes.slack.socket_driver import SocketModeDriver
from bot.fakes.slack.socket_mode import SocketModeServer
from bot.fakes.slack.validation import validate_blocks, validate_view
from bot.fakes.slack.workspace import Channel, Team, User, Workspace

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
    "SlackApiSandbox",
    "SlackDriver",
    "SocketModeDriver",
    "SocketModeServer",
    "SubmissionBlocked",
    "Team",
    "User",
    "View",
    "WebApiRefusal",
    "Workspace",
    "validate_blocks",
    "validate_view",
]
