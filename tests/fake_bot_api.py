"""A local fake of the Telegram Bot API, speaking its JSON over real HTTP, for end-to-end tests.

python-telegram-bot runs unchanged against it (``base_url`` pointing here): its HTTP stack, request
encoding, error mapping (429 -> RetryAfter, 403 -> Forbidden) and polling loop are the real ones.

The fake keeps the updates Telegram would deliver (``getUpdates`` long-polls, confirms by offset like
Telegram does), records every call with its parameters and time, and can be told to answer a method
with an error (``fail_next``: 429 with ``retry_after``, 403 for a blocked bot, 400...). Helpers build
the updates a person produces: a text, a button press on a message the bot sent, a location, a voice
note, an edit, a message in a group.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456:TEST-token_for-fake"
BOT_ID = 123456
BOT_USERNAME = "bussola_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    status: int = 200


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeBotAPI:
    token: str = TOKEN
    poll_wait: float = 0.5  # getUpdates waits at most this long for news (keeps shutdown quick)
    calls: list[Call] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)  # chat ids whose person blocked the bot
    webhook_url: str = ""
    webhook_secret: str = ""
    delivered: list[int] = field(default_factory=list)  # update ids returned by getUpdates, in order

    def __post_init__(self) -> None:
        self._ids = itertools.count(1000)
        self._update_ids = itertools.count(500_000)
        self._changed = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self.polls_in_flight = 0
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # --- server ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` (and TELEGRAM_API_BASE_URL) should be: the token is appended."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> FakeBotAPI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=10)

    async def _params(self, request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        raw: dict[str, Any]
        if ctype.startswith("application/json"):
            body = await request.body()
            raw = json.loads(body) if body else {}
        else:
            form = await request.form()
            raw = {k: v for k, v in form.items() if isinstance(v, str)}
        params: dict[str, Any] = {}
        for k, v in raw.items():
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            params[k] = v
        return params

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.path_params["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        failure = self._take_failure(method, params)
        if failure is not None:
            call.status = failure.status
            await self._record(call)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return JSONResponse(body, failure.status)
        if method == "getUpdates":
            self.polls_in_flight += 1
            try:
                result: Any = await self._get_updates(params)
            finally:
                self.polls_in_flight -= 1
            call.at = time.monotonic()
        else:
            result = self._answer(method, params)
            if isinstance(result, dict) and "message_id" in result:
                call.params["_message_id"] = result["message_id"]
        await self._record(call)
        return JSONResponse({"ok": True, "result": result})

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        chat = str(params.get("chat_id", ""))
        if method.startswith("send") and chat in self.blocked:
            return Failure(403, "Forbidden: bot was blocked by the user")
        queue = self.failures.get(method)
        if queue:
            return queue.pop(0)
        return None

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # --- Bot API methods ------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Bussola",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.me()
        if method == "setWebhook":
            self.webhook_url = str(params.get("url", ""))
            self.webhook_secret = str(params.get("secret_token", ""))
            return True
        if method == "deleteWebhook":
            self.webhook_url = ""
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": 0}
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            chat_id = params.get("chat_id", 0)
            message_id = int(params.get("message_id") or next(self._ids))
            return {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat(chat_id),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bussola", "username": BOT_USERNAME},
                "text": str(params.get("text", "")),
                **(
                    {"reply_markup": params["reply_markup"]}
                    if isinstance(params.get("reply_markup"), dict)
                    else {}
                ),
            }
        return True  # answerCallbackQuery, setMyCommands, sendChatAction, ...

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.poll_wait)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                if offset:  # Telegram forgets the updates confirmed by the offset
                    self.pending = [u for u in self.pending if u["update_id"] >= offset]
                ready = [u for u in self.pending if u["update_id"] >= offset][:limit]
                left = deadline - time.monotonic()
                if ready or left <= 0:
                    self.delivered += [u["update_id"] for u in ready]
                    return ready
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=left)

    # --- what tests do --------------------------------------------------------------------------

    def fail_next(self, method: str, status: int, description: str, retry_after: int | None = None) -> None:
        self.failures.setdefault(method, []).append(Failure(status, description, retry_after))

    async def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (as Telegram would); it keeps its update_id if it has one."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        async with self._changed:
            self.pending.append(update)
            self.pending.sort(key=lambda u: u["update_id"])
            self._changed.notify_all()
        return update

    async def no_poll_in_flight(self) -> None:
        """Wait until no getUpdates is pending (a stopped client's last long poll still confirms updates)."""
        await self.wait_for(lambda: self.polls_in_flight == 0)

    def new_update_id(self) -> int:
        return next(self._update_ids)

    def sent(self, chat_id: int | str | None = None, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of the successful calls of ``method`` (to ``chat_id``), in order."""
        return [
            c.params
            for c in self.calls
            if c.method == method
            and c.status == 200
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    def texts(self, chat_id: int | str) -> list[str]:
        return [str(p.get("text", "")) for p in self.sent(chat_id)]

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    async def wait_for(self, predicate: Callable[[], Any], within: float = 30.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked at every call the bot makes)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out waiting; last calls: {[c.method for c in self.calls[-8:]]}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.2))

    async def wait_sent(self, chat_id: int | str, count: int, within: float = 30.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages were sent to ``chat_id``; return them all."""
        await self.wait_for(lambda: len(self.sent(chat_id)) >= count, within)
        return self.sent(chat_id)

    def last_buttons(self, chat_id: int | str) -> list[tuple[str, str, int]]:
        """(title, callback_data, telegram message id) of the buttons of the last message with buttons."""
        for c in reversed([c for c in self.calls if c.method == "sendMessage" and c.status == 200]):
            if str(c.params.get("chat_id")) != str(chat_id):
                continue
            markup = c.params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                mid = self._message_id_of(c)
                return [
                    (b["text"], b.get("callback_data", ""), mid)
                    for row in markup["inline_keyboard"]
                    for b in row
                    if "callback_data" in b
                ]
        return []

    def _message_id_of(self, call: Call) -> int:
        return int(call.params.get("_message_id", 0))

    # --- updates a person produces ------------------------------------------------------------

    def _msg(
        self, chat_id: int, user_id: int | None = None, first_name: str = "Maria", **extra: Any
    ) -> dict[str, Any]:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat(chat_id, first_name),
            "from": user(user_id or chat_id, first_name),
            **extra,
        }

    def text_update(self, chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
        """A text message update, not queued (for a webhook POST)."""
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {
            "update_id": next(self._update_ids),
            "message": self._msg(chat_id, text=text, entities=entities, **kw),
        }

    async def text(self, chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
        return await self.push(self.text_update(chat_id, text, **kw))

    async def edit(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        msg = self._msg(chat_id, text=text, edit_date=int(time.time()))
        msg["message_id"] = message_id
        return await self.push({"edited_message": msg})

    async def location(self, chat_id: int, latitude: float, longitude: float) -> dict[str, Any]:
        return await self.push(
            {"message": self._msg(chat_id, location={"latitude": latitude, "longitude": longitude})}
        )

    async def voice(self, chat_id: int) -> dict[str, Any]:
        voice = {"file_id": "VOICE1", "file_unique_id": "v1", "duration": 4, "mime_type": "audio/ogg"}
        return await self.push({"message": self._msg(chat_id, voice=voice)})

    async def photo(self, chat_id: int, caption: str = "") -> dict[str, Any]:
        sizes = [{"file_id": "PH1", "file_unique_id": "p1", "width": 90, "height": 90}]
        extra: dict[str, Any] = {"caption": caption} if caption else {}
        return await self.push({"message": self._msg(chat_id, photo=sizes, **extra)})

    async def sticker(self, chat_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "ST1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return await self.push({"message": self._msg(chat_id, sticker=sticker)})

    async def group_text(
        self, group_id: int, user_id: int, text: str, first_name: str = "Giulia", reply_to: int | None = None
    ) -> dict[str, Any]:
        msg = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": group_id, "type": "supergroup", "title": "Gruppo"},
            "from": user(user_id, first_name),
            "text": text,
        }
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            msg["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()),
                "chat": {"id": group_id, "type": "supergroup", "title": "Gruppo"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bussola", "username": BOT_USERNAME},
                "text": "…",
            }
        return await self.push({"message": msg})

    async def press(
        self, chat_id: int, title: str, *, user_id: int | None = None, first_name: str = "Maria"
    ) -> dict[str, Any]:
        """Tap the button titled ``title`` on the last message the bot sent to ``chat_id`` with it."""
        for c in reversed([c for c in self.calls if c.method == "sendMessage" and c.status == 200]):
            if str(c.params.get("chat_id")) != str(chat_id):
                continue
            markup = c.params.get("reply_markup")
            rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
            for row in rows:
                for b in row:
                    if b.get("text") == title and "callback_data" in b:
                        return await self.press_data(
                            chat_id,
                            b["callback_data"],
                            c.params["_message_id"],
                            user_id=user_id,
                            first_name=first_name,
                        )
        raise AssertionError(f"no button {title!r} sent to {chat_id}")

    async def press_data(
        self,
        chat_id: int,
        data: str,
        message_id: int,
        *,
        user_id: int | None = None,
        first_name: str = "Maria",
    ) -> dict[str, Any]:
        typ = "private" if chat_id > 0 else "supergroup"
        return await self.push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "from": user(user_id or chat_id, first_name),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": {
                            "id": chat_id,
                            "type": typ,
                            **({"first_name": first_name} if typ == "private" else {"title": "Gruppo"}),
                        },
                        "from": {
                            "id": BOT_ID,
                            "is_bot": True,
                            "first_name": "Bussola",
                            "username": BOT_USERNAME,
                        },
                        "text": "…",
                    },
                }
            }
        )


def chat(chat_id: Any, first_name: str = "Maria") -> dict[str, Any]:
    cid = int(chat_id)
    if cid < 0:
        return {"id": cid, "type": "supergroup", "title": "Gruppo"}
    return {"id": cid, "type": "private", "first_name": first_name}


def user(user_id: int, first_name: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "it"}
