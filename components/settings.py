"""The settings: the few the chat's sidebar keeps (model, thinking, persona) and the boxes of the ⚙️ Settings
page (key, region or URL, context budget, system prompt and personas, generation parameters, end detection).

Every widget is drawn only where it is, but what it chose is kept in the session's typed `Preferences`
(`qwenchat.chat.state`): Streamlit drops a widget's value on a run that does not draw it, so a choice made
on the Settings page still applies on the chat page, and one made in the chat's sidebar survives a visit to
another page. A widget whose value was dropped starts again from its preference (`_seed`). `choices()` and
`options()` work out what a turn uses from the preferences without drawing anything. What belongs to the
open conversation (persona, system prompt, parameters) is saved with it as soon as it changes, once the
conversation has a message (`_save_if_changed`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Mapping

import streamlit as st

from components import session, tools_panel
from components.lang import lang, tr
from components.navigation import SETTINGS
from components.session import read_secrets
from qwenchat import access, config, params, personas, sanitize
from qwenchat.catalog import CATALOG, THINKING_ALWAYS, lookup
from qwenchat.chat.state import CUSTOM, Preferences, budget_bounds
from qwenchat.conversation import SYSTEM_PROMPT_MAX_CHARS, Conversation
from qwenchat.i18n import Msg, t
from qwenchat.rendering import escape_inline


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


@dataclass(frozen=True)
class Choices:
    """Where requests go and which models are offered, from the preferences and the app's configuration."""

    prefs: Preferences
    secrets: Mapping[str, object]
    environ: Mapping[str, str]
    operator: config.Settings  # the app's own settings (no key when BYOK)
    region: str
    url: str  # the chosen region's or custom URL (used only with a key typed by the visitor)
    url_refused: str  # a catalog id when the custom URL may not be used, else ""
    names: list[str]  # the models the picker offers (a local server's own list)
    default_model: str  # the picker's choice before the visitor makes one

    def resolve(self, model: str = "") -> config.Settings:
        typed = self.prefs.api_key
        return config.resolve(sidebar_key=typed, sidebar_base_url=self.url if typed.strip() else "",
                              sidebar_model=model, secrets=self.secrets, environ=self.environ)

    @property
    def choice(self) -> str:
        """The model picker's value: the visitor's choice while it is offered, else the default."""
        return self.prefs.model if self.prefs.model in (*self.names, CUSTOM) else self.default_model

    @property
    def model(self) -> str:
        if self.choice == CUSTOM:
            return self.prefs.custom_model.strip() or self.operator.model
        return self.choice


def choices() -> Choices:
    secrets, environ = access.for_resolve(read_secrets(), os.environ)  # BYOK: the operator's key is gone
    operator = config.resolve(secrets=secrets, environ=environ)
    prefs = session.state().prefs
    region = prefs.region if prefs.region in (*config.REGIONS, CUSTOM) else \
        (config.region_of(operator.base_url) or CUSTOM)  # start on the region the app is configured for
    custom_url, refused = "", ""
    if region == CUSTOM and prefs.custom_base_url.strip():
        allow_private = config.setting("QWENCHAT_ALLOW_PRIVATE_URLS", secrets, environ).lower() in config.TRUE
        refused = config.url_problem(prefs.custom_base_url, allow_private=allow_private)
        custom_url = "" if refused else prefs.custom_base_url.strip()
    url = (custom_url or operator.base_url) if region == CUSTOM else config.REGIONS[region]
    found = Choices(prefs, secrets, environ, operator, region, url, refused, [m.name for m in CATALOG], "")
    target = found.resolve()
    names = found.names
    if target.ready and not target.is_dashscope:  # a local or other OpenAI-compatible server: its own models
        names = served_models(target) or names
    default = operator.model if operator.model in names else (names[0] if names and not target.is_dashscope
                                                              else CUSTOM)
    return Choices(prefs, secrets, environ, operator, region, url, refused, names, default)


def options(conversation: Conversation, found: Choices | None = None) -> ChatOptions:
    """What the next turn uses, as chosen so far (nothing is drawn)."""
    found = found or choices()
    model = found.model
    settings = found.resolve(model)
    conversation.model = settings.model
    prefs = found.prefs
    return ChatOptions(settings, prefs.thinking_for(model), prefs.farewell.strip(), prefs.judge and settings.ready,
                       prefs.budget_for(model), params.clean(conversation.params, model), persona_name(conversation),
                       tools_panel.chosen(model))


