"""The sidebar's settings: API key, region or custom URL, model, thinking and the system prompt."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from components import session, tools_panel
from components.lang import lang, tr
from components.session import read_secrets
from qwenchat import access, config, params, personas, sanitize
from qwenchat.budget import default_budget
from qwenchat.catalog import CATALOG, THINKING_ALWAYS, lookup
from qwenchat.conversation import Conversation
from qwenchat.i18n import Msg, t

CUSTOM = "custom"
SYSTEM_PROMPT_MAX_CHARS = 8_000


@dataclass(frozen=True)
class ChatOptions:
    settings: config.Settings
    thinking: bool
    farewell: str = ""  # "" = automatic, in the conversation's language (see qwenchat.chat.engine.TurnOptions)
    judge: bool = False
    budget: int = 32_000
    params: dict | None = None  # what the user changed from the model's defaults
    persona: str = ""  # the name of the persona whose prompt the conversation has ("" for a custom one)
    tools: tuple[str, ...] = ()  # the tools the model may call (see components.tools_panel)


def _region_label(region: str, ui: str) -> str:
    return t("settings.custom_url", ui) if region == CUSTOM else t(config.REGION_LABELS[region], ui)


def keep_choice(key: str, options: list[str]) -> None:
    """A selectbox's browser-side value is its label, so a label in another language would no longer match
    after the language switch: hand the widget its value (not its label) again on every run."""
    value = st.session_state.get(key)
    if value in options:
        st.session_state[key] = value


def served_models(target: config.Settings) -> list[str]:
    """`GET /models` of an OpenAI-compatible server, asked once per session and URL (it costs nothing)."""
    cache = st.session_state.setdefault("_served_models", {})
    if target.base_url not in cache:
        cache[target.base_url] = session.client_for(target).list_models()
    return cache[target.base_url]


def _model_label(name: str, ui: str) -> str:
    if name == CUSTOM:
        return t("settings.custom_model", ui)
    if name not in {m.name for m in CATALOG}:
        return name
    info = lookup(name)
    context = f"{info.context_window // 1000}K" if info.context_window < 1_000_000 else "1M"
    think = " · 🧠" if info.thinks_by_default else ""
    return f"{name} · {context}{think} · {info.note_text(ui)}"


def render(conversation: Conversation) -> ChatOptions:
    secrets, environ = access.for_resolve(read_secrets(), os.environ)  # BYOK: the operator's key is gone
    operator = config.resolve(secrets=secrets, environ=environ)

    # Labels are formatted with the language of this run: a format function is also called between runs.
    ui = lang()
    st.subheader(tr("settings.title"))
    typed_key = st.text_input(
        "DashScope API Key", type="password", key="api_key_input",
        placeholder="sk-..." if not operator.has_key else tr("settings.key_placeholder_app"),
        help=tr("settings.key_help"))

    regions = [*config.REGIONS, CUSTOM]
    if "region" not in st.session_state:  # start on the region the app is configured for
        st.session_state["region"] = config.region_of(operator.base_url) or CUSTOM
    keep_choice("region", regions)
    region = st.selectbox(tr("settings.region"), regions, format_func=lambda name: _region_label(name, ui),
                          key="region")
    custom_url = ""
    if region == CUSTOM:
        custom_url = st.text_input("Base URL", key="custom_base_url",
                                   placeholder=tr("settings.base_url_placeholder"))
    if custom_url.strip():
        allow_private = config.setting("QWENCHAT_ALLOW_PRIVATE_URLS", secrets, environ).lower() in config.TRUE
        problem = config.url_problem(custom_url, allow_private=allow_private)
        if problem:
            st.error(tr("settings.url_refused", problem=Msg(problem)))
            custom_url = ""
    chosen_url = (custom_url.strip() or operator.base_url) if region == CUSTOM else config.REGIONS[region]
    if operator.has_key and not typed_key.strip() and chosen_url.rstrip("/") != operator.base_url.rstrip("/"):
        st.caption(tr("settings.app_key_own_url"))

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
    keep_choice("model_choice", [*names, CUSTOM])
    choice = st.selectbox(tr("settings.model"), [*names, CUSTOM], format_func=lambda name: _model_label(name, ui),
                          key="model_choice")
    model = choice
    if choice == CUSTOM:
        model = st.text_input(tr("settings.model_name"), key="custom_model", placeholder="qwen3.6-plus").strip() \
            or operator.model
    info = lookup(model)
    if info.thinking == THINKING_ALWAYS:
        thinking = True
        st.caption(tr("settings.always_thinks"))
    else:
        thinking = st.toggle(tr("settings.thinking"), value=info.thinks_by_default, key=f"thinking_{model}")

    budget = st.number_input(
        tr("settings.budget"), min_value=256,
        max_value=max(256, info.context_window - min(info.max_output, info.context_window // 2)),
        value=default_budget(info.context_window, info.max_output), step=1000, key=f"budget_{model}",
        help=tr("settings.budget_help"))

    persona = persona_box(conversation)
    chosen_params = params_box(conversation, model, thinking)
    tools = tools_panel.render(model)

    with st.expander(tr("settings.end_detection")):
        farewell = st.text_input(tr("settings.farewell"), value="", key="farewell",
                                 placeholder=tr("settings.farewell_auto")).strip()
        judge = st.toggle(tr("settings.judge"), value=False, key="judge", help=tr("settings.judge_help"))

    settings = config.resolve(sidebar_key=typed_key, sidebar_base_url=chosen_url if typed_key.strip() else "",
                              sidebar_model=model, secrets=secrets, environ=environ)
    conversation.model = settings.model
    if settings.has_key:
        st.caption(tr("settings.key_from", source=Msg(f"settings.key_source.{settings.key_source}")))
    return ChatOptions(settings, thinking, farewell, judge and settings.ready, int(budget), chosen_params, persona,
                       tools)


def _saved_personas() -> list[personas.Persona]:
    """The user's own personas, read once per session (and again after a save)."""
    if "_personas" not in st.session_state:
        try:
            st.session_state["_personas"] = session.store().list_personas(session.owner())
        except Exception:  # noqa: BLE001 - a store that is away: the presets still work, and it is asked again
            return []
    return st.session_state["_personas"]


