"""The chat: the history with each message's controls, the input, and a turn painted as the core runs it.

`qwenchat.chat.engine.ChatEngine` runs the turn (checks, limits, end detector, model, saving); this module
only starts it and paints its events. Model and user text is rendered with `st.markdown`, which never runs
HTML; images written in any message become links (`images_as_links`), so text cannot make the browser
fetch a URL. Attached images (`qwenchat.images`) are shown with `st.image` from thumbnail bytes made here
from the store, never from a URL.
"""

from __future__ import annotations

import os
from typing import Iterator

import streamlit as st

from components import knowledge, knowledge_picker, knowledge_sources, session, tools_panel
from components.lang import lang, tr
from components.navigation import SETTINGS
from components.session import read_secrets
from components.settings import ChatOptions
from components.tool_steps import has_steps, show_tool_steps
from qwenchat import documents, errors, images, settings
from qwenchat.catalog import VISION_MODEL, lookup
from qwenchat.chat import saving
from qwenchat.chat.engine import ChatEngine, TurnOptions
from qwenchat.chat.events import (
    Closed,
    Noticed,
    Refused,
    ReplyEnded,
    ReplyProgress,
    ReplyStarted,
    ToolFinished,
    ToolStarted,
    TurnEvent,
    UserAdded,
    Waiting,
)
from qwenchat.chat.retrieval import Retrieval
from qwenchat.chat.state import Action, ChatSession, VisionOffer
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
from qwenchat.rendering import escape_inline, images_as_links, stable_split

CURSOR = " ▌"
def render(conversation: Conversation, options: ChatOptions) -> None:
    chat = session.state()
    note = st.session_state.pop("note", None)
    if note:
        st.info(tr(note))  # a catalog id, set by components.session
    has_key = options.settings.ready
    if conversation.closed:
        placeholder = tr("chat.placeholder.closed")
    elif has_key:
        placeholder = tr("chat.placeholder.type")
    else:
        placeholder = tr("chat.placeholder.no_key")
    # Read first (it is drawn at the bottom of the page anyway), so the turn can start before the history
    # is painted: a regenerate or an edit changes which messages the history shows.
    prompt = st.chat_input(placeholder, key="chat_input", submit_mode="stop", accept_file="multiple",
                           file_type=[*images.FILE_TYPES, *documents.FILE_TYPES], max_upload_size=images.MAX_UPLOAD_BYTES // 2**20,
                           disabled=not has_key or conversation.closed)
    action, chat.pending = chat.pending, None
    turn: Iterator[TurnEvent] | None = None
    first: TurnEvent | None = None
    pace = _Pace()
    if has_key and (prompt is not None or action is not None):
        chat.offer = None  # a new message (or the offer taken) ends an earlier offer
        engine = _engine(conversation, options, pace, vision=action is not None and action.kind == "vision")
        turn = _start(engine, prompt, action)
        first = next(turn, None)

    show_saving_state(chat.saving.status, conversation)
    if not conversation.messages:
        st.markdown(tr("chat.greeting"))
    show_history(conversation)
    if not has_key:
        st.info(tr("chat.key_help"))
        st.page_link(SETTINGS, label=tr("page.settings"), icon="⚙️")
    if conversation.closed and first is None:
        show_closed()
    if turn is not None and first is not None:
        try:
            paint_turn(first, turn, pace)
        finally:
            turn.close()
        if not isinstance(first, Refused):  # redraw the sidebar from the conversation; a refusal stays shown
            st.rerun()


def _engine(conversation: Conversation, options: ChatOptions, pace: "_Pace", *, vision: bool = False) -> ChatEngine:
    chat = session.state()
    secrets = read_secrets()
    provider, spending = session.client_for(options.settings), session.spending(options.settings)
    return ChatEngine(
        conversation, provider, spending, session.saver(),
        TurnOptions(options.settings.model, thinking=options.thinking, budget=options.budget, judge=options.judge,
                    farewell=options.farewell, lang=lang(), params=options.params or {},
                    persona_name=options.persona, tools=options.tools, tool_limits=tools_panel.limits(),
                    tool_context=tools_panel.context(conversation, options.settings, spending),
                    tools_refused=chat.tools_refused,
                    vision_model=str(settings.read("QWENCHAT_VISION_MODEL", secrets, os.environ)),
                    auto_vision=vision or bool(settings.read("QWENCHAT_AUTO_VISION", secrets, os.environ))),
        pace=pace, verdicts=chat.verdicts, retrieval=_retrieval(conversation, options, provider, spending))