def _seed(key: str, value: object) -> None:
    """Give a widget its kept value when Streamlit dropped the widget's own (a run that did not draw it)."""
    if key not in st.session_state:
        st.session_state[key] = value


def keep_choice(key: str, options: list[str]) -> None:
    """A selectbox's browser-side value is its label, so a label in another language would no longer match
    after the language switch: hand the widget its value (not its label) again on every run."""
    value = st.session_state.get(key)
    if value in options:
        st.session_state[key] = value


SERVED_MODELS_RETRY_S = 10.0  # a server that listed nothing (not up yet, say) is asked again after this long


def served_models(target: config.Settings) -> list[str]:
    """`GET /models` of an OpenAI-compatible server: a list is kept for the session (per URL); no list (a
    server not started yet, or one that cannot say) is asked for again, at most every
    `SERVED_MODELS_RETRY_S` seconds so that reruns do not wait on it each time."""
    cache = st.session_state.setdefault("_served_models", {})
    names, asked_at = cache.get(target.base_url, ([], None))
    if not names and (asked_at is None or time.monotonic() - asked_at >= SERVED_MODELS_RETRY_S):
        names = session.client_for(target).list_models()
        cache[target.base_url] = (names, time.monotonic())
    return names


def _region_label(region: str, ui: str) -> str:
    return t("settings.custom_url", ui) if region == CUSTOM else t(config.REGION_LABELS[region], ui)


def _model_label(name: str, ui: str) -> str:
    if name == CUSTOM:
        return t("settings.custom_model", ui)
    if name not in {m.name for m in CATALOG}:
        return name
    info = lookup(name)
    context = f"{info.context_window // 1000}K" if info.context_window < 1_000_000 else "1M"
    think = " · 🧠" if info.thinks_by_default else ""
    return f"{name} · {context}{think} · {info.note_text(ui)}"


def key_source(settings: config.Settings) -> None:
    if settings.has_key:
        st.caption(tr("settings.key_from", source=Msg(f"settings.key_source.{settings.key_source}")))


# --- the chat's sidebar -------------------------------------------------------------------------------

def render_sidebar(conversation: Conversation) -> ChatOptions:
    """The choices people change while chatting: model, thinking, persona; a link to the rest."""
    found = choices()
    prefs = found.prefs
    # Labels are formatted with the language of this run: a format function is also called between runs.
    ui = lang()
    st.subheader(tr("settings.title"))
    offered = [*found.names, CUSTOM]
    if st.session_state.get("model_choice") not in (*offered, None):  # a local server's list changed
        del st.session_state["model_choice"]
    _seed("model_choice", found.choice)
    keep_choice("model_choice", offered)
    prefs.model = st.selectbox(tr("settings.model"), offered, format_func=lambda name: _model_label(name, ui),
                               key="model_choice")
    if prefs.model == CUSTOM:
        _seed("custom_model", prefs.custom_model or (found.operator.model if found.default_model == CUSTOM else ""))
        prefs.custom_model = st.text_input(tr("settings.model_name"), key="custom_model",
                                           placeholder="qwen3.6-plus")
    model = found.model
    if lookup(model).thinking == THINKING_ALWAYS:
        st.caption(tr("settings.always_thinks"))
    else:
        key = f"thinking_{model}"
        _seed(key, prefs.thinking_for(model))
        prefs.thinking[model] = st.toggle(tr("settings.thinking"), key=key)
    persona_picker(conversation)
    st.page_link(SETTINGS, label=tr("settings.more"), icon="⚙️")
    chosen = options(conversation, found)
    key_source(chosen.settings)
    return chosen


# --- the Settings page --------------------------------------------------------------------------------

