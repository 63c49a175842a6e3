"""The Telegram channel (python-telegram-bot v22): updates in, the dialogue engine's messages out.

The adapter only translates. A text, a button press, a shared location, a voice note, a photo, a
document or a sticker becomes an ``Inbound`` for ``DialogueEngine.handle``; everything the engine,
a facilitator or the system writes is stored in the message log and delivered from there by
``bot.telegram_delivery`` (once, in order, by one process at a time). What is Telegram's own is here:
- polling when no ``PUBLIC_URL`` is set (one process polls: a PostgreSQL advisory lock held by the
  poller, the others wait and take over if it dies; on SQLite a file lock), a webhook otherwise,
  registered with a secret token that ``bot.telegram_webhook`` checks on every request;
- each update processed once, even across restarts (``telegram_updates``), many chats at a time but
  one update at a time per chat, in order (``PerChatProcessor``);
- the bot's menu of Italian commands; group chats get a polite pointer to the private chat, except a
  team's own group, where new cases are announced with a "Prendi in carico" button (the console's
  atomic claim) and replies to a case's announcement reach the person;
- volunteers' commands (``/volontaria``, ``/aiuta``, ``/casi``, ``/fine``), run by
  ``handoff.volunteers.VolunteerDesk``;
- a person who blocks the bot: the chat is marked and deliveries wait until they write again.

Handlers follow the PTB examples: ``async def verb(update, context)``; they find the channel in
``context.bot_data["channel"]``. No message text or personal data is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import re
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import texts
from bot.db import is_sqlite
from bot.settings import Settings
from bot.telegram_delivery import Delivery
from bot.telegram_models import TelegramAnnouncement, TelegramUpdate
from bot.telegram_render import esc
from bot.types import Inbound, Outbound
from handoff import volunteers
from handoff.volunteers import Route, VolunteerDesk

log = logging.getLogger("bussola.telegram")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
WEBHOOK_PATH = "/telegram/webhook"
_POLL_LOCK_KEY = 0x42555354  # "BUST": the advisory lock of the one poller
_SECRET_OK = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

COMMANDS = (
    ("start", "Ricomincia da capo"),
    ("aiuto", "Cosa posso fare per te"),
    ("operatore", "Parla con una persona"),
    ("privacy", "Come uso i tuoi dati"),
    ("cancella", "Cancella i tuoi dati"),
    ("stop", "Fermati qui"),
)
VOLUNTEER_COMMANDS = (
    *COMMANDS,
    ("aiuta", "Aiuta una persona"),
    ("casi", "Le persone che segui"),
    ("fine", "Torna alla tua conversazione"),
)

# --- copy (Telegram-only wording) ---------------------------------------------------------------
GROUP_POINTER = (
    "Ciao! Per chiedere aiuto scrivimi in privato, così quello che racconti resta riservato: {link}"
)
GROUP_IDS = "Codice di questo gruppo: {chat}. Il tuo codice Telegram: {user}."
PRIORITY_LABELS = {"urgent": "URGENTE", "high": "priorità alta", "normal": "priorità normale"}
ANNOUNCE = "Nuova richiesta n. {id} ({priority})"
BTN_CLAIM = "Prendi in carico"
CLAIMED_BY = "Presa in carico da {name}."
NOT_LINKED = (
    "Il tuo account Telegram non è collegato a Bussola. Chiedi a chi amministra Bussola di collegarlo: "
    "il tuo codice Telegram è {user}."
)
CLAIM_PAYLOAD = "/prendi"


def utcnow() -> datetime:
    return datetime.now(UTC)


def channel_of(context: ContextTypes.DEFAULT_TYPE) -> TelegramChannel:
    return context.bot_data["channel"]  # type: ignore[no-any-return]


# --- one update at a time per chat ------------------------------------------------------------------


class PerChatProcessor(BaseUpdateProcessor):
    """Many chats at once, one update at a time per chat, in arrival order.

    PTB creates the processing tasks in the order updates arrive; each waits for the previous update
    of the same chat, so a person's messages reach the engine in the order they were written.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._tails: dict[int, asyncio.Future[None]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = getattr(update, "effective_chat", None)
        if chat is None:
            await coroutine
            return
        key = chat.id
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                await asyncio.wait([previous])
            await coroutine
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]
            close = getattr(coroutine, "close", None)
            if close is not None:
                close()  # a no-op when it ran; avoids "never awaited" when cancelled before

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


