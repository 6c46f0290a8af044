"""The sidebar's settings: API key, region or custom URL, model, thinking and the system prompt."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.session import read_secrets
from qwenchat import config
from qwenchat.catalog import CATALOG, THINKING_ALWAYS, lookup
from qwenchat.conversation import Conversation

CUSTOM = "custom"


@dataclass(frozen=True)
class ChatOptions:
    settings: config.Settings
    thinking: bool


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
    secrets = read_secrets()
    operator = config.resolve(secrets=secrets)

    st.subheader("设置 / Settings")
    typed_key = st.text_input(
        "DashScope API Key", type="password", key="api_key_input",
        placeholder="sk-..." if not operator.has_key else "留空则使用服务器的 Key / blank: use the app's key",
        help="只保存在当前浏览器会话中，不会写入文件或日志。Kept in this browser session only; never written "
             "to a file or a log.")

    regions = [*config.REGIONS, CUSTOM]
    region = st.selectbox("地域 / Region", regions, format_func=_region_label, key="region")
    custom_url = ""
    if region == CUSTOM:
        custom_url = st.text_input("Base URL", key="custom_base_url",
                                   placeholder="https://…/compatible-mode/v1")
    chosen_url = custom_url if region == CUSTOM else config.REGIONS[region]
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

    with st.expander("系统提示词 / System prompt"):
        conversation.system_prompt = st.text_area(
            "系统提示词 / System prompt", value=conversation.system_prompt, label_visibility="collapsed",
            key=f"system_prompt_{conversation.id}")

    settings = config.resolve(sidebar_key=typed_key, sidebar_base_url=chosen_url if typed_key.strip() else "",
                              sidebar_model=model, secrets=secrets)
    conversation.model = settings.model
    if settings.has_key:
        source = {config.SOURCE_SIDEBAR: "侧边栏 / sidebar", config.SOURCE_SECRETS: "secrets.toml",
                  config.SOURCE_ENV: "环境变量 / environment"}[settings.key_source]
        st.caption(f"🔑 Key: {source}")
    return ChatOptions(settings, thinking)