def _retrieval(conversation: Conversation, options: ChatOptions, provider, spending) -> Retrieval | None:
    """The conversation's knowledge base, searched before each turn (None: answer without one)."""
    kb_id = knowledge_picker.chosen(conversation)
    if not kb_id:
        return None
    return Retrieval(knowledge.bases(options.settings), kb_id, provider, spending)


def _start(engine: ChatEngine, prompt, action: Action | None) -> Iterator[TurnEvent]:
    if prompt is not None:
        text = prompt if isinstance(prompt, str) else prompt.text
        files = [] if isinstance(prompt, str) else [(f.name, f.getvalue()) for f in prompt.files]
        return _send(engine, text or "", files)
    assert action is not None
    if action.kind == "vision":
        return engine.send(action.text, attachments=action.images)
    if action.kind == "regenerate":
        return engine.regenerate(action.message_id)
    return engine.edit(action.message_id, action.text)


def _send(engine: ChatEngine, text: str, files: list[tuple[str, bytes]]) -> Iterator[TurnEvent]:
    """Prepare the attached files (refusing the message, text kept, when one cannot be sent), then send."""
    model = engine.options.model
    if any(not documents.is_document(name) for name, _ in files) and not lookup(model).vision:
        model = engine.options.vision_model or VISION_MODEL  # the model that would see them
    prepared, problem = images.prepare_attachments(files, model)
    if problem is not None:
        yield Refused(problem, text)
        return
    for event in engine.send(text, attachments=prepared):
        if isinstance(event, Refused) and event.problem.kind == "blind":
            session.state().offer = VisionOffer(text, tuple(prepared), event.problem.params["vision"])
        yield event


class _Pace:
    """The pause between two paints of a streaming reply, set by its painter."""

    def __init__(self) -> None:
        self.interval = 0.05

    def __call__(self) -> float:
        return self.interval


def paint_turn(first: TurnEvent, turn: Iterator[TurnEvent], pace: "_Pace") -> None:
    painter: _Painter | None = None
    event: TurnEvent | None = first
    while event is not None:
        match event:
            case Refused(problem, text):
                st.warning(problem.message(lang()))
                offer = session.state().offer
                if problem.kind == "blind" and offer is not None:
                    st.button(tr("image.use_vision", vision=offer.model), key="use_vision", type="primary",
                              on_click=_take_offer)
                if text.strip():
                    with st.expander(tr("chat.unsent")):
                        st.code(text, language=None, wrap_lines=True)
            case UserAdded(message):
                if message is not first_painted(first):
                    show_message(message)
            case Closed(farewell):
                show_message(farewell)
            case ReplyStarted(message):
                show_persona_notes(message)  # a regenerate sent with a new persona
                painter = _Painter(st.chat_message("assistant"))
                if _answered_by_vision(message):
                    with painter.note:
                        st.caption(tr("image.answered_by", model=message.model))
                painter.paint(message, streaming=True)
            case ReplyProgress(message) if painter is not None:
                painter.paint(message, streaming=message.status == STREAMING)
                pace.interval = painter.interval
            case Waiting() if painter is not None:
                painter.touch()
            case ToolStarted(message, _) | ToolFinished(message, _) | Noticed(message, _) if painter is not None:
                painter.paint_steps(message)
            case ReplyEnded(message) if painter is not None:
                painter.paint(message, streaming=False)
        event = next(turn, None)


def _take_offer() -> None:
    chat = session.state()
    if chat.offer is not None:
        chat.pending = Action("vision", "", chat.offer.text, chat.offer.images)
        chat.offer = None


