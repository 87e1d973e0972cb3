"""The Telegram side: a python-telegram-bot `Application` with one handler per command, free
text routed to the repository Q&A, and the confirmation buttons of /pause, /resume and
/reset_drawdown.

Every update first passes `contact_check`: only TELEGRAM_ALLOWED_USERS get answers; anyone
else gets one refusal, then silence (each attempt logged). Every text sent goes through
`send`, which redacts it (`optionsdesk.redaction`) and cuts it to Telegram's limit. The work is
done by `reviewbot.commands` in a worker thread (`sync_to_async`), since it uses the ORM.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from optionsdesk.llm import LLMClient
from optionsdesk.redaction import redact
from reviewbot.commands import COMMANDS, Context, Reply, command_run, confirmation_handle
from reviewbot.models import BotMessage
from reviewbot.ports import TradingPort
from reviewbot.services import contact_check, message_record, session_touch

logger = logging.getLogger(__name__)

#: Telegram refuses messages longer than 4096 characters.
MAX_MESSAGE_CHARS = 4000
REFUSAL = "Sorry, this bot answers only its allowed users."


def _db(fn: Any) -> Any:
    """`fn` run in the ORM's worker thread, with stale connections closed first (the bot runs
    for days; a database restart must not leave it with a dead connection)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        return fn(*args, **kwargs)

    return sync_to_async(call)


def outgoing(text: str) -> str:
    """What may leave: redacted, and cut to Telegram's limit."""
    clean = redact(text)
    if len(clean) > MAX_MESSAGE_CHARS:
        clean = clean[: MAX_MESSAGE_CHARS - 20] + "\n… (cut)"
    return clean


async def send(message: Message, reply: Reply) -> Message:
    """Reply to `message` with redacted text and optional inline buttons."""
    markup = None
    if reply.buttons:
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in reply.buttons]]
        )
    return await message.reply_text(outgoing(reply.text), reply_markup=markup)


class ReviewBot:
    """Handlers bound to a trading port and an LLM client (None: the configured ones)."""

    def __init__(self, *, trading: TradingPort | None = None, llm: LLMClient | None = None):
        self.trading = trading
        self.llm = llm

    async def _admit(self, update: Update) -> Any:
        """The session when the sender is allowed; None (after at most one refusal) if not."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return None
        text = update.effective_message.text if update.effective_message else ""
        access = await _db(contact_check)(
            user_id=user.id, username=user.username or "", text=text or ""
        )
        if access != "allowed":
            if access == "refuse" and update.effective_message is not None:
                await send(update.effective_message, Reply(REFUSAL))
            if update.callback_query is not None:
                await update.callback_query.answer()
            return None
        return await _db(session_touch)(
            chat_id=chat.id, user_id=user.id, username=user.username or ""
        )

    def _context(self, session: Any, update: Update) -> Context:
        user = update.effective_user
        return Context(
            session=session,
            telegram_user_id=user.id if user else 0,
            trading=self.trading,
            llm=self.llm,
        )

    async def _answer(self, update: Update, name: str, arg: str) -> None:
        session = await self._admit(update)
        message = update.effective_message
        if session is None or message is None:
            return
        await _db(message_record)(
            session=session,
            direction=BotMessage.Direction.IN,
            text=message.text or "",
            command=name,
        )
        ctx = self._context(session, update)
        try:
            reply = await _db(command_run)(name, arg, ctx)
        except Exception:
            logger.exception("reviewbot: /%s failed", name)
            reply = Reply(f"Sorry, /{name} failed; the error is in the bot's log.")
        sent = await send(message, reply)
        await _db(message_record)(
            session=session,
            direction=BotMessage.Direction.OUT,
            text=sent.text or reply.text,
            command=name,
            tool_calls=reply.tool_calls,
            model=reply.model,
        )

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any /command: its name and the rest of the line as the argument."""
        text = (update.effective_message.text or "") if update.effective_message else ""
        head, _, arg = text.partition(" ")
        name = head.lstrip("/").split("@", 1)[0].lower()
        await self._answer(update, name, arg.strip())

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Free text: a question about the code."""
        text = (update.effective_message.text or "") if update.effective_message else ""
        await self._answer(update, "ask", text)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A confirmation button of /pause, /resume or /reset_drawdown."""
        query = update.callback_query
        session = await self._admit(update)
        if query is None or session is None:
            return
        ctx = self._context(session, update)
        result = await _db(confirmation_handle)(query.data or "", ctx)
        await query.answer()
        await query.edit_message_text(outgoing(result))
        await _db(message_record)(
            session=session, direction=BotMessage.Direction.OUT, text=result, command="confirm"
        )


def build_application(
    *,
    token: str,
    base_url: str,
    trading: TradingPort | None = None,
    llm: LLMClient | None = None,
    **builder_options: Any,
) -> Any:
    """The bot: `base_url` is the Bot API root (`…/bot`, the token is appended)."""
    builder = Application.builder().token(token).base_url(base_url)
    builder = builder.base_file_url(base_url.replace("/bot", "/file/bot"))
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    app = builder.build()
    bot = ReviewBot(trading=trading, llm=llm)
    app.add_handler(CommandHandler(list(COMMANDS), bot.on_command))
    app.add_handler(MessageHandler(filters.COMMAND, bot.on_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, bot.on_text))
    app.add_handler(CallbackQueryHandler(bot.on_button))
    return app
