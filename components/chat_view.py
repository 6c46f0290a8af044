"""The chat: the history with each message's controls, the input, and a turn painted as the core runs it.

`qwenchat.chat.engine.ChatEngine` runs the turn (checks, limits, end detector, model, saving); this module
only starts it and paints its events. Model and user text is rendered with `st.markdown`, which never runs
HTML; images written in any message become links (`images_as_links`), so text cannot make the browser
fetch a URL.
"""

from __future__ import annotations

from typing import Iterator

import streamlit as st

from components import session
from components.settings import ChatOptions
from qwenchat import errors
from qwenchat.chat import saving
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import (
    Closed,
    Refused,
    ReplyEnded,
    ReplyProgress,
    ReplyStarted,
    TurnEvent,
    UserAdded,
    Waiting,
)
from qwenchat.chat.state import Action
from qwenchat.conversation import (
    FAILED,
    FAREWELL,
    INTERRUPTED,
    STOPPED,
    STREAMING,
    WITHDRAWN,
    Conversation,
    Message,
)
from qwenchat.rendering import images_as_links, stable_split

CURSOR = " ▌"
KEY_HELP = """
#### 需要一个 DashScope API Key / A DashScope API key is needed

1. 在阿里云百炼（Model Studio）控制台创建 API Key：[中国站 / China](https://bailian.console.aliyun.com/?apiKey=1) ·
   [国际站 / International](https://modelstudio.console.alibabacloud.com/?apiKey=1)。Key 以 `sk-` 开头。
2. 任选一种方式提供 / Provide it in one of these ways:
   - 在左侧边栏输入（只保存在本次浏览器会话）/ type it in the sidebar (kept in this browser session only);
   - 本地运行：在项目根目录的 `.env` 写入 / running locally, in `.env`: `DASHSCOPE_API_KEY=sk-...`;
   - 部署时：在 `.streamlit/secrets.toml` 或 Community Cloud 的 Secrets 中写入 / when deployed, in secrets:
     `DASHSCOPE_API_KEY = "sk-..."`。

新加坡或美国地域的 Key 请同时在侧边栏选择对应地域（或设置 `DASHSCOPE_BASE_URL`）。
Singapore or US keys also need their region (sidebar, or `DASHSCOPE_BASE_URL`).
"""


def render(conversation: Conversation, options: ChatOptions) -> None:
    chat = session.state()
    note = st.session_state.pop("note", None)
    if note:
        st.info(note)
    has_key = options.settings.ready
    if conversation.closed:
        placeholder = "对话已结束 / The conversation has ended"
    elif has_key:
        placeholder = "输入消息… / Type a message…"
    else:
        placeholder = "请先提供 API Key / Provide an API key first"
    # Read first (it is drawn at the bottom of the page anyway), so the turn can start before the history
    # is painted: a regenerate or an edit changes which messages the history shows.
    prompt = st.chat_input(placeholder, key="chat_input", submit_mode="stop",
                           disabled=not has_key or conversation.closed)
    action, chat.pending = chat.pending, None
    turn: Iterator[TurnEvent] | None = None
    first: TurnEvent | None = None
    if has_key and (prompt is not None or action is not None):
        engine = _engine(conversation, options)
        turn = _start(engine, conversation, prompt, action)
        first = next(turn, None)

    show_saving_state(chat.saving.status, conversation)
    if not conversation.messages:
        st.markdown("##### 你好！我是通义千问，有什么可以帮你？ / Hi! I'm Qwen. How can I help?")
    show_history(conversation)
    if not has_key:
        st.info(KEY_HELP)
    if conversation.closed and first is None:
        show_closed()
    if turn is not None and first is not None:
        try:
            paint_turn(first, turn)
        finally:
            turn.close()
        if not isinstance(first, Refused):  # redraw the sidebar from the conversation; a refusal stays shown
            st.rerun()


