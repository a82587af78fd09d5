"""What a bot tells its owner's stream (topic "bots"; docs/streams.md): orders, fills, errors, status.

Each is emitted with ``core.events.emit`` inside the transaction that records it, so it is
published after that commits and never for a rolled-back order. A paper order fills at once, so
every booked order emits ``bot.order`` (the order) and then ``bot.fill`` (its execution).
Money is a Decimal string, times Unix ms, ids strings, like every body of the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from backend.core import events
from backend.modules.bots.models import BotInstance

TOPIC = "bots"
_MONEY = (
    "quantity",
    "price",
    "reference_price",
    "notional",
    "fee",
    "realised_pnl",
    "cash_after",
    "position_after",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _money(value: object) -> str | None:
    if value is None:
        return None
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _emit(type_: str, bot_id: str, owner_id: str, data: Mapping[str, Any]) -> None:
    events.emit(events.Event(type_, TOPIC, owner_id, object_id=bot_id, data={"botId": bot_id, **data}))


def order_booked(values: Mapping[str, Any]) -> None:
    """Emit ``bot.order`` and ``bot.fill`` for one booked order (its column values, with ``id``)."""
    order = {
        "orderId": str(values["id"]),
        "symbol": values["symbol"],
        "side": values["side"],
        "source": values["source"],
        "status": values.get("status") or "filled",
        "time": int(values["time"]),
    }
    money = {_camel(name): _money(values.get(name)) for name in _MONEY}
    bot_id, owner_id = str(values["bot_id"]), str(values["owner_id"])
    _emit("bot.order", bot_id, owner_id, {**order, "quantity": money["quantity"]})
    _emit("bot.fill", bot_id, owner_id, {**order, **money})


def status_changed(bot: BotInstance) -> None:
    """Emit ``bot.status`` with the bot's status now (running, paused, error, stopped)."""
    _emit(
        "bot.status",
        bot.id,
        bot.owner_id,
        {"status": bot.status, "symbol": bot.symbol, "interval": bot.interval, "reason": bot.error_reason},
    )


def errored(bot: BotInstance) -> None:
    """Emit ``bot.error`` (why the bot stopped) and then its ``bot.status``."""
    _emit(
        "bot.error",
        bot.id,
        bot.owner_id,
        {"reason": bot.error_reason, "message": bot.error_message, "status": bot.status},
    )
    status_changed(bot)