# --- exactly one poller ------------------------------------------------------------------------------


class PollLock:
    """Who polls: a PostgreSQL session advisory lock, or a file lock beside the SQLite database."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._conn: Any = None
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self.url.startswith(("postgresql", "postgres")):
            import asyncpg

            from bot.pubsub import _plain_dsn

            try:
                conn = await asyncpg.connect(_plain_dsn(self.url), timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                return False
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _POLL_LOCK_KEY):
                self._conn = conn
                return True
            await conn.close()
            return False
        from sqlalchemy.engine import make_url

        db = make_url(self.url).database
        if not db or db == ":memory:":
            return True
        fd = os.open(f"{db}.telegram-lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def alive(self) -> bool:
        if self._conn is None:
            return True
        try:
            await self._conn.fetchval("SELECT 1", timeout=5)
            return True
        except Exception:  # noqa: BLE001 - any failure means the lock may be gone
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)  # closing the session frees its advisory lock
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


# --- handlers -------------------------------------------------------------------------------------------


async def skip_seen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop here when this update was already processed (Telegram redelivers after a restart)."""
    if await channel_of(context).seen(update.update_id):
        log.info("update %s already processed: skipped", update.update_id)
        raise ApplicationHandlerStop


async def mark_seen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remember that this update was processed."""
    await channel_of(context).mark(update.update_id)


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Hand a text or a dialogue command (/start, /aiuto, /operatore...) to the dialogue engine."""
    ch = channel_of(context)
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    body = message.text or ""
    reply = await ch.desk.on_text(str(user.id), body)
    if reply is not None:
        await ch.desk_reply(update, reply)
        return
    await ch.to_engine(update, kind="text", text=body, route=await ch.route_reply(update))


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited text is read again as a new message: the person corrected what they meant."""
    message = update.edited_message
    if message is None or not message.text:
        return
    await channel_of(context).to_engine(update, kind="text", text=message.text, meta={"edited": True})


async def location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A shared location (or venue) lets the engine suggest the nearest services."""
    message = update.effective_message
    if message is None or message.location is None:
        return
    loc = message.location
    await channel_of(context).to_engine(
        update, kind="location", latitude=loc.latitude, longitude=loc.longitude
    )


async def attachment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Voice notes, photos, documents, stickers: the engine answers kindly and offers a person."""
    message = update.effective_message
    if message is None:
        return
    if message.voice or message.audio or message.video_note:
        kind = "voice"
    elif message.photo:
        kind = "photo"
    elif message.document:
        kind = "document"
    elif message.sticker:
        kind = "sticker"
    else:
        kind = "other"
    await channel_of(context).to_engine(update, kind=kind, text=message.caption or "")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, or /start n<token> when a neighbour opens the link a volunteer forwarded."""
    ch = channel_of(context)
    arg = context.args[0] if context.args else ""
    if arg.startswith("n") and len(arg) > 8:
        await ch.link_neighbour(update, arg[1:])
        return
    await ch.to_engine(update, kind="text", text="/start")