def persona_box(conversation: Conversation) -> str:
    """Presets and the user's own personas; choosing one sets the system prompt from the next turn. Returns
    the name of the persona the prompt now is ("" when it was written by hand)."""
    saved = _saved_personas()
    choices = {p.id: p for p in (*personas.BUILTIN, *saved)}
    key = f"persona_{conversation.id}"
    current = personas.matching(conversation.system_prompt, saved)
    # The box shows the persona whose prompt the conversation has, or none once the prompt is edited.
    st.session_state[key] = current.id if current else None
    ui = lang()
    st.selectbox(tr("settings.persona"), list(choices), format_func=lambda pid: choices[pid].name(ui),
                 placeholder=tr("settings.persona_custom"), key=key, on_change=_apply_persona,
                 args=(conversation, key, choices))
    with st.expander(tr("settings.system_prompt")):
        prompt_key = f"system_prompt_{conversation.id}"
        if prompt_key not in st.session_state:
            st.session_state[prompt_key] = conversation.system_prompt
        conversation.system_prompt = sanitize.clean_user_text(st.text_area(
            tr("settings.system_prompt"), label_visibility="collapsed", max_chars=SYSTEM_PROMPT_MAX_CHARS,
            key=prompt_key))[:SYSTEM_PROMPT_MAX_CHARS]
        name = st.text_input(tr("settings.save_persona"), key="persona_name",
                             placeholder=tr("settings.persona_name"), max_chars=personas.MAX_NAME_CHARS)
        if st.button(tr("settings.save"), key="save_persona", disabled=not name.strip()):
            try:
                session.store().save_persona(session.owner(), personas.custom(name, conversation.system_prompt))
                st.session_state.pop("_personas", None)
                st.toast(tr("settings.saved"))
            except Exception:  # noqa: BLE001
                st.warning(tr("settings.persona_not_saved"))
    current = personas.matching(conversation.system_prompt, saved)
    return current.name(lang()) if current else ""


def _apply_persona(conversation: Conversation, key: str, choices: dict[str, personas.Persona]) -> None:
    picked = choices.get(st.session_state.get(key) or "")
    if picked is not None:
        conversation.system_prompt = picked.prompt
        st.session_state[f"system_prompt_{conversation.id}"] = picked.prompt


PARAM_LABELS = {name: f"settings.param.{name}" for name in params.BY_NAME}  # catalog ids


def params_box(conversation: Conversation, model: str, thinking: bool) -> dict:
    """The conversation's generation parameters; empty means the model's own default (shown as a hint)."""
    defaults = params.model_defaults(model)
    chosen = params.clean(conversation.params, model)  # within this model's bounds before any widget
    # Six number inputs cost every rerun about as much as the rest of the settings: drawn when asked for.
    if not st.toggle(tr("settings.params"), value=bool(chosen), key=f"show_params_{conversation.id}",
                     help=tr("settings.params_help")):
        conversation.params = {}  # switched off: the model's own defaults again
        return {}
    with st.container(border=True):
        for spec in params.SPECS:
            if spec.name == "thinking_budget" and not thinking:
                continue
            default = defaults.get(spec.name)
            hint = tr("settings.param_default", value=default if default is not None else Msg("settings.param_random"))
            high = min(spec.high, lookup(model).max_output) if spec.name in ("max_tokens", "thinking_budget") \
                else spec.high
            key = f"param_{spec.name}_{conversation.id}"
            # The widget's value, from the conversation at first and kept within this model's bounds after a
            # switch to a model that writes less (a value above max_value would stop the page).
            st.session_state[key] = chosen.get(spec.name) if key not in st.session_state else \
                params.clean({spec.name: st.session_state[key]}, model).get(spec.name)
            value = st.number_input(
                tr(PARAM_LABELS[spec.name]), min_value=spec.low if not spec.whole else int(spec.low),
                max_value=high if not spec.whole else int(high), step=spec.step if not spec.whole else int(spec.step),
                placeholder=hint, key=key, help=hint)
            if value is None:
                chosen.pop(spec.name, None)
            else:
                chosen[spec.name] = value
        if chosen and st.button(tr("settings.params_reset"), key=f"params_reset_{conversation.id}"):
            chosen = {}
            for spec in params.SPECS:
                st.session_state.pop(f"param_{spec.name}_{conversation.id}", None)
            st.rerun()
    conversation.params = params.clean(chosen, model)
    return conversation.params