def connection_box() -> None:
    """The visitor's own key, the region or a URL of their own."""
    prefs = session.state().prefs
    found = choices()
    ui = lang()
    _seed("api_key_input", prefs.api_key)
    prefs.api_key = st.text_input(
        "DashScope API Key", type="password", key="api_key_input",
        placeholder="sk-..." if not found.operator.has_key else tr("settings.key_placeholder_app"),
        help=tr("settings.key_help"))
    regions = [*config.REGIONS, CUSTOM]
    _seed("region", found.region)
    keep_choice("region", regions)
    prefs.region = st.selectbox(tr("settings.region"), regions, format_func=lambda name: _region_label(name, ui),
                                key="region")
    if prefs.region == CUSTOM:
        _seed("custom_base_url", prefs.custom_base_url)
        prefs.custom_base_url = st.text_input("Base URL", key="custom_base_url",
                                              placeholder=tr("settings.base_url_placeholder"))
    found = choices()
    if found.url_refused:
        st.error(tr("settings.url_refused", problem=Msg(found.url_refused)))
    operator = found.operator
    if operator.has_key and not prefs.api_key.strip() and found.url.rstrip("/") != operator.base_url.rstrip("/"):
        st.caption(tr("settings.app_key_own_url"))
    key_source(found.resolve(found.model))


def budget_box(model: str) -> None:
    """The context budget of the model in use."""
    prefs = session.state().prefs
    low, high = budget_bounds(model)
    key = f"budget_{model}"
    _seed(key, prefs.budget_for(model))
    prefs.budgets[model] = int(st.number_input(tr("settings.budget"), min_value=low, max_value=high, step=1000,
                                               key=key, help=tr("settings.budget_help")))


def end_detection_box() -> None:
    prefs = session.state().prefs
    _seed("farewell", prefs.farewell)
    prefs.farewell = st.text_input(tr("settings.farewell"), key="farewell", placeholder=tr("settings.farewell_auto"))
    _seed("judge", prefs.judge)
    prefs.judge = st.toggle(tr("settings.judge"), key="judge", help=tr("settings.judge_help"))


def _saved_personas() -> list[personas.Persona]:
    """The user's own personas, read once per session (and again after a save)."""
    if "_personas" not in st.session_state:
        try:
            st.session_state["_personas"] = session.store().list_personas(session.owner())
        except Exception:  # noqa: BLE001 - a store that is away: the presets still work, and it is asked again
            return []
    return st.session_state["_personas"]


def persona_name(conversation: Conversation) -> str:
    """The name of the persona whose prompt the conversation has ("" when it was written by hand)."""
    current = personas.matching(conversation.system_prompt, _saved_personas())
    return current.name(lang()) if current else ""


def persona_picker(conversation: Conversation) -> None:
    """Presets and the user's own personas; choosing one sets the system prompt from the next turn."""
    saved = _saved_personas()
    choices_ = {p.id: p for p in (*personas.BUILTIN, *saved)}
    key = f"persona_{conversation.id}"
    current = personas.matching(conversation.system_prompt, saved)
    # The box shows the persona whose prompt the conversation has, or none once the prompt is edited.
    st.session_state[key] = current.id if current else None
    ui = lang()
    st.selectbox(tr("settings.persona"), list(choices_), format_func=lambda pid: choices_[pid].name(ui),
                 placeholder=tr("settings.persona_custom"), key=key, on_change=_apply_persona,
                 args=(conversation, key, choices_))


def _apply_persona(conversation: Conversation, key: str, choices_: dict[str, personas.Persona]) -> None:
    picked = choices_.get(st.session_state.get(key) or "")
    if picked is not None:
        before = _setup(conversation)
        conversation.system_prompt = picked.prompt
        st.session_state[f"system_prompt_{conversation.id}"] = picked.prompt
        _save_if_changed(conversation, before)


def _setup(conversation: Conversation) -> tuple[str, dict]:
    """What the Settings page changes in a conversation: its system prompt and parameters."""
    return conversation.system_prompt, dict(conversation.params)


def _save_if_changed(conversation: Conversation, before: tuple[str, dict]) -> None:
    """Save the conversation at once when its system prompt or parameters changed, so a reload of the page
    brings them back. An empty conversation is not saved (`session.save`): it gets into the history with its
    first message, which carries them, and opening the Settings page creates nothing."""
    if _setup(conversation) != before:
        session.save(conversation)