async def volunteer_register(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/volontaria CODICE registers a volunteer with her team."""
    ch = channel_of(context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    outs = await ch.desk.redeem(
        str(user.id), str(chat.id), user.first_name or "", " ".join(context.args or ())
    )
    await ch.delivery.send_direct(str(chat.id), outs)
    if await ch.desk.is_volunteer(str(user.id)):
        await ch.set_volunteer_commands(chat.id)


async def volunteer_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/aiuta: a volunteer starts a request for a neighbour; anyone else gets the dialogue's "per altri"."""
    ch = channel_of(context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    outs = await ch.desk.start_request(str(user.id))
    if outs is None:
        await ch.to_engine(update, kind="button", payload="/per_altri", route=Route(str(chat.id)))
        return
    await ch.delivery.send_direct(str(chat.id), outs)


async def volunteer_cases(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/casi lists the neighbours a volunteer follows, with the state of each case."""
    ch = channel_of(context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    await ch.delivery.send_direct(str(chat.id), await ch.desk.cases(str(user.id)))


async def volunteer_finish(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/fine takes a volunteer back to her own conversation."""
    ch = channel_of(context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    await ch.delivery.send_direct(str(chat.id), await ch.desk.finish(str(user.id)))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: volunteers' and team actions here, every other payload to the dialogue."""
    ch = channel_of(context)
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None:
        return
    data = query.data or ""
    if chat.type != ChatType.PRIVATE:
        await ch.group_button(update, data)
        return
    with contextlib.suppress(TelegramError):
        await query.answer()
    await ch.clear_keyboard(update)
    user_id = str(query.from_user.id)
    if data in (volunteers.CONSENT_YES, volunteers.CONSENT_NO):
        await ch.desk_reply(update, await ch.desk.on_consent(user_id, data == volunteers.CONSENT_YES))
    elif data.startswith(volunteers.SWITCH + " "):
        await ch.delivery.send_direct(str(chat.id), await ch.desk.switch(user_id, data.split(" ", 1)[1]))
    elif data == volunteers.FINISH:
        await ch.delivery.send_direct(str(chat.id), await ch.desk.finish(user_id))
    elif data == volunteers.NEW_REQUEST:
        outs = await ch.desk.start_request(user_id)
        await ch.delivery.send_direct(str(chat.id), outs or [])
    elif data == volunteers.UNLINK:
        conv = await ch.dialogue.conversation_for("telegram", str(chat.id), create=False)
        if conv is not None:
            await ch.delivery.send_direct(str(chat.id), await ch.desk.unlink_neighbour(conv.id))
    else:
        await ch.to_engine(update, kind="button", payload=data, route=await ch.route_button(update))


async def group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a team's group, a reply to a case reaches the person; any other group gets a pointer."""
    await channel_of(context).group_message(update, context)


async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The person blocked or restarted the bot, or the bot joined a group."""
    ch = channel_of(context)
    change = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    status = change.new_chat_member.status
    if chat.type == ChatType.PRIVATE:
        if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            await ch.delivery.mark_blocked(str(chat.id))
        elif status == ChatMemberStatus.MEMBER:
            await ch.delivery.unblock(str(chat.id))
    elif status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR) and not await ch.team_of_group(
        chat.id
    ):
        await ch.delivery.send_direct(str(chat.id), [Outbound(ch.group_pointer())])


async def error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure (class only, never content) and apologise in a private chat."""
    log.error("telegram update failed: %s", type(context.error).__name__)
    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == ChatType.PRIVATE
    ):
        with contextlib.suppress(Exception):
            await context.bot.send_message(update.effective_chat.id, texts.ERROR)


# --- the channel ----------------------------------------------------------------------------------------


def webhook_secret(settings: Settings) -> str:
    """The configured secret, else one derived from the token (the same in every replica)."""
    if settings.telegram_webhook_secret:
        if not _SECRET_OK.match(settings.telegram_webhook_secret):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET may use only A-Z, a-z, 0-9, _ and - (1-256 characters)")
        return settings.telegram_webhook_secret
    return hashlib.sha256(f"bussola-telegram-webhook:{settings.telegram_token}".encode()).hexdigest()


class TelegramChannel:
    """Built by the app lifespan with ``app.state``; ``await start()``, ``await stop()``."""

    def __init__(
        self,
        state: Any,
        settings: Settings,
        *,
        poll_timeout: float = 10.0,
        sweep_every: float = 30.0,
        leader_check_every: float = 5.0,
        max_retries: int = 3,
        concurrency: int = 64,
        retry_seconds: float = 30.0,
        window_hours: float = 72.0,
        announce_hours: float = 24.0,
        updates_kept_days: int = 14,
    ) -> None:
        self.state = state
        self.settings = settings
        self.dialogue = state.dialogue
        self.sessionmaker = state.sessionmaker
        self.broker = state.broker
        self.webhook = bool(settings.public_url)
        self.secret = webhook_secret(settings)
        self.poll_timeout = poll_timeout
        self.sweep_every = sweep_every
        self.leader_check_every = leader_check_every
        self.announce_window = timedelta(hours=announce_hours)
        self.updates_kept = timedelta(days=updates_kept_days)
        builder = (
            Application.builder()
            .token(settings.telegram_token)
            .base_url(settings.telegram_api_base_url)
            .rate_limiter(AIORateLimiter(max_retries=max_retries))
            .concurrent_updates(PerChatProcessor(concurrency))
            .connection_pool_size(max(8, concurrency // 2))
            .pool_timeout(30.0)
            .get_updates_read_timeout(poll_timeout + 10.0)
        )
        if self.webhook:
            builder = builder.updater(None)
        self.application = builder.build()
        self.application.bot_data["channel"] = self
        self._add_handlers()
        self.delivery = Delivery(
            self.sessionmaker,
            self.application.bot,
            page_url=self.page_url,
            retry_seconds=retry_seconds,
            window_hours=window_hours,
            shared=not is_sqlite(settings.database_url),
        )
        self.desk = VolunteerDesk(self.sessionmaker, self.broker.publish)
        self.lock = PollLock(settings.database_url)
        self.ready = asyncio.Event()
        self.polling = False
        self.username: str | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    # --- set-up ------------------------------------------------------------------------------------

    def _add_handlers(self) -> None:
        app = self.application
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app.add_handler(TypeHandler(Update, skip_seen), group=-1)
        app.add_handler(CallbackQueryHandler(button))
        app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.UpdateType.MESSAGE, group_message))
        app.add_handler(CommandHandler("start", start, filters=private))
        app.add_handler(CommandHandler("volontaria", volunteer_register, filters=private))
        app.add_handler(CommandHandler("aiuta", volunteer_help, filters=private))
        app.add_handler(CommandHandler("casi", volunteer_cases, filters=private))
        app.add_handler(CommandHandler("fine", volunteer_finish, filters=private))
        app.add_handler(MessageHandler(private & filters.LOCATION, location))
        app.add_handler(MessageHandler(private & filters.TEXT, text))
        app.add_handler(MessageHandler(private, attachment))
        app.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE & filters.TEXT, edited
            )
        )
        app.add_handler(TypeHandler(Update, mark_seen), group=1)
        app.add_error_handler(error)

    def page_url(self, service_id: str) -> str | None:
        base = self.settings.public_url.rstrip("/")
        return f"{base}/servizi/{quote(service_id, safe='')}" if base and service_id else None

    def group_pointer(self) -> str:
        link = f"https://t.me/{self.username}" if self.username else "la chat privata con Bussola"
        return GROUP_POINTER.format(link=link)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="telegram-channel"))

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.application.initialize()
                break
            except InvalidToken:
                log.error("TELEGRAM_TOKEN refused by Telegram: the Telegram channel is off")
                return
            except TelegramError as exc:
                log.warning("Telegram not reachable (%s): retrying in %.0fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        self.username = self.application.bot.username
        await self._best_effort(self.application.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS]))
        await self.application.start()
        self._tasks.append(
            asyncio.create_task(self._listen("outbound", self._on_outbound), name="tg-outbound")
        )
        self._tasks.append(asyncio.create_task(self._listen("queue", self._on_queue), name="tg-queue"))
        if self.webhook:
            await self._register_webhook()
        else:
            self._tasks.append(asyncio.create_task(self._poll(), name="tg-poller"))
        self.ready.set()
        log.info("Telegram channel ready (%s)", "webhook" if self.webhook else "polling")
        while True:
            await self._housekeeping()
            await asyncio.sleep(self.sweep_every)

    async def _best_effort(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except TelegramError as exc:
            log.warning("telegram call failed: %s", type(exc).__name__)
            return None

    async def _register_webhook(self) -> None:
        url = self.settings.public_url.rstrip("/") + WEBHOOK_PATH
        delay = 1.0
        while True:
            try:
                await self.application.bot.set_webhook(
                    url=url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES, max_connections=40
                )
                return
            except TelegramError as exc:
                log.warning("setWebhook failed (%s): retrying in %.0fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _poll(self) -> None:
        """Poll while holding the lock; otherwise wait and try again (take over when the poller dies)."""
        updater = self.application.updater
        if updater is None:  # built for a webhook: nothing to poll
            return
        while True:
            if not await self.lock.acquire():
                await asyncio.sleep(self.leader_check_every)
                continue
            log.info("this process polls Telegram updates")
            try:
                await updater.start_polling(
                    timeout=int(self.poll_timeout) or 1,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                    bootstrap_retries=3,
                )
                self.polling = True
                while await self.lock.alive():  # noqa: ASYNC110 - a health check, not an event wait
                    await asyncio.sleep(self.leader_check_every)
                log.warning("lost the polling lock: stopping polling")
            except TelegramError as exc:  # Telegram unreachable at start: try again, lock or not
                log.warning("polling could not start (%s)", type(exc).__name__)
            finally:
                self.polling = False
                if updater.running:
                    with contextlib.suppress(Exception):
                        await updater.stop()
                await self.lock.release()
            await asyncio.sleep(self.leader_check_every)

    async def _listen(self, topic: str, handler: Any) -> None:
        while True:
            try:
                async with self.broker.subscribe(topic) as queue:
                    await self.delivery.sweep()
                    while True:
                        await handler(await queue.get())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - resubscribe; the sweep covers the gap
                log.warning("telegram %s listener failed: %s", topic, type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _on_outbound(self, event: dict[str, Any]) -> None:
        if event.get("channel") == "telegram" and isinstance(event.get("conversation_id"), int):
            self.delivery.kick(event["conversation_id"])

    async def _on_queue(self, event: dict[str, Any]) -> None:
        hid = event.get("handoff_id")
        if not isinstance(hid, int):
            return
        kind = event.get("type")
        if kind == "handoff_created":
            await self.announce(hid)
        elif kind == "handoff_claimed":
            await self.note_claimed(hid)

    async def _housekeeping(self) -> None:
        try:
            await self.delivery.sweep(grace_seconds=5.0)
            await self.announce_pending()
            async with self.sessionmaker() as session:
                await session.execute(
                    delete(TelegramUpdate).where(TelegramUpdate.processed_at < utcnow() - self.updates_kept)
                )
                await volunteers.prune_attempts(session)
                await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - tried again at the next round
            log.warning("telegram housekeeping failed: %s", type(exc).__name__)

    async def stop(self) -> None:
        for task in reversed(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.delivery.close()
        with contextlib.suppress(Exception):
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
        with contextlib.suppress(Exception):
            if self.application.running:
                await self.application.stop()
        with contextlib.suppress(Exception):
            await self.application.shutdown()
        await self.lock.release()

    # --- webhook -----------------------------------------------------------------------------------

    def secret_matches(self, provided: str | None) -> bool:
        import hmac

        return bool(provided) and hmac.compare_digest(str(provided).encode(), self.secret.encode())

    async def process_webhook(self, data: dict[str, Any]) -> None:
        """Process one update from the webhook, in order with the chat's other updates."""
        update = Update.de_json(data, self.application.bot)
        app = self.application
        await app.update_processor.process_update(update, app.process_update(update))

    # --- updates processed once --------------------------------------------------------------------

    async def seen(self, update_id: int) -> bool:
        async with self.sessionmaker() as session:
            return await session.get(TelegramUpdate, update_id) is not None

    async def mark(self, update_id: int) -> None:
        async with self.sessionmaker() as session:
            session.add(TelegramUpdate(update_id=update_id))
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()

    # --- private chats -------------------------------------------------------------------------------

    async def route_reply(self, update: Update) -> Route | None:
        """A volunteer replying to a message of one of her neighbours writes for that neighbour."""
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or message.reply_to_message is None:
            return None
        return await self._route_to_message(update, chat.id, message.reply_to_message.message_id)

    async def route_button(self, update: Update) -> Route | None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None or query.message is None:
            return None
        return await self._route_to_message(update, chat.id, query.message.message_id)

    async def _route_to_message(self, update: Update, chat_id: int, tg_message_id: int) -> Route | None:
        conversation_id = await self.delivery.conversation_of(str(chat_id), tg_message_id)
        if conversation_id is None:
            return None
        label = await self.desk.label_of(conversation_id)
        if label is None:
            return Route(str(chat_id))
        user = update.effective_user
        if user is not None:
            await self.desk.activate_conversation(str(user.id), conversation_id)
        async with self.sessionmaker() as session:
            from bot.models import Conversation

            conv = await session.get(Conversation, conversation_id)
        if conv is None or not conv.sender.startswith(f"{chat_id}:"):
            return None
        return Route(conv.sender, label)

    async def to_engine(self, update: Update, *, route: Route | None = None, **inbound: Any) -> None:
        """The one path from a private chat to the dialogue engine and back."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        chat_id = str(chat.id)
        if route is None:
            route = await self.desk.route(str(user.id) if user else chat_id, chat_id)
        conv = await self.dialogue.conversation_for("telegram", route.sender)
        await self.delivery.ensure_chat(conv.id, chat_id, route.label)
        await self.delivery.unblock(chat_id)
        typing = asyncio.create_task(self._typing_later(chat.id))
        try:
            replies = await self.dialogue.handle(
                Inbound(
                    channel="telegram",
                    sender=route.sender,
                    message_id=f"u{update.update_id}",
                    first_name=user.first_name if user else None,
                    **inbound,
                )
            )
        finally:
            typing.cancel()
        unsaved = [r for r in replies if not r.id]
        if unsaved:  # an erasure: the conversation is gone, its last words are sent directly
            await self.delivery.send_direct(chat_id, unsaved, label=route.label)
        await self.delivery.flush(conv.id)
        if route.label is not None:
            extra = await self.desk.stamp_handoff(conv.id, self.username)
            if extra:
                await self.delivery.send_direct(chat_id, extra)

    async def _typing_later(self, chat_id: int, after: float = 1.0) -> None:
        """Show "sta scrivendo..." only when the answer takes a while (it costs an API call)."""
        await asyncio.sleep(after)
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def desk_reply(self, update: Update, reply: volunteers.DeskReply) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        chat_id = str(chat.id)
        if reply.messages:
            await self.delivery.send_direct(chat_id, reply.messages)
        if reply.conversation_id is not None and reply.engine_sender is not None:
            await self.delivery.ensure_chat(reply.conversation_id, chat_id, reply.label)
            if reply.note:
                await self.dialogue.say(reply.conversation_id, Outbound(text=reply.note), author="system")
            if reply.engine_payload:
                await self.to_engine(
                    update,
                    kind="button",
                    payload=reply.engine_payload,
                    route=Route(reply.engine_sender, reply.label),
                )

    async def link_neighbour(self, update: Update, token: str) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        conv = await self.dialogue.conversation_for("telegram", str(chat.id))
        await self.delivery.ensure_chat(conv.id, str(chat.id))
        outs, case_conversation, note = await self.desk.link_neighbour(token, conv.id)
        await self.delivery.send_direct(str(chat.id), outs, conversation_id=conv.id)
        if case_conversation is not None and note:
            await self.dialogue.say(case_conversation, Outbound(text=note), author="system")

    async def clear_keyboard(self, update: Update) -> None:
        """Take the buttons off a message once one was pressed: no double taps, no stale choices."""
        query = update.callback_query
        if query is None or query.message is None or not hasattr(query.message, "edit_reply_markup"):
            return
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)

    async def set_volunteer_commands(self, chat_id: int) -> None:
        await self._best_effort(
            self.application.bot.set_my_commands(
                [BotCommand(c, d) for c, d in VOLUNTEER_COMMANDS], scope=BotCommandScopeChat(chat_id)
            )
        )

    # --- team groups ---------------------------------------------------------------------------------

    async def team_of_group(self, chat_id: int) -> Any:
        from handoff.models import Team

        async with self.sessionmaker() as session:
            return await session.scalar(select(Team).where(Team.telegram_chat_id == str(chat_id)))

    async def _actor(self, telegram_user_id: int) -> Any:
        from handoff.models import Facilitator
        from handoff.security import load_actor

        async with self.sessionmaker() as session:
            f = await session.scalar(
                select(Facilitator).where(
                    Facilitator.telegram_user_id == str(telegram_user_id), Facilitator.active.is_(True)
                )
            )
            return None if f is None else await load_actor(session, f)

    def _service(self) -> Any:
        from handoff.service import HandoffService

        return HandoffService.from_state(self.state)

    async def group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or user is None:
            return
        body = message.text or ""
        if body.split("@", 1)[0].strip() == "/id":
            await self.delivery.send_direct(
                str(chat.id), [Outbound(GROUP_IDS.format(chat=chat.id, user=user.id))]
            )
            return
        if not await self.team_of_group(chat.id):
            if body.startswith("/") or (self.username and f"@{self.username}".lower() in body.lower()):
                await self.delivery.send_direct(str(chat.id), [Outbound(self.group_pointer())])
            return
        if message.reply_to_message is None or not body.strip():
            return
        hid = await self.delivery.handoff_of(str(chat.id), message.reply_to_message.message_id)
        if hid is None:
            return
        actor = await self._actor(user.id)
        if actor is None:
            await self._group_answer(chat.id, message.message_id, NOT_LINKED.format(user=user.id))
            return
        from handoff import queue

        try:
            await self._service().reply(actor, hid, body, client_key=f"tg{update.update_id}")
        except queue.QueueError as exc:
            await self._group_answer(chat.id, message.message_id, str(exc))
            return
        with contextlib.suppress(TelegramError):
            await message.set_reaction("👍")

    async def _group_answer(self, chat_id: int, reply_to: int, body: str) -> None:
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_message(chat_id, body, reply_to_message_id=reply_to)

    async def group_button(self, update: Update, data: str) -> None:
        """ "Prendi in carico" in a team's group: the console's atomic claim; one winner."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        parts = data.split(" ")
        if len(parts) != 2 or parts[0] != CLAIM_PAYLOAD or not parts[1].isdigit():
            with contextlib.suppress(TelegramError):
                await query.answer()
            return
        hid = int(parts[1])
        actor = await self._actor(query.from_user.id)
        if actor is None:
            with contextlib.suppress(TelegramError):
                await query.answer(NOT_LINKED.format(user=query.from_user.id), show_alert=True)
            return
        from handoff import queue

        try:
            await self._service().claim(actor, hid)
        except queue.QueueError as exc:
            with contextlib.suppress(TelegramError):
                await query.answer(str(exc), show_alert=True)
            return
        with contextlib.suppress(TelegramError):
            await query.answer(CLAIMED_BY.format(name=actor.first_name))
        await self.note_claimed(hid)

    async def _announcement_text(self, hid: int) -> tuple[str, str | None, str | None]:
        """(html, the group's chat id, the name of whoever holds the case)."""
        from handoff.models import Facilitator, Handoff, Team

        async with self.sessionmaker() as session:
            h = await session.get(Handoff, hid)
            team = await session.get(Team, h.team_id) if h and h.team_id else None
            if h is None or team is None or not team.telegram_chat_id:
                return "", None, None
            holder = await session.get(Facilitator, h.assigned_to) if h.assigned_to else None
            head = ANNOUNCE.format(id=h.id, priority=PRIORITY_LABELS.get(h.priority, h.priority))
            lines = [f"<b>{esc(head)}</b>", esc(h.summary or "")]
            if h.volunteer_name:
                lines.append(f"<i>Tramite la volontaria {esc(h.volunteer_name)}</i>")
            lines.append(
                "Rispondi a questo messaggio per scrivere alla persona (dopo averla presa in carico)."
            )
            return "\n".join(lines), team.telegram_chat_id, holder.first_name if holder else None

    async def announce(self, hid: int) -> None:
        """Announce a new case in its team's group, once across processes (the row is the claim)."""
        body, group, _holder = await self._announcement_text(hid)
        if group is None:
            return
        async with self.sessionmaker() as session:
            session.add(TelegramAnnouncement(handoff_id=hid, chat_id=group))
            try:
                await session.commit()
            except IntegrityError:
                return
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(BTN_CLAIM, callback_data=f"{CLAIM_PAYLOAD} {hid}")]]
        )
        try:
            sent = await self.application.bot.send_message(
                int(group), body, parse_mode=ParseMode.HTML, reply_markup=keyboard
            )
        except TelegramError as exc:
            log.warning("announcement of case %s failed: %s", hid, type(exc).__name__)
            async with self.sessionmaker() as session:  # give the claim back: the sweep tries again
                await session.execute(
                    delete(TelegramAnnouncement).where(TelegramAnnouncement.handoff_id == hid)
                )
                await session.commit()
            return
        async with self.sessionmaker() as session:
            await session.execute(
                update(TelegramAnnouncement)
                .where(TelegramAnnouncement.handoff_id == hid)
                .values(tg_message_id=sent.message_id)
            )
            await session.commit()
        await self.delivery.record(group, sent.message_id, handoff_id=hid)

    async def note_claimed(self, hid: int) -> None:
        """Show on the announcement who took the case (and take its button away), once per holder."""
        from handoff.models import Handoff

        body, group, holder = await self._announcement_text(hid)
        if group is None or holder is None:
            return
        async with self.sessionmaker() as session:
            h = await session.get(Handoff, hid)
            row = await session.get(TelegramAnnouncement, hid)
            if h is None or h.assigned_to is None or row is None or row.tg_message_id is None:
                return
            message_id = row.tg_message_id
            won = await session.execute(
                update(TelegramAnnouncement)
                .where(
                    TelegramAnnouncement.handoff_id == hid,
                    (TelegramAnnouncement.noted_holder.is_(None))
                    | (TelegramAnnouncement.noted_holder != h.assigned_to),
                )
                .values(noted_holder=h.assigned_to)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if won.rowcount != 1:  # type: ignore[attr-defined]
                return
        with contextlib.suppress(TelegramError):
            await self.application.bot.edit_message_text(
                f"{body}\n\n✅ {esc(CLAIMED_BY.format(name=holder))}",
                chat_id=int(group),
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=None,
            )

    async def announce_pending(self) -> None:
        """Cases created while no process could announce them (a restart, the broker down)."""
        from handoff.models import Handoff, Team

        async with self.sessionmaker() as session:
            ids = list(
                await session.scalars(
                    select(Handoff.id)
                    .join(Team, Team.id == Handoff.team_id)
                    .outerjoin(TelegramAnnouncement, TelegramAnnouncement.handoff_id == Handoff.id)
                    .where(
                        Team.telegram_chat_id.is_not(None),
                        Handoff.status == "waiting",
                        Handoff.created_at >= utcnow() - self.announce_window,
                        TelegramAnnouncement.handoff_id.is_(None),
                    )
                    .order_by(Handoff.id)
                    .limit(50)
                )
            )
        for hid in ids:
            await self.announce(hid)