def first_painted(first: TurnEvent) -> Message | None:
    """The user message the history already painted (a turn's first event is painted with the history)."""
    return first.message if isinstance(first, UserAdded) else None


# Every control row costs each rerun of the chat (in the script and in the browser): the newest two turns get
# their controls (regenerate only ever applies to the newest reply), older messages on request ("⋯").
CONTROL_WINDOW = 4


def show_history(conversation: Conversation) -> None:
    messages = conversation.messages
    chat = session.state()
    last_reply = next((m.id for m in reversed(messages) if m.role == "assistant"), "")
    controls_from = 0 if chat.all_controls else max(0, len(messages) - CONTROL_WINDOW)
    if controls_from:
        st.button(tr("chat.all_controls"), key="all_controls", on_click=_show_all_controls, type="tertiary")
    branched = _branch_points(conversation)
    chosen_sees = lookup(conversation.model).vision  # once per run, not a session-state read per reply
    for index, message in enumerate(messages):
        if message.status == STREAMING:  # the turn running now paints it
            continue
        if message.id == conversation.context_start:
            st.caption(tr("chat.context_cut"))
        show_message(message, conversation=conversation, is_last_reply=message.id == last_reply,
                     full_controls=index >= controls_from, branched=message.parent_id in branched, chat=chat,
                     chosen_sees=chosen_sees)


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
        st.warning(tr("chat.saving.unavailable"))
    elif status == saving.DELETED:
        st.warning(tr("chat.saving.deleted"))
        st.button(tr("chat.save_copy"), key="save_copy", on_click=_save_copy)
    elif status == saving.CONFLICT:
        st.info(tr("chat.saving.conflict"))


def _save_copy() -> None:
    from qwenchat.conversation import copy_of

    copy = copy_of(session.conversation(), lang())
    session.open_conversation(copy)
    session.save(copy)


def show_closed() -> None:
    st.info(tr("chat.closed"))
    left, right = st.columns(2)
    left.button(tr("chat.new_conversation"), on_click=session.reset_conversation, key="new_conversation",
                width="stretch", type="primary")
    right.button(tr("chat.keep_talking"), on_click=_reopen, key="keep_talking", width="stretch")


def _reopen() -> None:
    conversation = session.conversation()
    conversation.closed = False
    session.save(conversation)


def show_persona_notes(message: Message) -> None:
    """The system prompt changed here (a `persona` part): say so where it starts to apply."""
    for part in message.parts:
        if part.type == "persona":
            st.caption(tr("chat.persona_from_here", name=escape_inline(part.text) or tr("settings.persona_custom")))


def show_message(message: Message, *, conversation: Conversation | None = None, is_last_reply: bool = False,
                 full_controls: bool = True, branched: bool = False, chat: ChatSession | None = None,
                 chosen_sees: bool | None = None) -> None:
    """One message; with its `conversation`, its controls (`chat`: the session's state, and `chosen_sees`:
    whether the conversation's model can see, both read once per run by the caller: a session-state read per
    message costs a long history's rerun about 10 ms). A message without parts (most text messages) skips the
    checks for persona notes, images, documents, tool steps and sources."""
    if conversation is not None and chat is None:
        chat = session.state()
    parts = message.parts
    if parts:
        show_persona_notes(message)
    with st.chat_message(message.role):
        if chat is not None and message.role == "user" and chat.editing == message.id:
            _edit_form(message)
            return
        if message.reasoning:
            with st.expander(tr("chat.thinking"), expanded=False):
                st.markdown(images_as_links(message.reasoning))
        if parts:
            if message.images:
                show_images(message)
            for part in parts:
                if part.type == documents.FILE:
                    show_document(part)
        if message.role == "assistant" and message.model and _answered_by_vision(message, chosen_sees):
            st.caption(tr("image.answered_by", model=message.model))
        if parts and message.status != WITHDRAWN and has_steps(message):
            show_tool_steps(message)
        grounded = bool(parts) and knowledge_sources.has_grounding(message)
        if message.status != WITHDRAWN and message.content:
            st.markdown(images_as_links(knowledge_sources.marked(message) if grounded else message.content))
        if grounded and message.status != WITHDRAWN:
            knowledge_sources.render(message)
        error = None
        if message.status == STOPPED:
            st.caption(tr("chat.stopped"))
        elif message.status in (FAILED, INTERRUPTED, WITHDRAWN):
            error = errors.ChatError(message.error or errors.UNKNOWN)
            show = st.warning if message.status != FAILED else st.error
            show(error.message(lang()))
        if conversation is not None and chat is not None and (full_controls or branched):
            _controls(conversation, message, is_last_reply=is_last_reply, error=error, full=full_controls,
                      branched=branched, copying=chat.copying)