def system_prompt_box(conversation: Conversation) -> None:
    """The system prompt as text, and saving it as one of the user's personas."""
    prompt_key = f"system_prompt_{conversation.id}"
    _seed(prompt_key, conversation.system_prompt)
    before = _setup(conversation)
    conversation.system_prompt = sanitize.clean_user_text(st.text_area(
        tr("settings.system_prompt"), max_chars=SYSTEM_PROMPT_MAX_CHARS, key=prompt_key))[:SYSTEM_PROMPT_MAX_CHARS]
    _save_if_changed(conversation, before)
    name = st.text_input(tr("settings.save_persona"), key="persona_name",
                         placeholder=tr("settings.persona_name"), max_chars=personas.MAX_NAME_CHARS)
    # A callback, so that the pickers drawn above this button already list the persona it saves.
    st.button(tr("settings.save"), key="save_persona", disabled=not name.strip(), on_click=_save_persona,
              args=(conversation, prompt_key))
    note = st.session_state.pop("_persona_note", None)  # a catalog id, set by a callback below
    if note:
        st.warning(tr(note, limit=personas.MAX_SAVED))
    my_personas_box()


def _save_persona(conversation: Conversation, prompt_key: str) -> None:
    name = st.session_state.get("persona_name", "")
    prompt = sanitize.clean_user_text(st.session_state.get(prompt_key, conversation.system_prompt))
    try:
        session.store().save_persona(session.owner(), personas.custom(name, prompt[:SYSTEM_PROMPT_MAX_CHARS]))
    except personas.TooManyPersonas:
        st.session_state["_persona_note"] = "settings.too_many_personas"
        return
    except Exception:  # noqa: BLE001 - a store that is away
        st.session_state["_persona_note"] = "settings.persona_not_saved"
        return
    st.session_state.pop("_personas", None)
    st.toast(tr("settings.saved"))


def my_personas_box() -> None:
    """The user's own personas, each with a delete button that asks first (as the History page does:
    `st.session_state["persona_confirm"]` names the persona being asked about)."""
    saved = _saved_personas()
    if not saved:
        return
    asking = st.session_state.get("persona_confirm")
    with st.expander(tr("settings.my_personas", count=len(saved)), expanded=asking is not None):
        for persona in saved:
            if asking == persona.id:
                st.warning(tr("settings.persona_confirm_delete", name=escape_inline(persona.name_zh)))
                yes, no = st.columns(2)
                yes.button(tr("settings.persona_delete_yes"), key=f"persona_delete_yes_{persona.id}", type="primary",
                           width="stretch", on_click=_delete_persona, args=(persona,))
                no.button(tr("settings.persona_cancel"), key=f"persona_delete_no_{persona.id}", width="stretch",
                          on_click=_ask_persona, args=(None,))
                continue
            label, delete = st.columns([4, 1], vertical_alignment="center")
            label.markdown(escape_inline(persona.name_zh))
            delete.button(tr("settings.persona_delete"), key=f"persona_delete_{persona.id}", width="stretch",
                          on_click=_ask_persona, args=(persona.id,))


def _ask_persona(persona_id: str | None) -> None:
    st.session_state["persona_confirm"] = persona_id


def _delete_persona(persona: personas.Persona) -> None:
    st.session_state["persona_confirm"] = None
    try:
        session.store().delete_persona(session.owner(), persona.name_zh)
    except Exception:  # noqa: BLE001 - a store that is away
        st.session_state["_persona_note"] = "settings.persona_not_deleted"
        return
    st.session_state.pop("_personas", None)
    st.toast(tr("settings.persona_deleted"))


PARAM_LABELS = {name: f"settings.param.{name}" for name in params.BY_NAME}  # catalog ids


def params_box(conversation: Conversation, model: str, thinking: bool) -> dict:
    """The conversation's generation parameters; empty means the model's own default (shown as a hint)."""
    before = _setup(conversation)
    conversation.params = _params_box(conversation, model, thinking)
    _save_if_changed(conversation, before)
    return conversation.params


def _params_box(conversation: Conversation, model: str, thinking: bool) -> dict:
    defaults = params.model_defaults(model)
    chosen = params.clean(conversation.params, model)  # within this model's bounds before any widget
    if not st.toggle(tr("settings.params"), value=bool(chosen), key=f"show_params_{conversation.id}",
                     help=tr("settings.params_help")):
        return {}  # switched off: the model's own defaults again
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
            for spec in params.SPECS:
                st.session_state.pop(f"param_{spec.name}_{conversation.id}", None)
            conversation.params = {}  # the widgets start again from it on the next run
            session.save(conversation)
            st.rerun()
    return params.clean(chosen, model)
