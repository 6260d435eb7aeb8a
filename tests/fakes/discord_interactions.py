"""Interactions from the bot's side: callbacks, the interaction webhook, and what the user ends up seeing.

Each INTERACTION_CREATE the fake dispatches (``discord_user_actions``) is tracked as an
``InteractionState``: its callback (within Discord's 3 s window), original response, followups,
modal and autocomplete choices, and every call addressed to it.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from fakes.discord_http import ApiRequest, ApiResponse, Call, fail, form_error
from fakes.discord_interaction_payloads import callback_response
from fakes.discord_protocol import FLAG_EPHEMERAL, FLAG_LOADING, JSON, parse_snowflake
from fakes.discord_rest import RestRoutes
from fakes.discord_validation import FormErrors, validate_modal

# Callback types each interaction type accepts: PING -> PONG; commands -> message, defer, modal;
# components -> message, defers, update, modal; autocomplete -> choices; modal submits -> no modal.
_ALLOWED_CALLBACKS = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


# ---- public records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SentInteraction:
    """An INTERACTION_CREATE the fake dispatched; pass it (or its id) to the inspection helpers."""

    id: int
    token: str
    payload: JSON


@dataclass(frozen=True)
class InteractionOutcome:
    """What the user ends up seeing for an interaction."""

    interaction_id: int
    callback_type: int | None
    message: JSON | None  # the original response as it stands now (after edits), if any
    followups: tuple[JSON, ...]
    modal: JSON | None
    autocomplete_choices: list[JSON] | None

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and int(self.message["flags"]) & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still showing "<bot> is thinking…" (deferred and never completed)."""
        return bool(self.message and int(self.message["flags"]) & FLAG_LOADING)

    @property
    def content(self) -> str | None:
        return None if self.message is None else self.message["content"]

    @property
    def embeds(self) -> list[JSON]:
        return [] if self.message is None else self.message["embeds"]

    @property
    def components(self) -> list[JSON]:
        return [] if self.message is None else self.message["components"]


# ---- internal state ------------------------------------------------------------------------------
@dataclass
class InteractionState:
    id: int
    token: str
    type: int
    payload: JSON
    channel_id: int
    created: float
    command_type: int | None = None
    component_message_id: int | None = None
    callback_type: int | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: JSON | None = None
    modal_submitted: bool = False
    autocomplete_choices: list[JSON] | None = None
    calls: list[Call] = field(default_factory=list)


