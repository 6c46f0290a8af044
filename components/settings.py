"""The sidebar's settings: API key, region or custom URL, model, thinking and the system prompt."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from components import session
from components.lang import tr
from components.session import read_secrets
from qwenchat import access, config, params, personas, sanitize
from qwenchat.budget import default_budget
from qwenchat.catalog import CATALOG, THINKING_ALWAYS, lookup
from qwenchat.conversation import Conversation
from qwenchat.ending import FAREWELL_REPLY
from qwenchat.i18n import Msg

CUSTOM = "custom"
SYSTEM_PROMPT_MAX_CHARS = 8_000


@dataclass(frozen=True)
class ChatOptions:
    settings: config.Settings
    thinking: bool
    farewell: str = FAREWELL_REPLY
    judge: bool = False
    budget: int = 32_000
    params: dict | None = None  # what the user changed from the model's defaults


def _region_label(region: str) -> str:
    return tr("settings.custom_url") if region == CUSTOM else tr(config.REGION_LABELS[region])


def served_models(target: config.Settings) -> list[str]:
    """`GET /models` of an OpenAI-compatible server, asked once per session and URL (it costs nothing)."""
    cache = st.session_state.setdefault("_served_models", {})
    if target.base_url not in cache:
        cache[target.base_url] = session.client_for(target).list_models()
    return cache[target.base_url]


def _model_label(name: str) -> str:
    if name == CUSTOM:
        return "自定义模型… / Custom model…"
    if name not in {m.name for m in CATALOG}:
        return name
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
            st.error(tr("settings.url_refused", problem=Msg(problem)))
            custom_url = ""
    chosen_url = (custom_url.strip() or operator.base_url) if region == CUSTOM else config.REGIONS[region]
    if operator.has_key and not typed_key.strip() and chosen_url.rstrip("/") != operator.base_url.rstrip("/"):
        st.caption("使用服务器的 Key 时，只会连接服务器配置的地址；要换地域，请填写你自己的 Key。 "
                   "The app's own key is only sent to the app's configured URL; to use another region, "
                   "enter your own key.")

    names = [m.name for m in CATALOG]
    target = config.resolve(sidebar_key=typed_key, sidebar_base_url=chosen_url if typed_key.strip() else "",
                            secrets=secrets, environ=environ)
    if target.ready and not target.is_dashscope:  # a local or other OpenAI-compatible server: its own models
        names = served_models(target) or names
        if st.session_state.get("model_choice") not in (*names, CUSTOM, None):
            del st.session_state["model_choice"]
    default_model = operator.model if operator.model in names else (names[0] if names and not
                                                                    target.is_dashscope else CUSTOM)
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

    persona_box(conversation)
    chosen_params = params_box(conversation, model, thinking)

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
    return ChatOptions(settings, thinking, farewell, judge and settings.ready, int(budget), chosen_params)


def _saved_personas() -> list[personas.Persona]:
    try:
        return session.store().list_personas(session.owner())
    except Exception:  # noqa: BLE001 - a store that is away: the presets still work
        return []


def persona_box(conversation: Conversation) -> None:
    """Presets and the user's own personas; choosing one sets the system prompt from the next turn."""
    saved = _saved_personas()
    choices = {p.id: p for p in (*personas.BUILTIN, *saved)}
    key = f"persona_{conversation.id}"
    current = personas.matching(conversation.system_prompt, saved)
    # The box shows the persona whose prompt the conversation has, or none once the prompt is edited.
    st.session_state[key] = current.id if current else None
    st.selectbox("角色 / Persona", list(choices), format_func=lambda pid: choices[pid].name("zh"),
                 placeholder="自定义 / Custom", key=key, on_change=_apply_persona, args=(conversation, key, choices))
    with st.expander("系统提示词 / System prompt"):
        prompt_key = f"system_prompt_{conversation.id}"
        if prompt_key not in st.session_state:
            st.session_state[prompt_key] = conversation.system_prompt
        conversation.system_prompt = sanitize.clean_user_text(st.text_area(
            "系统提示词 / System prompt", label_visibility="collapsed", max_chars=SYSTEM_PROMPT_MAX_CHARS,
            key=prompt_key))[:SYSTEM_PROMPT_MAX_CHARS]
        name = st.text_input("保存为我的角色 / Save as my persona", key="persona_name",
                             placeholder="名称 / Name", max_chars=personas.MAX_NAME_CHARS)
        if st.button("💾 保存 / Save", key="save_persona", disabled=not name.strip()):
            try:
                session.store().save_persona(session.owner(), personas.custom(name, conversation.system_prompt))
                st.toast("已保存 / Saved")
            except Exception:  # noqa: BLE001
                st.warning("暂时无法保存角色。 / The persona cannot be saved right now.")


def _apply_persona(conversation: Conversation, key: str, choices: dict[str, personas.Persona]) -> None:
    picked = choices.get(st.session_state.get(key) or "")
    if picked is not None:
        conversation.system_prompt = picked.prompt
        st.session_state[f"system_prompt_{conversation.id}"] = picked.prompt


PARAM_LABELS = {
    "temperature": "温度 / Temperature", "top_p": "Top P", "max_tokens": "最大输出 / Max output tokens",
    "seed": "随机种子 / Seed", "presence_penalty": "重复惩罚 / Presence penalty",
    "thinking_budget": "思考预算 / Thinking budget",
}


def params_box(conversation: Conversation, model: str, thinking: bool) -> dict:
    """The conversation's generation parameters; empty means the model's own default (shown as a hint)."""
    defaults = params.model_defaults(model)
    chosen = dict(conversation.params)
    with st.expander("生成参数 / Parameters"):
        for spec in params.SPECS:
            if spec.name == "thinking_budget" and not thinking:
                continue
            default = defaults.get(spec.name)
            hint = f"默认 / default: {default if default is not None else '随机 / random'}"
            high = min(spec.high, lookup(model).max_output) if spec.name in ("max_tokens", "thinking_budget") \
                else spec.high
            value = st.number_input(
                PARAM_LABELS[spec.name], min_value=spec.low if not spec.whole else int(spec.low),
                max_value=high if not spec.whole else int(high), value=chosen.get(spec.name),
                step=spec.step if not spec.whole else int(spec.step), placeholder=hint,
                key=f"param_{spec.name}_{conversation.id}", help=hint)
            if value is None:
                chosen.pop(spec.name, None)
            else:
                chosen[spec.name] = value
        if chosen and st.button("恢复默认 / Reset to defaults", key=f"params_reset_{conversation.id}"):
            chosen = {}
            for spec in params.SPECS:
                st.session_state.pop(f"param_{spec.name}_{conversation.id}", None)
            st.rerun()
    conversation.params = params.clean(chosen, model)
    return conversation.params
