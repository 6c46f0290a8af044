"""The chat: the history, the input, and a reply streamed in batches while it is recorded.

Model and user text is rendered with `st.markdown`, which never runs HTML: `<script>`, `onerror=` and
`javascript:` links stay inert.
"""

from __future__ import annotations

import time

import streamlit as st

from components import session
from components.settings import ChatOptions
from qwenchat import errors, turns
from qwenchat.conversation import (FAILED, INTERRUPTED, STOPPED, WITHDRAWN, Conversation, Message)
from qwenchat.rendering import stable_split
from qwenchat.reply import ReplyRecorder

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
    if not conversation.messages:
        st.markdown("##### 你好！我是通义千问，有什么可以帮你？ / Hi! I'm Qwen. How can I help?")
    for index, message in enumerate(conversation.messages):
        show_message(message, is_last=index == len(conversation.messages) - 1)

    has_key = options.settings.has_key
    if not has_key:
        st.info(KEY_HELP)
    prompt = st.chat_input(
        "输入消息… / Type a message…" if has_key else "请先提供 API Key / Provide an API key first",
        key="chat_input", submit_mode="stop", disabled=not has_key)

    if prompt is not None:
        take_turn(conversation, options, prompt)
    elif st.session_state.pop("retry_requested", False) and has_key:
        stream_reply(conversation, options)
        st.rerun()


def take_turn(conversation: Conversation, options: ChatOptions, text: str) -> None:
    problem = turns.check_message(text)
    if problem:
        st.warning(problem.message())
        if text.strip():
            with st.expander("未发送的内容（可复制）/ Unsent text (copy it)"):
                st.code(text, language=None, wrap_lines=True)
        return
    conversation.add_user(text)
    with st.chat_message("user"):
        st.markdown(text)
    stream_reply(conversation, options)
    st.rerun()


def show_message(message: Message, *, is_last: bool) -> None:
    with st.chat_message(message.role):
        if message.reasoning:
            with st.expander("思考过程 / Thinking", expanded=False):
                st.markdown(message.reasoning)
        if message.status != WITHDRAWN and message.content:
            st.markdown(message.content)
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
    client = session.client_for(options.settings)
    request = conversation.api_messages()
    message = conversation.start_reply(options.settings.model)
    recorder = ReplyRecorder(message)
    events = client.stream_chat(request, model=options.settings.model, thinking=options.thinking)
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
                    last_paint = now
        finally:
            events.close()
            recorder.finish()
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
            self._reasoning.markdown(message.reasoning)
        text = message.content
        cut = stable_split(text[self._frozen_upto:])
        if cut:
            with self._frozen:
                st.markdown(text[self._frozen_upto:self._frozen_upto + cut])
            self._frozen_upto += cut
        tail = text[self._frozen_upto:]
        if tail or streaming:
            self._tail.markdown(tail + (CURSOR if streaming else ""))
        self.interval = 0.05 + (len(tail) + len(message.reasoning)) / 200_000