def _engine(conversation: Conversation, options: ChatOptions) -> ChatEngine:
    chat = session.state()
    painter_pace = _Pace()
    st.session_state["_pace"] = painter_pace
    return ChatEngine(
        conversation, session.client_for(options.settings), session.spending(options.settings), session.saver(),
        TurnOptions(options.settings.model, options.thinking, options.budget, options.judge, options.farewell,
                    options.params or {}),
        pace=painter_pace, verdicts=chat.verdicts)


def _start(engine: ChatEngine, conversation: Conversation, prompt: str | None,
           action: Action | None) -> Iterator[TurnEvent]:
    if prompt is not None:
        return engine.send(prompt)
    assert action is not None
    if action.kind == "regenerate":
        return engine.regenerate(action.message_id)
    return engine.edit(action.message_id, action.text)


class _Pace:
    """The pause between two paints of a streaming reply, set by its painter."""

    def __init__(self) -> None:
        self.interval = 0.05

    def __call__(self) -> float:
        return self.interval


def paint_turn(first: TurnEvent, turn: Iterator[TurnEvent]) -> None:
    painter: _Painter | None = None
    pace: _Pace = st.session_state["_pace"]
    event: TurnEvent | None = first
    while event is not None:
        match event:
            case Refused(problem, text):
                st.warning(problem.message())
                if text.strip():
                    with st.expander("未发送的内容（可复制）/ Unsent text (copy it)"):
                        st.code(text, language=None, wrap_lines=True)
            case UserAdded(message):
                if message is not first_painted(first):
                    show_message(message)
            case Closed(farewell):
                show_message(farewell)
            case ReplyStarted(message):
                painter = _Painter(st.chat_message("assistant"))
                painter.paint(message, streaming=True)
            case ReplyProgress(message) if painter is not None:
                painter.paint(message, streaming=message.status == STREAMING)
                pace.interval = painter.interval
            case Waiting() if painter is not None:
                painter.touch()
            case ReplyEnded(message) if painter is not None:
                painter.paint(message, streaming=False)
        event = next(turn, None)


def first_painted(first: TurnEvent) -> Message | None:
    """The user message the history already painted (a turn's first event is painted with the history)."""
    return first.message if isinstance(first, UserAdded) else None


# Every button costs a rerun about a millisecond: the newest messages get their controls, older ones on request.
CONTROL_WINDOW = 20


def show_history(conversation: Conversation) -> None:
    messages = conversation.messages
    chat = session.state()
    last_reply = next((m.id for m in reversed(messages) if m.role == "assistant"), "")
    controls_from = 0 if chat.all_controls else max(0, len(messages) - CONTROL_WINDOW)
    if controls_from:
        st.button("⋯ 显示较早消息的操作按钮（编辑、删除、复制） / Show the controls of earlier messages (edit, delete, "
                  "copy)", key="all_controls", on_click=_show_all_controls, type="tertiary")
    branched = _branch_points(conversation)
    for index, message in enumerate(messages):
        if message.status == STREAMING:  # the turn running now paints it
            continue
        if message.id == conversation.context_start:
            st.caption("✂️ 以上较早的消息超出上下文预算，上一次请求没有发送它们。 / The earlier messages above "
                       "exceeded the context budget and were not sent with the last request.")
        show_message(message, conversation=conversation, is_last_reply=message.id == last_reply,
                     full_controls=index >= controls_from, branched=message.parent_id in branched)


def _branch_points(conversation: Conversation) -> set[str]:
    """The parents with more than one child of a role: where a ‹ 1/2 › switch is drawn (one pass, not one
    search per message)."""
    seen: set[tuple[str, str]] = set()
    points: set[str] = set()
    for m in conversation.all_messages():
        key = (m.parent_id, m.role)
        if key in seen:
            points.add(m.parent_id)
        seen.add(key)
    return points


def _show_all_controls() -> None:
    session.state().all_controls = True


