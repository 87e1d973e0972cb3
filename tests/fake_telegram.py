"""A fake Telegram Bot API on loopback, for tests: records every call, serves queued updates.

Starlette behind uvicorn (the project's `LoopbackServer`) answers `POST /bot<token>/<method>`
for the methods the bot uses (getMe, getUpdates, sendMessage, answerCallbackQuery,
editMessageText, deleteWebhook, ...). python-telegram-bot is pointed at it with
`base_url=f"{server.origin}/bot"`. Parameters arrive form-encoded (complex ones as JSON).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trading.deribit.simulator.server import LoopbackServer

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz012"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "optionsdesk", "username": "od_bot"}


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call: the method and its decoded parameters."""

    method: str
    params: dict[str, Any]

    @property
    def text(self) -> str:
        """The message text of a sendMessage/editMessageText."""
        return str(self.params.get("text", ""))


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class FakeTelegram:
    """The Bot API's state: queued updates, recorded calls, message ids."""

    def __init__(self) -> None:
        self.updates: deque[dict[str, Any]] = deque()
        self.calls: list[Call] = []
        self._next_update = 1
        self._next_message = 100
        self.app = Starlette(
            routes=[Route("/bot{token}/{method}", self._api, methods=["POST", "GET"])]
        )

    # ---------------------------------------------------------------- test side

    def message(self, user_id: int, text: str, *, username: str = "trader") -> dict[str, Any]:
        """An update with a private message from `user_id` (a /command gets its entity)."""
        self._next_message += 1
        message: dict[str, Any] = {
            "message_id": self._next_message,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "username": username},
            "from": {"id": user_id, "is_bot": False, "first_name": username, "username": username},
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._update({"message": message})

    def button(self, user_id: int, data: str, *, message_id: int = 1) -> dict[str, Any]:
        """An update for an inline-button press (`callback_query`)."""
        chat = {"id": user_id, "type": "private"}
        return self._update(
            {
                "callback_query": {
                    "id": f"cb{self._next_update}",
                    "from": {"id": user_id, "is_bot": False, "first_name": "u"},
                    "chat_instance": "ci",
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": chat,
                        "from": BOT_USER,
                        "text": "confirm?",
                    },
                }
            }
        )

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update, **body}
        self._next_update += 1
        return update

    def queue(self, update: dict[str, Any]) -> None:
        """Serve `update` to the next getUpdates."""
        self.updates.append(update)

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """sendMessage calls (to one chat when given)."""
        return [
            c
            for c in self.calls
            if c.method == "sendMessage"
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]

    # ---------------------------------------------------------------- API side

    async def _api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params: dict[str, Any] = {}
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:  # form-encoded (python-multipart is not installed: parse it here)
            body = (await request.body()).decode()
            params = {k: _decode(v) for k, v in parse_qsl(body, keep_blank_values=True)}
        params.update({k: _decode(v) for k, v in request.query_params.items()})
        if method != "getUpdates":
            self.calls.append(Call(method, params))
        return JSONResponse({"ok": True, "result": await self._result(method, params)})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
            if not self.updates:
                await asyncio.sleep(0.05)
            return list(self.updates)
        if method in ("sendMessage", "editMessageText"):
            self._next_message += 1
            return {
                "message_id": int(params.get("message_id") or self._next_message),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id") or 0), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        return True


class FakeTelegramServer(LoopbackServer):
    """`FakeTelegram` behind uvicorn on 127.0.0.1 (free port)."""

    def __init__(self) -> None:
        self.fake = FakeTelegram()
        super().__init__(self.fake.app, name="fake-telegram")

    @property
    def base_url(self) -> str:
        """The Bot API root python-telegram-bot appends the token to."""
        return f"{self.origin}/bot"