def _answered_by_vision(message: Message, chosen_sees: bool | None = None) -> bool:
    """A reply from a vision model standing in for the chosen model, which cannot see (`chosen_sees`: whether
    it can, when the caller knows; otherwise read from the session's conversation)."""
    if not message.model or not lookup(message.model).vision:
        return False
    if chosen_sees is None:
        chosen_sees = lookup(session.conversation().model).vision
    return not chosen_sees


def show_images(message: Message) -> None:
    """The message's images as thumbnails, with their token estimate for the model in use."""
    owner = session.owner()
    shown, names, missing = [], [], []
    for part in message.images:
        try:
            shown.append(_thumbnail(owner, str(part.data.get("id", ""))))
            names.append(part.text or None)
        except LookupError:
            missing.append(part.text or "?")
    if shown:
        st.image(shown, caption=names if any(names) else None, width=160)
    for name in missing:
        st.caption(tr("image.missing", name=escape_inline(name)))
    model = session.conversation().model
    model = model if lookup(model).vision else VISION_MODEL  # the model that would see them
    tokens = sum(images.estimate_image_tokens(int(p.data.get("width") or 1), int(p.data.get("height") or 1), model)
                 for p in message.images)
    st.caption(tr("image.tokens", count=len(message.images), tokens=tokens))


def show_document(part) -> None:
    """The note under a message with a document: its name, pages and what its text costs per request."""
    info = documents.summary(part)
    pages = tr("doc.pages", pages=info["pages"]) if info["pages"] else ""
    st.caption(tr("doc.note", name=escape_inline(info["name"]) or "?", pages=pages, tokens=info["tokens"]))


@st.cache_data(max_entries=256, show_spinner=False)
def _thumbnail(owner: str, image_id: str) -> bytes:
    """A thumbnail of one of `owner`'s images (cached by owner and id: an image never changes under its id).
    Raises LookupError when the image is not available now, so nothing missing is cached."""
    data = session.saver().image(image_id) if owner == session.owner() else None
    if data is None:
        raise LookupError(image_id)
    return images.thumbnail(data)


def _controls(conversation: Conversation, message: Message, *, is_last_reply: bool,
              error: errors.ChatError | None, full: bool = True, branched: bool = True, copying: str = "") -> None:
    """A row of small buttons: branch switch, retry or regenerate, edit, copy, delete (`full`), or the branch
    switch alone."""
    siblings = conversation.siblings(message.id) if branched else [message]
    buttons: list[tuple[str, str, str, object, tuple]] = []  # key, label, tooltip, callback, args
    if len(siblings) > 1:
        at = next(i for i, m in enumerate(siblings) if m.id == message.id)
        buttons.append(("previous", "‹", tr("chat.previous_version"), _switch, (siblings[at - 1].id,))
                       if at > 0 else ("", "‹", "", None, ()))
        buttons.append(("", f"{at + 1}/{len(siblings)}", "", None, ()))
        buttons.append(("next", "›", tr("chat.next_version"), _switch, (siblings[at + 1].id,))
                       if at < len(siblings) - 1 else ("", "›", "", None, ()))
    if full and message.role == "user":
        buttons.append(("edit", "✏️", tr("chat.edit_resend"), _edit, (message.id,)))
        buttons.append(("delete", "🗑", tr("chat.delete_pair"), _delete, (message.id,)))
    elif full and message.status != FAREWELL and is_last_reply and not conversation.closed:
        if error is None or error.retryable:
            key, label, tip = ("retry", tr("chat.retry"), "") if error else \
                ("regenerate", "🔁", tr("chat.regenerate"))
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
        row.button("📋", key=f"copy_{message.id}", help=tr("chat.copy_markdown"), on_click=_toggle_copy,
                   args=(message.id,), type="tertiary")
        if copying == message.id:  # only the one asked for: a code block per reply costs reruns
            st.code(message.content, language="markdown", wrap_lines=True)