def show_saving_state(status: str, conversation: Conversation) -> None:
    if status == saving.UNAVAILABLE:
        st.warning("⚠️ 历史记录暂时无法保存：对话仍在本页中，恢复后会自动保存。 / History cannot be saved right now: "
                   "the conversation stays on this page and is saved once storage is back.")
    elif status == saving.DELETED:
        st.warning("这个对话已在另一个标签页中删除，不会再保存。 / This conversation was deleted in another tab and is "
                   "no longer saved.")
        st.button("💾 另存为新对话 / Save a copy", key="save_copy", on_click=_save_copy)
    elif status == saving.CONFLICT:
        st.info("另一个标签页也修改了这个对话：两边的消息都已保留（用 ‹ › 切换分支）。 / Another tab changed this "
                "conversation too: both sides are kept (switch branches with ‹ ›).")


def _save_copy() -> None:
    from qwenchat.conversation import copy_of

    copy = copy_of(session.conversation())
    session.open_conversation(copy)
    session.save(copy)


def show_closed() -> None:
    st.info("对话已结束。可以开始新对话，或者继续当前对话。 / The conversation has ended. Start a new one, or "
            "keep talking in this one.")
    left, right = st.columns(2)
    left.button("🆕 开始新对话 / New conversation", on_click=session.reset_conversation, key="new_conversation",
                width="stretch", type="primary")
    right.button("↩️ 继续对话 / Keep talking", on_click=_reopen, key="keep_talking", width="stretch")


def _reopen() -> None:
    conversation = session.conversation()
    conversation.closed = False
    session.save(conversation)


def show_message(message: Message, *, conversation: Conversation | None = None, is_last_reply: bool = False,
                 full_controls: bool = True, branched: bool = False) -> None:
    chat = session.state()
    with st.chat_message(message.role):
        if conversation is not None and message.role == "user" and chat.editing == message.id:
            _edit_form(message)
            return
        if message.reasoning:
            with st.expander("思考过程 / Thinking", expanded=False):
                st.markdown(images_as_links(message.reasoning))
        if message.status != WITHDRAWN and message.content:
            st.markdown(images_as_links(message.content))
        error = None
        if message.status == STOPPED:
            st.caption("⏹ 已停止：以上是停止前收到的部分。 / Stopped: this is what arrived before the stop.")
        elif message.status in (FAILED, INTERRUPTED, WITHDRAWN):
            error = errors.ChatError(message.error or errors.UNKNOWN)
            show = st.warning if message.status != FAILED else st.error
            show(f"{error.message_zh}\n\n{error.message_en}")
        if conversation is not None and (full_controls or branched):
            _controls(conversation, message, is_last_reply=is_last_reply, error=error, full=full_controls,
                      branched=branched)


def _controls(conversation: Conversation, message: Message, *, is_last_reply: bool,
              error: errors.ChatError | None, full: bool = True, branched: bool = True) -> None:
    """A row of small buttons: branch switch, retry or regenerate, edit, copy, delete (`full`), or the branch
    switch alone."""
    siblings = conversation.siblings(message.id) if branched else [message]
    buttons: list[tuple[str, str, str, object, tuple]] = []  # key, label, tooltip, callback, args
    if len(siblings) > 1:
        at = next(i for i, m in enumerate(siblings) if m.id == message.id)
        buttons.append(("previous", "‹", "上一个版本 / Previous version", _switch, (siblings[at - 1].id,))
                       if at > 0 else ("", "‹", "", None, ()))
        buttons.append(("", f"{at + 1}/{len(siblings)}", "", None, ()))
        buttons.append(("next", "›", "下一个版本 / Next version", _switch, (siblings[at + 1].id,))
                       if at < len(siblings) - 1 else ("", "›", "", None, ()))
    if full and message.role == "user":
        buttons.append(("edit", "✏️", "编辑并重新发送 / Edit and resend", _edit, (message.id,)))
        buttons.append(("delete", "🗑", "删除这一问一答 / Delete this question and its answer", _delete,
                        (message.id,)))
    elif full and message.status != FAREWELL and is_last_reply and not conversation.closed:
        if error is None or error.retryable:
            key, label, tip = ("retry", "🔁 重试 / Retry", "") if error else \
                ("regenerate", "🔁", "重新生成 / Regenerate")
            buttons.append((key, label, tip, _regenerate, (message.id,)))
    if not buttons and not (full and message.role == "assistant" and message.content and message.status != WITHDRAWN):
        return
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    for key, label, tip, callback, args in buttons:
        if callback is None:
            row.caption(label)
        else:
            row.button(label, key=f"{key}_{message.id}", help=tip or None, on_click=callback, args=args,
                       type="tertiary")
    copyable = full and message.role == "assistant" and message.content and message.status != WITHDRAWN
    if copyable:
        row.button("📋", key=f"copy_{message.id}", help="复制 Markdown / Copy Markdown", on_click=_toggle_copy,
                   args=(message.id,), type="tertiary")
        if session.state().copying == message.id:  # only the one asked for: a code block per reply costs reruns
            st.code(message.content, language="markdown", wrap_lines=True)


