"""The Web API methods the sandbox answers: parameters in, Slack's answer (or its refusal) out, changes to the state."""

from __future__ import annotations

from collections.abc import Callable

from bot.fakes.slack.errors import WebApiRefusal, invalid_blocks, invalid_view
from bot.fakes.slack.ids import with_ids
from bot.fakes.slack.params import Params
from bot.fakes.slack.records import JSON, Message, Trigger, View
from bot.fakes.slack.state import State
from bot.fakes.slack.validation import image_urls, validate_blocks, validate_view
from bot.fakes.slack.workspace import Channel, User

MAX_TEXT = 40_000
MAX_VIEW_STACK = 3

Handler = Callable[[Params], JSON]


class WebApi:
    """Slack's Web API methods over the sandbox's state; :attr:`handlers` maps a method name to its handler.

    A handler returns the answer's fields besides ``ok: true``, or raises :class:`WebApiRefusal`.

    Args:
        state: What the sandbox remembers.
        trigger_ttl: Seconds a trigger_id stays usable (Slack: 3).
        strict_threads: Refuse ``thread_ts`` of a missing message with ``thread_not_found`` (Slack posts anyway).

    ``images_fail`` makes every message carrying an ``image_url`` fail as Slack's does when it cannot fetch the
    picture (python-slack-sdk#1782: sometimes even for reachable images).
    """

    def __init__(self, state: State, *, trigger_ttl: float, strict_threads: bool) -> None:
        self.state = state
        self.images_fail = False
        self.trigger_ttl = trigger_ttl
        self.strict_threads = strict_threads
        self.handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "users.info": self._users_info,
            "team.info": self._team_info,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # -- reading parameters ------------------------------------------------------------------------------------

    def _channel(self, p: Params, name: str = "channel") -> Channel:
        key = p.text(name)
        if key is None:
            raise WebApiRefusal("channel_not_found")
        if key.startswith(("U", "W")) and key in self.state.workspace.users:
            return self.state.workspace.im_channel(key)  # posting to a user id means their DM with the bot
        channel = self.state.workspace.find_channel(key)
        if channel is None or (channel.is_private and self.state.workspace.bot_user_id not in channel.members):
            raise WebApiRefusal("channel_not_found")
        return channel

    def _user(self, user_id: str | None) -> User:
        if user_id is None or user_id not in self.state.workspace.users:
            raise WebApiRefusal("user_not_found")
        return self.state.workspace.users[user_id]

    def _content(self, p: Params, *, required: bool) -> tuple[str | None, list[JSON] | None]:
        text = p.text("text")
        blocks = p.decoded("blocks", "invalid_blocks_format")
        if blocks is not None:
            errors = validate_blocks(blocks)
            if not errors and self.images_fail:
                errors = [f"downloading image failed [json-pointer:{where}]" for where, _ in image_urls(blocks)]
            if errors:
                raise invalid_blocks(errors)
        if required and not text and not blocks and not p.text("attachments"):
            raise WebApiRefusal("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise WebApiRefusal("msg_too_long")
        return text, blocks

    def _thread(self, channel: Channel, thread_ts: str | None, warnings: list[str]) -> str | None:
        if thread_ts is None:
            return None
        parent = self.state.messages.get(channel.id, {}).get(thread_ts)
        if parent is None or parent.deleted:
            if self.strict_threads:
                raise WebApiRefusal("thread_not_found")
            warnings.append("thread_parent_not_found")
            return thread_ts
        if parent.is_reply:
            warnings.append("thread_ts_is_a_reply")  # Slack files it under the reply's own parent
            return parent.thread_ts
        return thread_ts

    def _bot_message(self, p: Params, channel: Channel, text: str | None, blocks: list[JSON] | None) -> Message:
        ws = self.state.workspace
        ts = self.state.next_ts()
        metadata = p.decoded("metadata", "invalid_metadata_format")
        return Message(
            channel.id,
            ts,
            ws.bot_user_id,
            ws.installing_team_id,
            text or "",
            with_ids(blocks or [], f"{channel.id}:{ts}"),
            bot_id=ws.bot.bot_id,
            app_id=ws.app_id,
            thread_ts=self._thread(channel, p.text("thread_ts"), p.warnings),
            metadata=metadata if isinstance(metadata, dict) else None,
            reply_broadcast=p.flag("reply_broadcast"),
        )

    def _live_message(self, channel: Channel, ts: str | None) -> Message:
        message = self.state.messages.get(channel.id, {}).get(ts or "")
        if message is None or message.deleted:
            raise WebApiRefusal("message_not_found")
        return message

    def _claim_trigger(self, p: Params) -> Trigger:
        trigger_id = p.text("trigger_id") or p.text("interactivity_pointer")
        trigger = self.state.triggers.get(trigger_id or "")
        if trigger is None:
            raise WebApiRefusal("invalid_trigger_id")
        if trigger.used:
            raise WebApiRefusal("exchanged_trigger_id")
        if self.state.clock() - trigger.issued > self.trigger_ttl:
            raise WebApiRefusal("expired_trigger_id")
        trigger.used = True
        return trigger

    def _view_param(self, p: Params, *, kind: str) -> JSON:
        view = p.decoded("view", "invalid_arguments")
        errors = validate_view(view)
        if not errors and view.get("type") != kind:
            errors = [f"must be {kind} [json-pointer:/view/type]"]
        if errors:
            raise invalid_view(errors)
        external_id = view.get("external_id")
        if external_id and any(v.external_id == external_id for v in self.state.views.values() if not v.closed):
            raise WebApiRefusal("duplicate_external_id")
        return dict(view)

    def _find_view(self, p: Params) -> View:
        view_id, external_id = p.text("view_id"), p.text("external_id")
        if view_id is None and external_id is None:
            raise WebApiRefusal("invalid_arguments")
        for view in self.state.views.values():
            if (view.id == view_id or (external_id and view.external_id == external_id)) and not view.closed:
                return view
        raise WebApiRefusal("not_found")

    # -- the methods --------------------------------------------------------------------------------------------

    def _auth_test(self, p: Params) -> JSON:
        ws = self.state.workspace
        return {
            "url": f"https://{ws.team.domain}.slack.com/",
            "team": ws.team.name,
            "user": ws.bot.name,
            "team_id": ws.team.id,
            "user_id": ws.bot.id,
            "bot_id": ws.bot.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, p: Params) -> JSON:
        channel = self._channel(p)
        if self.state.workspace.bot_user_id not in channel.members:
            raise WebApiRefusal("not_in_channel")
        text, blocks = self._content(p, required=True)
        message = self._bot_message(p, channel, text, blocks)
        self.state.store(message)
        return {"channel": channel.id, "ts": message.ts, "message": message.to_slack()}

    def _chat_update(self, p: Params) -> JSON:
        channel = self._channel(p)
        message = self._live_message(channel, p.text("ts"))
        if message.user != self.state.workspace.bot_user_id:
            raise WebApiRefusal("cant_update_message")
        text, blocks = self._content(p, required=False)
        if text is None and blocks is None:
            raise WebApiRefusal("no_text")
        self.state.edit(message, text, blocks)
        return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message.to_slack()}

    def _chat_post_ephemeral(self, p: Params) -> JSON:
        channel = self._channel(p)
        if self.state.workspace.bot_user_id not in channel.members:
            raise WebApiRefusal("not_in_channel")
        user = self._user(p.text("user"))
        if user.id not in channel.members:
            raise WebApiRefusal("user_not_in_channel")
        text, blocks = self._content(p, required=True)
        thread_ts = self._thread(channel, p.text("thread_ts"), p.warnings)
        ephemeral = self.state.add_ephemeral(channel.id, user.id, text, blocks, thread_ts, "chat.postEphemeral")
        return {"message_ts": ephemeral.ts}

    def _chat_delete(self, p: Params) -> JSON:
        channel = self._channel(p)
        message = self._live_message(channel, p.text("ts"))
        if message.user != self.state.workspace.bot_user_id:
            raise WebApiRefusal("cant_delete_message")
        message.deleted = True
        self.state.change("message_deleted", channel=channel.id, ts=message.ts)
        return {"channel": channel.id, "ts": message.ts}

    def _chat_get_permalink(self, p: Params) -> JSON:
        channel = self._channel(p)
        message = self._live_message(channel, p.text("message_ts"))
        link = (
            f"https://{self.state.workspace.team.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        )
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _conversations_history(self, p: Params) -> JSON:
        channel = self._channel(p)
        asked = p.text("limit") or ""
        limit = int(asked) if asked.isdigit() and int(asked) > 0 else 100
        found = [self.state.message_json(m) for m in reversed(self.state.channel_messages(channel.id))]
        return {"messages": found[:limit], "has_more": len(found) > limit, "response_metadata": {"next_cursor": ""}}

    def _conversations_replies(self, p: Params) -> JSON:
        channel = self._channel(p)
        parent = self.state.messages.get(channel.id, {}).get(p.text("ts") or "")
        if parent is None or parent.deleted:
            raise WebApiRefusal("thread_not_found")
        found = [self.state.message_json(m) for m in self.state.thread(channel.id, parent.thread_ts or parent.ts)]
        return {"messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _conversation_json(self, channel: Channel) -> JSON:
        ws = self.state.workspace
        if channel.is_im:
            return {"id": channel.id, "created": channel.created, "is_im": True, "is_org_shared": False,
                    "user": channel.name, "is_user_deleted": False}  # fmt: skip
        data: JSON = {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "created": channel.created,
            "is_archived": False,
            "is_general": False,
            "is_shared": channel.is_ext_shared,
            "is_org_shared": False,
            "is_ext_shared": channel.is_ext_shared,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": ws.installing_team_id,
            "is_member": ws.bot_user_id in channel.members,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if channel.is_ext_shared:
            teams = sorted(set(channel.connected_team_ids) | {channel.team_id})
            data |= {"connected_team_ids": teams, "shared_team_ids": teams, "internal_team_ids": []}
        return data

    def _conversations_info(self, p: Params) -> JSON:
        channel = self._channel(p)
        data = self._conversation_json(channel)
        if p.flag("include_num_members"):
            data["num_members"] = len(channel.members)
        return {"channel": data}

    def _conversations_members(self, p: Params) -> JSON:
        channel = self._channel(p)
        return {"members": list(channel.members), "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, p: Params) -> JSON:
        channel = self._channel(p)
        if channel.is_im or channel.is_private:
            raise WebApiRefusal("method_not_supported_for_channel_type")
        already = self.state.workspace.bot_user_id in channel.members
        self.state.workspace.join(channel.id, self.state.workspace.bot_user_id)
        self.state.change("member_joined", channel=channel.id, user=self.state.workspace.bot_user_id)
        answer: JSON = {"channel": self._conversation_json(channel)}
        if already:
            answer["warning"] = "already_in_channel"
        return answer

    def _users_info(self, p: Params) -> JSON:
        user = self._user(p.text("user"))
        now = self.state.clock()
        stranger = user.team_id != self.state.workspace.installing_team_id
        profile: JSON = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.display_name,
            "display_name_normalized": user.display_name,
            "team": user.team_id,
        }
        if user.email and not stranger:
            profile["email"] = user.email  # Slack Connect profiles usually withhold the email
        if user.bot_id:
            profile["bot_id"] = user.bot_id
        zone: JSON = (
            {} if user.tz_hidden else {"tz": user.tz, "tz_label": user.tz_label(now), "tz_offset": user.tz_offset(now)}
        )
        data: JSON = {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "deleted": False,
            "real_name": user.real_name,
            **zone,
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }
        if stranger:
            data["is_stranger"] = True
        return {"user": data}

    def _team_info(self, p: Params) -> JSON:
        team = self.state.workspace.teams.get(p.text("team") or self.state.workspace.installing_team_id)
        if team is None:
            raise WebApiRefusal("team_not_found")
        data: JSON = {"id": team.id, "name": team.name, "domain": team.domain, "email_domain": "",
                      "icon": {"image_default": True}}  # fmt: skip
        if team.enterprise_id:
            data["enterprise_id"] = team.enterprise_id
        return {"team": data}

    def _views_open(self, p: Params) -> JSON:
        payload = self._view_param(p, kind="modal")
        trigger = self._claim_trigger(p)
        for old in self.state.stacks.pop(trigger.user, []):
            self.state.views[old].closed = True  # a fresh modal replaces whatever stack was open
        view = self.state.push_view(trigger.user, payload)
        return {"view": view.to_slack()}

    def _views_push(self, p: Params) -> JSON:
        payload = self._view_param(p, kind="modal")
        trigger = self._claim_trigger(p)
        stack = self.state.stacks.get(trigger.user, [])
        if not stack:
            raise WebApiRefusal("not_found")
        if len(stack) >= MAX_VIEW_STACK:
            raise WebApiRefusal("push_limit_reached")
        return {"view": self.state.push_view(trigger.user, payload).to_slack()}

    def _views_update(self, p: Params) -> JSON:
        view = self._find_view(p)
        payload = p.decoded("view", "invalid_arguments")
        errors = validate_view(payload)
        if errors:
            raise invalid_view(errors)
        expected = p.text("hash")
        if expected is not None and expected != view.hash:
            raise WebApiRefusal("hash_conflict")
        self.state.replace_view(view, payload)
        return {"view": view.to_slack()}

    def _views_publish(self, p: Params) -> JSON:
        user = self._user(p.text("user_id"))
        payload = self._view_param(p, kind="home")
        current = self.state.home(user.id)
        expected = p.text("hash")
        if current is not None and expected is not None and expected != current.hash:
            raise WebApiRefusal("hash_conflict")
        if current is None:
            current = self.state.new_view(user.id, payload, root=None, previous=None)
            self.state.homes[user.id] = current.id
            self.state.change("home_published", user=user.id, view=current.id)
        else:
            self.state.replace_view(current, payload)
        return {"view": current.to_slack()}
