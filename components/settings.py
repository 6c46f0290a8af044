"""The sidebar's settings: API key, region or custom URL, model, thinking and the system prompt."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from components.session import read_secrets
from qwenchat import access, config, sanitize
from qwenchat.budget import default_budget
from qwenchat.catalog import CATALOG, THINKING_ALWAYS, lookup
from qwenchat.conversation import Conversation
from qwenchat.ending import FAREWELL_REPLY

CUSTOM = "custom"
SYSTEM_PROMPT_MAX_CHARS = 8_000


@dataclass(frozen=True)
class ChatOptions:
    settings: config.Settings
    thinking: bool
    farewell: str = FAREWELL_REPLY
    judge: bool = False
    budget: int = 32_000


def _region_label(region: str) -> str:
    return "自定义 URL / Custom URL" if region == CUSTOM else config.REGION_LABELS[region]


def _model_label(name: str) -> str:
    if name == CUSTOM:
        return "自定义模型… / Custom model…"
    info = lookup(name)
    context = f"{info.context_window // 1000}K" if info.context_window < 1_000_000 else "1M"
    think = " · 🧠" if info.thinks_by_default else ""
    return f"{name} · {context}{think} · {info.note}"


def render(conversation: Conversation) -> ChatOptions:
    secrets, environ = access.for_resolve(read_secrets(), os.environ)  # BYOK: the operator's key is gone
    operator = config.resolve(secrets=secrets, environ=environ)

    st.subheader("设置 / Settings")
    typed_key = st.text_input(
        "DashScope API Key", type="password", key="api_key_input",
        placeholder="sk-..." if not operator.has_key else "留空则使用服务器的 Key / blank: use the app's key",
        help="只保存在当前浏览器会话中，不会写入文件或日志。Kept in this browser session only; never written "
             "to a file or a log.")

    regions = [*config.REGIONS, CUSTOM]
    if "region" not in st.session_state:  # start on the region the app is configured for
        st.session_state["region"] = config.region_of(operator.base_url) or CUSTOM
    region = st.selectbox("地域 / Region", regions, format_func=_region_label, key="region")
    custom_url = ""
    if region == CUSTOM:
        custom_url = st.text_input("Base URL", key="custom_base_url",
                                   placeholder="https://…/compatible-mode/v1 (留空：应用的地址 / blank: the app's)")
    if custom_url.strip():
        allow_private = config.setting("QWENCHAT_ALLOW_PRIVATE_URLS", secrets, environ).lower() in config.TRUE
        problem = config.url_problem(custom_url, allow_private=allow_private)
        if problem:
            st.error(f"这个地址不能使用（{problem}）。 / This URL cannot be used ({problem}).")
            custom_url = ""
    chosen_url = (custom_url.strip() or operator.base_url) if region == CUSTOM else config.REGIONS[region]
    if operator.has_key and not typed_key.strip() and chosen_url.rstrip("/") != operator.base_url.rstrip("/"):
        st.caption("使用服务器的 Key 时，只会连接服务器配置的地址；要换地域，请填写你自己的 Key。 "
                   "The app's own key is only sent to the app's configured URL; to use another region, "
                   "enter your own key.")

    names = [m.name for m in CATALOG]
    default_model = operator.model if operator.model in names else CUSTOM
    if "model_choice" not in st.session_state:
        st.session_state["model_choice"] = default_model
        if default_model == CUSTOM:
            st.session_state["custom_model"] = operator.model
    choice = st.selectbox("模型 / Model", [*names, CUSTOM], format_func=_model_label, key="model_choice")
    model = choice
    if choice == CUSTOM:
        model = st.text_input("模型名 / Model name", key="custom_model", placeholder="qwen3.6-plus").strip() \
            or operator.model
    info = lookup(model)
    if info.thinking == THINKING_ALWAYS:
        thinking = True
        st.caption("该模型总是先思考。This model always thinks first.")
    else:
        thinking = st.toggle("深度思考 / Thinking", value=info.thinks_by_default, key=f"thinking_{model}")

    budget = st.number_input(
        "每次请求的上下文预算 (tokens) / Context budget per request", min_value=256,
        max_value=max(256, info.context_window - min(info.max_output, info.context_window // 2)),
        value=default_budget(info.context_window, info.max_output), step=1000, key=f"budget_{model}",
        help="历史超出预算时，最早的对话不再发送（系统提示词和最新消息总会发送）。When the history exceeds it, "
             "the oldest turns are left out (the system prompt and the newest message always go).")

    with st.expander("系统提示词 / System prompt"):
        conversation.system_prompt = sanitize.clean_user_text(st.text_area(
            "系统提示词 / System prompt", value=conversation.system_prompt, label_visibility="collapsed",
            max_chars=SYSTEM_PROMPT_MAX_CHARS, key=f"system_prompt_{conversation.id}"))

    with st.expander("结束检测 / End detection"):
        farewell = st.text_input("结束语 / Farewell", value=FAREWELL_REPLY, key="farewell").strip() \
            or FAREWELL_REPLY
        judge = st.toggle("不确定时请模型判断 / Ask a model when unsure", value=False, key="judge",
                          help="用 qwen-flash 判断规则拿不准的消息（消耗少量 Token，计入用量）。Uses qwen-flash on "
                               "messages the rules are unsure of (a few tokens, counted in the usage).")

    settings = config.resolve(sidebar_key=typed_key, sidebar_base_url=chosen_url if typed_key.strip() else "",
                              sidebar_model=model, secrets=secrets, environ=environ)
    conversation.model = settings.model
    if settings.has_key:
        source = {config.SOURCE_SIDEBAR: "侧边栏 / sidebar", config.SOURCE_SECRETS: "secrets.toml",
                  config.SOURCE_ENV: "环境变量 / environment"}[settings.key_source]
        st.caption(f"🔑 Key: {source}")
    return ChatOptions(settings, thinking, farewell, judge and settings.has_key, int(budget))