def _toggle_copy(message_id: str) -> None:
    chat = session.state()
    chat.copying = "" if chat.copying == message_id else message_id


def _switch(message_id: str) -> None:
    conversation = session.conversation()
    conversation.switch_to(message_id)
    session.save(conversation)


def _regenerate(message_id: str) -> None:
    session.state().pending = Action("regenerate", message_id)


def _edit(message_id: str) -> None:
    session.state().editing = message_id


def _delete(message_id: str) -> None:
    conversation = session.conversation()
    removed = conversation.delete_pair(message_id)
    session.saver().delete_messages(conversation, removed)
    session.save(conversation)


def _edit_form(message: Message) -> None:
    with st.form(f"edit_{message.id}", border=False):
        text = st.text_area("编辑消息 / Edit the message", value=message.content, key=f"edit_text_{message.id}")
        send, cancel = st.columns(2)
        sent = send.form_submit_button("发送 / Send", type="primary", width="stretch")
        cancelled = cancel.form_submit_button("取消 / Cancel", width="stretch")
    chat = session.state()
    if sent:
        chat.editing = ""
        chat.pending = Action("edit", message.id, text)
        st.rerun()
    elif cancelled:
        chat.editing = ""
        st.rerun()


class _Painter:
    """Paints a streaming reply: finished blocks are frozen once, only the open tail is re-rendered, and
    the pause between paints grows with the tail so that total work stays linear in the reply's length."""

    def __init__(self, container) -> None:
        with container:
            self._thinking_slot = st.empty()
            self._frozen = st.container()
            self._tail = st.empty()
            self._status = st.empty()
        self._reasoning = None
        self._frozen_upto = 0
        self._last_tail = ""
        self.interval = 0.05

    def touch(self) -> None:
        """Nothing new arrived: redraw the tail, which lets Streamlit act on a Stop pressed meanwhile."""
        self._tail.markdown(self._last_tail + CURSOR)

    def paint(self, message: Message, *, streaming: bool) -> None:
        if message.status == WITHDRAWN:  # moderation withdrew it: the text must not stay on screen
            self._frozen.empty()
            self._tail.empty()
            self._show_status(message)
            return
        if message.reasoning:
            if self._reasoning is None:
                with self._thinking_slot.container():
                    with st.expander("思考过程 / Thinking", expanded=False):
                        self._reasoning = st.empty()
            self._reasoning.markdown(images_as_links(message.reasoning))
        text = message.content
        cut = stable_split(text[self._frozen_upto:])
        if cut:
            with self._frozen:
                st.markdown(images_as_links(text[self._frozen_upto:self._frozen_upto + cut]))
            self._frozen_upto += cut
        tail = images_as_links(text[self._frozen_upto:])
        self._last_tail = tail
        if tail or streaming:
            self._tail.markdown(tail + (CURSOR if streaming else ""))
        self.interval = 0.05 + (len(tail) + len(message.reasoning)) / 200_000
        if not streaming:
            self._show_status(message)

    def _show_status(self, message: Message) -> None:
        if message.status in (FAILED, INTERRUPTED, WITHDRAWN):
            error = errors.ChatError(message.error or errors.UNKNOWN)
            with self._status.container():
                (st.warning if message.status != FAILED else st.error)(f"{error.message_zh}\n\n{error.message_en}")
