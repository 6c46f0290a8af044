"""The chat: the history, the input, and a reply streamed in batches while it is recorded.

Model and user text is rendered with `st.markdown`, which never runs HTML: `<script>`, `onerror=` and
`javascript:` links stay inert.
"""

from __future__ import annotations

import time

import streamlit as st

from components import ending_panel, session
from components.settings import ChatOptions
from qwenchat import config, errors, judge, quotas, sanitize, turns
from qwenchat.budget import fit_to_budget
from qwenchat.conversation import (
    FAILED,
    INTERRUPTED,
    STOPPED,
    WITHDRAWN,
    Conversation,
    Message,
    Usage,
)
from qwenchat.ending import Verdict
from qwenchat.rendering import images_as_links, stable_split
from qwenchat.reply import ReplyRecorder, estimated_usage

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
    note = st.session_state.pop("note", None)
    if note:
        st.info(note)
    if not conversation.messages:
        st.markdown("##### 你好！我是通义千问，有什么可以帮你？ / Hi! I'm Qwen. How can I help?")
    for index, message in enumerate(conversation.messages):
        if message.id == conversation.context_start:
            st.caption("✂️ 以上较早的消息超出上下文预算，上一次请求没有发送它们。 / The earlier messages above "
                       "exceeded the context budget and were not sent with the last request.")
        show_message(message, is_last=index == len(conversation.messages) - 1)

    has_key = options.settings.has_key
    if not has_key:
        st.info(KEY_HELP)
    if conversation.closed:
        show_closed()
        placeholder = "对话已结束 / The conversation has ended"
    elif has_key:
        placeholder = "输入消息… / Type a message…"
    else:
        placeholder = "请先提供 API Key / Provide an API key first"
    prompt = st.chat_input(placeholder, key="chat_input", submit_mode="stop",
                           disabled=not has_key or conversation.closed)

    if prompt is not None:
        take_turn(conversation, options, prompt)
    elif st.session_state.pop("retry_requested", False) and has_key:
        stream_reply(conversation, options)
        session.save(conversation)
        st.rerun()


def take_turn(conversation: Conversation, options: ChatOptions, raw_text: str) -> None:
    text = sanitize.clean_user_text(raw_text)
    problem = turns.check_message(text) or _quota_problem(conversation, options, text)
    if problem:
        st.warning(problem.message())
        if text.strip():
            with st.expander("未发送的内容（可复制）/ Unsent text (copy it)"):
                st.code(text, language=None, wrap_lines=True)
        return
    history = conversation.history_dicts()
    user_message = conversation.add_user(text)
    session.save(conversation)
    with st.chat_message("user"):
        st.markdown(text)
    verdict = check_for_end(text, history, options)
    if verdict.usage:  # the judge's tokens count in the totals, on the message it judged
        user_message.usage = Usage(verdict.usage.prompt_tokens, verdict.usage.completion_tokens,
                                   verdict.usage.prompt_tokens + verdict.usage.completion_tokens)
        _record_spend(options, user_message.usage.total_tokens, messages=0)
    if verdict.is_end:
        conversation.close_with(options.farewell)
    else:
        stream_reply(conversation, options)
    session.save(conversation)
    st.rerun()


def _operator_pays(options: ChatOptions) -> bool:
    return options.settings.key_source != config.SOURCE_SIDEBAR


def _quota_problem(conversation: Conversation, options: ChatOptions, text: str) -> turns.Problem | None:
    """The app's limits. With a visitor's own key only the length limit applies: they pay for the rest."""
    limits = session.limits()
    if not _operator_pays(options):
        return quotas.too_long(text, limits)
    upcoming = fit_to_budget([*conversation.api_messages(), {"role": "user", "content": text}],
                             options.settings.model, options.budget).prompt_tokens
    return session.quota().check_message(text, limits, upcoming_tokens=upcoming) or \
        session.daily().check(limits.daily_token_cap, upcoming)