class InteractionResponses(RestRoutes):
    """Interaction callbacks and webhooks, and the inspection of what each interaction produced."""

    def __init__(self, *, interaction_ack_timeout: float | None, **settings: Any) -> None:
        super().__init__(**settings)
        self.interaction_ack_timeout = interaction_ack_timeout  # Discord's 3 s to acknowledge
        self._interactions: dict[int, InteractionState] = {}
        self._interactions_by_token: dict[str, InteractionState] = {}
        self._last_modal: tuple[InteractionState, JSON] | None = None

    # ---- inspection ------------------------------------------------------------------------------
    def interaction_responses(self, interaction: SentInteraction | int) -> list[Call]:
        """Callback and webhook calls (edits, followups) addressed to an interaction, in order."""
        return list(self._ix(interaction).calls)

    def interaction_outcome(self, interaction: SentInteraction | int) -> InteractionOutcome:
        rec = self._ix(interaction)
        original = self._messages.get(rec.original_id) if rec.original_id is not None else None
        followups = tuple(copy.deepcopy(self._messages[m]) for m in rec.followup_ids if m in self._messages)
        return InteractionOutcome(
            interaction_id=rec.id,
            callback_type=rec.callback_type,
            message=copy.deepcopy(original),
            followups=followups,
            modal=copy.deepcopy(rec.modal),
            autocomplete_choices=copy.deepcopy(rec.autocomplete_choices),
        )

    def _ix(self, interaction: SentInteraction | int) -> InteractionState:
        iid = interaction.id if isinstance(interaction, SentInteraction) else interaction
        return self._interactions[iid]

    # ---- POST /interactions/{id}/{token}/callback ------------------------------------------------
    async def _callback(self, req: ApiRequest, interaction_id: str, token: str) -> ApiResponse:
        ix = self._acknowledgeable(req, interaction_id, token)
        body = req.json or {}
        data: JSON = body.get("data") or {}
        cb_type = self._check_callback(req, ix, body.get("type"), data)
        ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        msg = await self._apply_callback(req, ix, cb_type, data, ephemeral=ephemeral)
        ix.callback_type = cb_type

        if req.query.get("with_response", "").lower() not in ("1", "true"):
            return ApiResponse(204)
        response = callback_response(
            interaction_id=ix.id,
            interaction_type=ix.type,
            callback_type=cb_type,
            ephemeral=ephemeral or bool(msg and int(msg["flags"]) & FLAG_EPHEMERAL),
            response_message_id=ix.original_id,
            message=msg,
        )
        return ApiResponse(200, response)

    def _acknowledgeable(self, req: ApiRequest, interaction_id: str, token: str) -> InteractionState:
        """The interaction a callback addresses, if it can still be acknowledged."""
        ix = self._interactions.get(parse_snowflake(interaction_id))
        if ix is None or ix.token != token:
            raise fail(404, "Unknown interaction", 10062)
        req.interaction = ix
        if ix.callback_type is not None:
            raise fail(400, "Interaction has already been acknowledged.", 40060)
        if self.interaction_ack_timeout is not None and time.monotonic() - ix.created > self.interaction_ack_timeout:
            raise fail(404, "Unknown interaction", 10062)  # what Discord says after its 3 s window
        return ix

    def _check_callback(self, req: ApiRequest, ix: InteractionState, cb_type: object, data: JSON) -> int:
        """Validate a callback's type and data; returns the (valid) callback type."""
        if not isinstance(cb_type, int) or cb_type not in _ALLOWED_CALLBACKS[ix.type]:
            errors = FormErrors()
            errors.add(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid response type {cb_type} here")
            raise form_error(errors)
        if cb_type in (4, 7):
            self._validate_send(req, data, prefix=("data",), creating=cb_type == 4)
        if cb_type == 9:
            errors = validate_modal(data)
            if errors:
                raise form_error(errors)
        return cb_type

    async def _apply_callback(
        self, req: ApiRequest, ix: InteractionState, cb_type: int, data: JSON, *, ephemeral: bool
    ) -> JSON | None:
        """Carry out a valid callback; returns the message it created or updated, if any."""
        msg: JSON | None = None
        if cb_type == 4:
            msg = await self._create_bot_message(ix.channel_id, data, req.files, interaction=ix)
            ix.original_id = int(msg["id"])
        elif cb_type == 5:
            loading = {"content": "", "flags": FLAG_LOADING | (FLAG_EPHEMERAL if ephemeral else 0)}
            msg = await self._create_bot_message(ix.channel_id, loading, (), interaction=ix, loading=True)
            ix.original_id = int(msg["id"])
        elif cb_type in (6, 7):
            ix.original_id = ix.component_message_id
            if cb_type == 7 and ix.component_message_id is not None:
                msg = self._messages[ix.component_message_id]
                await self._edit_message(msg, data, req.files)
        elif cb_type == 8:
            ix.autocomplete_choices = data.get("choices") or []
        elif cb_type == 9:
            ix.modal = data
            self._last_modal = (ix, data)
        return msg

    # ---- /webhooks/{app_id}/{token}: the original response and followups -------------------------
    def _webhook_interaction(self, req: ApiRequest, app_id: str, token: str) -> InteractionState:
        ix = self._interactions_by_token.get(token)
        if ix is None or parse_snowflake(app_id) != self.application_id:
            raise fail(404, "Unknown Webhook", 10015)
        req.interaction = ix
        return ix

    def _webhook_message(self, ix: InteractionState, message_id: str) -> JSON:
        mid = ix.original_id if message_id == "@original" else parse_snowflake(message_id)
        if mid is None or (mid != ix.original_id and mid not in ix.followup_ids) or mid not in self._messages:
            raise fail(404, "Unknown Message", 10008)
        return self._messages[mid]

    async def _get_webhook_message(self, req: ApiRequest, app_id: str, token: str, message_id: str) -> ApiResponse:
        ix = self._webhook_interaction(req, app_id, token)
        return ApiResponse(200, self._webhook_message(ix, message_id))

    async def _patch_webhook_message(self, req: ApiRequest, app_id: str, token: str, message_id: str) -> ApiResponse:
        ix = self._webhook_interaction(req, app_id, token)
        msg = self._webhook_message(ix, message_id)
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=False)
        await self._edit_message(msg, payload, req.files)
        return ApiResponse(200, msg)

    async def _delete_webhook_message(self, req: ApiRequest, app_id: str, token: str, message_id: str) -> ApiResponse:
        ix = self._webhook_interaction(req, app_id, token)
        await self._remove_message(self._webhook_message(ix, message_id))
        return ApiResponse(204)

    async def _post_followup(self, req: ApiRequest, app_id: str, token: str) -> ApiResponse:
        ix = self._webhook_interaction(req, app_id, token)
        if ix.callback_type is None:
            raise fail(404, "Unknown Webhook", 10015)  # no followups before the initial response
        payload = req.json or {}
        self._validate_send(req, payload, prefix=(), creating=True)
        original = self._messages.get(ix.original_id) if ix.original_id is not None else None
        if original is not None and int(original["flags"]) & FLAG_LOADING:
            # After a thinking defer, the first followup completes the loading message; its
            # ephemerality was fixed by the defer.
            await self._edit_message(original, {k: v for k, v in payload.items() if k != "flags"}, req.files)
            msg = original
        else:
            msg = await self._create_bot_message(ix.channel_id, payload, req.files, interaction=ix)
            ix.followup_ids.append(int(msg["id"]))
        if req.query.get("wait", "").lower() not in ("1", "true"):
            return ApiResponse(204)
        return ApiResponse(200, msg)
