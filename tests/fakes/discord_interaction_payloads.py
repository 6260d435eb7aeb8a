"""Wire-format builders for interactions: INTERACTION_CREATE, callback responses, modal submits.

Shaped after what discord.py 2.x reads in ``interactions.py``. Pure: no state lives here.
"""

from __future__ import annotations

from fakes.discord_message_payloads import walk_components
from fakes.discord_protocol import ATTACHMENT_SIZE_LIMIT, JSON


def interaction_event(
    *,
    interaction_id: int,
    token: str,
    app_id: int,
    interaction_type: int,
    data: JSON,
    guild_id: int,
    channel: JSON,
    member: JSON,
    member_permissions: int,
    app_permissions: int,
    locale: str,
    message: JSON | None,
) -> JSON:
    """INTERACTION_CREATE for a guild interaction (what interactions.py's ``_from_data`` reads)."""
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(app_id),
        "type": interaction_type,
        "data": data,
        "guild_id": str(guild_id),
        "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
        "channel_id": channel["id"],
        "channel": {**channel, "permissions": str(member_permissions)},
        "member": {**member, "permissions": str(member_permissions)},
        "token": token,
        "version": 1,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "guild_locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if message is not None:
        payload["message"] = message
    return payload


def callback_response(
    *,
    interaction_id: int,
    interaction_type: int,
    callback_type: int,
    ephemeral: bool,
    response_message_id: int | None,
    message: JSON | None,
) -> JSON:
    """The body of POST /interactions/{id}/{token}/callback?with_response=true.

    discord.py 2.5+ always asks for it and builds ``InteractionCallbackResponse`` from it.
    """
    callback: JSON = {
        "id": str(interaction_id),
        "type": interaction_type,
        "response_message_loading": callback_type == 5,
        "response_message_ephemeral": ephemeral,
    }
    if response_message_id is not None:
        callback["response_message_id"] = str(response_message_id)
    resource: JSON = {"type": callback_type}
    if message is not None and callback_type in (4, 7):
        resource["message"] = message
    return {"interaction": callback, "resource": resource}


def interaction_metadata(
    *,
    interaction_id: int,
    interaction_type: int,
    user: JSON,
    owners: JSON,
    interacted: int | None,
    original: int | None,
) -> JSON:
    meta: JSON = {
        "id": str(interaction_id),
        "type": interaction_type,
        "user": user,
        "authorizing_integration_owners": owners,
    }
    if interacted is not None:
        meta["interacted_message_id"] = str(interacted)
    if original is not None:
        meta["original_response_message_id"] = str(original)
    return meta


def modal_submit_components(modal: JSON | None, values: dict[str, str]) -> list[JSON]:
    """``data.components`` of a modal submit, mirroring the modal's layout (rows or labels).

    Raises ValueError for what a user could not submit: unknown inputs, a missing required value,
    a value outside the input's length bounds.
    """
    if modal is None:
        return [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
    inputs = {c["custom_id"]: c for c in walk_components(modal["components"]) if c.get("type") == 4}
    unknown = set(values) - set(inputs)
    if unknown:
        raise ValueError(f"the modal has no text inputs {sorted(unknown)}; it has {sorted(inputs)}")
    for cid, comp in inputs.items():
        value = values.get(cid, comp.get("value") or "")
        if comp.get("required", True) and not value:
            raise ValueError(f"text input {cid!r} is required")
        too_short = bool(value) and len(value) < int(comp.get("min_length") or 0)
        if too_short or len(value) > int(comp.get("max_length") or 4000):
            raise ValueError(f"text input {cid!r}: length {len(value)} is outside its bounds")

    def answer(comp: JSON) -> JSON:
        cid = comp["custom_id"]
        return {"type": 4, "id": comp.get("id"), "custom_id": cid, "value": values.get(cid, comp.get("value") or "")}

    out: list[JSON] = []
    for top in modal["components"]:
        if top.get("type") == 1:
            out.append({"type": 1, "id": top.get("id"), "components": [answer(c) for c in top["components"]]})
        elif top.get("type") == 18 and top.get("component", {}).get("type") == 4:
            out.append({"type": 18, "id": top.get("id"), "component": answer(top["component"])})
    return out