def _record_spend(options: ChatOptions, tokens: int, *, messages: int = 1) -> None:
    if _operator_pays(options):
        session.quota().record(tokens, messages=messages)
        session.daily().add(tokens)


def check_for_end(text: str, history: list[dict], options: ChatOptions) -> Verdict:
    client = session.client_for(options.settings).openai if options.judge else None
    verdict = judge.decide(text, history, client=client, judge_enabled=options.judge)
    ending_panel.verdicts().append(verdict)
    return verdict


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


def show_message(message: Message, *, is_last: bool) -> None:
    with st.chat_message(message.role):
        if message.reasoning:
            with st.expander("思考过程 / Thinking", expanded=False):
                st.markdown(images_as_links(message.reasoning))
        if message.status != WITHDRAWN and message.content:
            st.markdown(images_as_links(message.content) if message.role == "assistant" else message.content)
        if message.status == STOPPED:
            st.caption("⏹ 已停止：以上是停止前收到的部分。 / Stopped: this is what arrived before the stop.")
        elif message.status in (FAILED, INTERRUPTED, WITHDRAWN):
            error = errors.ChatError(message.error or errors.UNKNOWN)
            show = st.warning if message.status != FAILED else st.error
            show(f"{error.message_zh}\n\n{error.message_en}")
            if is_last and error.retryable:
                st.button("🔁 重试 / Retry", key=f"retry_{message.id}", on_click=_request_retry,
                          args=(message.id,))


def _request_retry(message_id: str) -> None:
    """Drop the failed reply and ask the next run to stream a new one for the same user message."""
    conversation = session.conversation()
    conversation.messages = [m for m in conversation.messages if m.id != message_id]
    st.session_state["retry_requested"] = True


def stream_reply(conversation: Conversation, options: ChatOptions) -> Message:
    """Stream one reply into the conversation, painting it in batches."""
    model = options.settings.model
    trimmed = fit_to_budget(conversation.api_messages(), model, options.budget)
    message = conversation.start_reply(model)
    if trimmed.too_large:
        message.status, message.error = FAILED, errors.OVER_BUDGET
        return message
    conversation.mark_context_start(trimmed.dropped)
    recorder = ReplyRecorder(message)
    saver = session.ReplySaver(conversation, message)
    events = session.client_for(options.settings).stream_chat(trimmed.messages, model=model,
                                                              thinking=options.thinking)
    with st.chat_message("assistant"):
        painter = _Painter()
        try:
            last_paint = 0.0
            for event in events:
                recorder.feed(event)
                now = time.monotonic()
                if recorder.done or now - last_paint >= painter.interval:
                    recorder.flush()
                    painter.paint(message, streaming=not recorder.done)
                    saver.maybe_save()
                    last_paint = now
        finally:
            events.close()
            recorder.finish()
            if message.usage is None and (message.content or message.reasoning):
                message.usage = estimated_usage(trimmed.messages, message)
            _record_spend(options, message.usage.total_tokens if message.usage else 0)
            saver.save()
    return message


class _Painter:
    """Paints a streaming reply: finished blocks are frozen once, only the open tail is re-rendered, and
    the pause between paints grows with the tail so that total work stays linear in the reply's length."""

    def __init__(self) -> None:
        self._thinking_slot = st.empty()
        self._reasoning = None
        self._frozen = st.container()
        self._tail = st.empty()
        self._frozen_upto = 0
        self.interval = 0.05

    def paint(self, message: Message, *, streaming: bool) -> None:
        if message.status == WITHDRAWN:  # moderation withdrew it: the text must not stay on screen
            self._frozen.empty()
            self._tail.empty()
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
        tail = text[self._frozen_upto:]
        if tail or streaming:
            self._tail.markdown(images_as_links(tail) + (CURSOR if streaming else ""))
        self.interval = 0.05 + (len(tail) + len(message.reasoning)) / 200_000