def _toggle_copy(message_id: str) -> None:
    chat = session.state()
    chat.copying = "" if chat.copying == message_id else message_id


def _switch(message_id: str) -> None:
    conversation = session.conversation()
    if conversation.find(message_id) is None:  # a stale click (a double click, another tab): nothing to do
        return
    conversation.switch_to(message_id)
    _closed_by_its_branch(conversation)
    session.save(conversation)


def _closed_by_its_branch(conversation: Conversation) -> None:
    """A conversation is closed while the branch on screen ends with the farewell."""
    conversation.closed = bool(conversation.messages) and conversation.messages[-1].status == FAREWELL


def _regenerate(message_id: str) -> None:
    session.state().pending = Action("regenerate", message_id)


def _edit(message_id: str) -> None:
    session.state().editing = message_id


def _delete(message_id: str) -> None:
    conversation = session.conversation()
    if conversation.find(message_id) is None:  # a stale click (a double click, another tab): nothing to do
        return
    removed = conversation.delete_pair(message_id)
    _closed_by_its_branch(conversation)
    session.saver().delete_messages(conversation, removed)
    session.save(conversation)


def _edit_form(message: Message) -> None:
    with st.form(f"edit_{message.id}", border=False):
        text = st.text_area(tr("chat.edit_label"), value=message.content, key=f"edit_text_{message.id}")
        send, cancel = st.columns(2)
        sent = send.form_submit_button(tr("chat.send"), type="primary", width="stretch")
        cancelled = cancel.form_submit_button(tr("chat.cancel"), width="stretch")
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
            self.note = st.container()
            self._thinking_slot = st.empty()
            self._steps = st.empty()
            self._frozen = st.container()
            self._tail = st.empty()
            self._status = st.empty()
        self._reasoning = None
        self._frozen_upto = 0
        self._last_tail = ""
        self._status_shown = False
        self.interval = 0.05

    def paint_steps(self, message: Message) -> None:
        """The tool steps so far, in their block before the answer."""
        with self._steps.container():
            show_tool_steps(message, running=message.status == STREAMING)

    def touch(self) -> None:
        """Nothing new arrived: redraw the tail, which lets Streamlit act on a Stop pressed meanwhile."""
        self._tail.markdown(self._last_tail + CURSOR)

    def paint(self, message: Message, *, streaming: bool) -> None:
        if message.status == WITHDRAWN:  # moderation withdrew it: the text must not stay on screen
            self._steps.empty()
            self._frozen.empty()
            self._tail.empty()
            self._show_status(message)
            return
        if message.reasoning:
            if self._reasoning is None:
                with self._thinking_slot.container():
                    with st.expander(tr("chat.thinking"), expanded=False):
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
        if streaming and self._status_shown:  # an attempt that failed, then retried: its error is over
            self._status.empty()
            self._status_shown = False
        self.interval = 0.05 + (len(tail) + len(message.reasoning)) / 200_000
        if not streaming:
            self._show_status(message)

    def _show_status(self, message: Message) -> None:
        if message.status in (FAILED, INTERRUPTED, WITHDRAWN):
            error = errors.ChatError(message.error or errors.UNKNOWN)
            with self._status.container():
                (st.warning if message.status != FAILED else st.error)(error.message(lang()))
            self._status_shown = True
        elif self._status_shown:
            self._status.empty()
            self._status_shown = False
