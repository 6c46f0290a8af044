"""The history page's parts: who can see these conversations, the list with its actions, import, and
deleting everything.

Everything here goes through the store with this session's owner, so a visitor only ever lists, opens,
renames or deletes their own conversations. Destructive actions take two clicks: the first one only
asks (`st.session_state["history_confirm"]` names what is being asked about).

Titles and model names may come from an imported file, so they are shown as text, never as Markdown.
Imports go through `qwenchat.imports` (size, count, total size and pace capped). A store that is away
(`StoreUnavailable`) is a warning on the page, never a traceback.
"""

from __future__ import annotations

import os
import string
from datetime import datetime

import streamlit as st

from components import session, transfer_buttons
from components.lang import lang
from qwenchat import identity
from qwenchat.conversation import title_from
from qwenchat.imports import ImportLimits, ImportRateLimiter, import_conversation
from qwenchat.rendering import escape_inline
from qwenchat.sanitize import clean_user_text, is_blank
from qwenchat.store import ConversationNotFound, ConversationStore, StoreUnavailable, Summary
from qwenchat.transfer import InvalidImport, format_bytes

TITLE_LIMIT = 100
LIST_LIMIT = 200
UNTITLED = "（无标题）/ (untitled)"

PRIVACY = {
    "token": "🔑 这些对话属于这个网址：地址栏里的 `?o=` 就是你的钥匙。**收藏本页网址**即可找回历史记录；拿到这个网址的人"
             "也能看到它们，别的访客看不到。 / These conversations belong to this URL: the `?o=` in the address bar is "
             "your key. **Bookmark this page's URL to get your history back**; whoever has the URL can see them, "
             "other visitors cannot.",
    "single": "🖥️ 单用户模式：这里是**这台机器上的全部对话**，任何能打开本应用的人都能看到。 / Single-user mode: "
              "this is **everything on this machine**, visible to anyone who can open this app.",
    "signed_in": "👤 这里是**你的账户**的对话，只有登录你的账户才能看到。 / These are **your account's** "
                 "conversations: only you, signed in, can see them.",
}
MEMORY_ONLY = ("历史记录只保存在内存中（`QWENCHAT_SAVE=0`），服务器重启后就会消失。 / History is kept in memory "
               "only (`QWENCHAT_SAVE=0`) until the server restarts.")


# ---- who and where ----

def current_owner() -> identity.Owner:
    """This session's owner; a URL token also goes into this page's URL, so bookmarking the page works."""
    owner = session.current_owner()
    if owner.url_token and st.query_params.get("o") != owner.url_token:
        st.query_params["o"] = owner.url_token
    return owner


def open_store_or_stop() -> ConversationStore:
    try:
        store = session.store()
        store.count_conversations(current_owner().id)  # one cheap read: is it there?
        return store
    except StoreUnavailable as exc:
        unavailable(exc)
        st.stop()


def unavailable(exc: StoreUnavailable) -> None:
    st.warning(f"{exc}\n\n请稍后再试。 / Please try again in a moment.")


def list_or_stop(store: ConversationStore, owner: identity.Owner, search: str) -> list[Summary]:
    try:
        return store.list_conversations(owner.id, search=search, limit=LIST_LIMIT)
    except StoreUnavailable as exc:
        unavailable(exc)
        st.stop()


def saving_to_disk() -> bool:
    return identity.storage_options(session.read_secrets(), os.environ).saving


def privacy_note(owner: identity.Owner) -> None:
    st.info(PRIVACY.get(owner.kind, PRIVACY["token"]))
    if not saving_to_disk():
        st.warning(MEMORY_ONLY)


# ---- the list ----

def conversation_list(store: ConversationStore, owner: identity.Owner, summaries: list[Summary],
                      searching: bool) -> None:
    if not summaries:
        if searching:
            st.caption("没有匹配的对话。 / No conversation matches.")
        else:
            st.caption("还没有保存的对话。在聊天页发一条消息，它就会出现在这里。 / No saved conversations yet: send a "
                       "message on the chat page and it will show here.")
        return
    if len(summaries) >= LIST_LIMIT:
        st.caption(f"只显示最近的 {LIST_LIMIT} 个；用搜索找更早的。 / Showing the newest {LIST_LIMIT}; search to "
                   "find older ones.")
    for summary in summaries:
        with st.container(border=True, key=f"row_{summary.id}"):
            _row(store, owner, summary)


def _row(store: ConversationStore, owner: identity.Owner, summary: Summary) -> None:
    st.markdown(f"**{escape_markdown(summary.title) or UNTITLED}**")
    st.caption(describe(summary))
    asking = st.session_state.get("history_confirm")
    if asking == ("rename", summary.id):
        _rename_form(store, owner, summary)
        return
    if asking == ("delete", summary.id):
        st.warning("确定删除这个对话吗？删除后无法恢复。 / Delete this conversation? It cannot be undone.")
        yes, no = st.columns(2)
        yes.button("🗑️ 确认删除 / Delete", key=f"delete_yes_{summary.id}", type="primary", width="stretch",
                   on_click=_delete, args=(store, owner.id, summary.id))
        no.button("取消 / Cancel", key=f"delete_no_{summary.id}", on_click=_ask, args=(None,), width="stretch")
        return
    open_, rename, delete = st.columns(3)
    if open_.button("📂 打开 / Open", key=f"open_{summary.id}", type="primary", width="stretch"):
        _open(store, owner, summary.id)
    rename.button("✏️ 重命名 / Rename", key=f"rename_{summary.id}", on_click=_ask, args=(("rename", summary.id),),
                  width="stretch")
    delete.button("🗑️ 删除 / Delete", key=f"delete_{summary.id}", on_click=_ask, args=(("delete", summary.id),),
                  width="stretch")
    transfer_buttons.buttons(lambda: store.load(owner.id, summary.id), summary.title, key=summary.id)


def describe(summary: Summary) -> str:
    """The row's caption. The model name may come from an imported file: it is escaped, not rendered."""
    try:
        when = datetime.fromtimestamp(summary.updated_at, transfer_buttons.browser_timezone()).strftime(
            "%Y-%m-%d %H:%M")
    except (OverflowError, ValueError, OSError):
        when = "?"
    return (f"🕒 {when} · 🤖 {escape_inline(summary.model)} · {summary.total_tokens:,} tokens · "
            f"{summary.message_count} 条消息 / messages")


def _ask(question: tuple[str, str] | None) -> None:
    st.session_state["history_confirm"] = question


def _open(store: ConversationStore, owner: identity.Owner, conversation_id: str) -> None:
    try:
        conversation = store.load(owner.id, conversation_id)
    except StoreUnavailable as exc:
        unavailable(exc)
        return
    if conversation is None:  # deleted meanwhile, in another tab
        st.warning("这个对话已不存在。 / This conversation no longer exists.")
        return
    conversation.recover()
    session.open_conversation(conversation)
    params = {"c": conversation.id, **({"o": owner.url_token} if owner.url_token else {})}
    st.switch_page("app.py", query_params=params)


def _rename_form(store: ConversationStore, owner: identity.Owner, summary: Summary) -> None:
    with st.form(key=f"rename_form_{summary.id}", border=False):
        title = st.text_input("新标题 / New title", value=summary.title, max_chars=TITLE_LIMIT,
                              key=f"title_{summary.id}")
        save, cancel = st.columns(2)
        saved = save.form_submit_button("💾 保存 / Save", type="primary", width="stretch")
        cancelled = cancel.form_submit_button("取消 / Cancel", width="stretch")
    if cancelled:
        _ask(None)
        st.rerun()
    if saved:
        clean = title_from(clean_user_text(title), TITLE_LIMIT)  # one line, as a typed message is cleaned
        if is_blank(clean):
            st.warning("标题不能为空。 / The title cannot be empty.")
            return
        try:
            store.rename(owner.id, summary.id, clean)
        except StoreUnavailable as exc:
            unavailable(exc)
            return
        open_now = session.conversation()
        if open_now.id == summary.id:  # or the chat's next save would write the old title back
            open_now.title = clean
        _ask(None)
        st.rerun()


def _delete(store: ConversationStore, owner_id: str, conversation_id: str) -> None:
    try:
        store.delete(owner_id, conversation_id)
    except StoreUnavailable as exc:
        st.session_state["history_result"] = ("warning", str(exc))
        return
    if session.conversation().id == conversation_id:  # or the chat's next save would bring it back
        session.reset_conversation()
    _ask(None)


# ---- everything at once ----

def delete_everything(store: ConversationStore, owner: identity.Owner) -> None:
    try:
        count = store.count_conversations(owner.id)
    except StoreUnavailable:
        return  # the page already says so
    if not count:
        return
    shown = f"{count:,}"
    if st.session_state.get("history_confirm") == ("delete_all", ""):
        st.warning(f"确定删除你的全部 {shown} 个对话吗？删除后无法恢复。 / Delete all {shown} of your conversations? "
                   "This cannot be undone.")
        yes, no = st.columns(2)
        yes.button("🗑️ 全部删除 / Delete everything", key="delete_all_yes", type="primary", width="stretch",
                   on_click=_delete_all, args=(store, owner.id))
        no.button("取消 / Cancel", key="delete_all_no", on_click=_ask, args=(None,), width="stretch")
    else:
        st.button("🗑️ 删除全部对话 / Delete everything", key="delete_all", on_click=_ask,
                  args=(("delete_all", ""),))


def _delete_all(store: ConversationStore, owner_id: str) -> None:
    try:
        removed = store.delete_all(owner_id)
    except StoreUnavailable as exc:
        st.session_state["history_result"] = ("warning", str(exc))
        return
    if session.conversation().messages:  # it was one of them, saved or about to be
        session.reset_conversation()
    _ask(None)
    st.session_state["history_result"] = ("success", f"已删除 {removed} 个对话。 / Deleted {removed} conversations.")


# ---- import ----

@st.cache_resource(show_spinner=False)
def import_limiter() -> ImportRateLimiter:
    """The pace of imports on this server: one limiter shared by every session, on purpose."""
    return ImportRateLimiter()


def import_limits() -> ImportLimits:
    return ImportLimits.from_config(session.read_secrets(), os.environ)


def import_box(store: ConversationStore, owner: identity.Owner) -> None:
    """A JSON export becomes a new conversation of this owner; a bad file writes nothing."""
    generation = st.session_state.get("import_generation", 0)
    size = format_bytes(import_limits().max_import_bytes)
    st.file_uploader(
        "导入 JSON 导出文件 / Import a JSON export", type=["json"], key=f"import_{generation}",
        on_change=_import, args=(store, owner.id, f"import_{generation}"),
        help=f"由本应用导出的 JSON 文件，最大 {size}。 / A JSON file exported by this app, up to {size}.")


def _import(store: ConversationStore, owner_id: str, key: str) -> None:
    uploaded = st.session_state.get(key)
    if uploaded is None:
        return
    limits = import_limits()
    try:
        # One byte over the limit is enough for the import to refuse the file with its usual message.
        conversation = import_conversation(store, owner_id, uploaded.read(limits.max_import_bytes + 1), limits,
                                           import_limiter())
    except InvalidImport as exc:
        st.session_state["history_result"] = ("error", exc.message(lang()))
    except (StoreUnavailable, ConversationNotFound) as exc:
        st.session_state["history_result"] = ("warning", str(exc))
    else:
        title = escape_markdown(conversation.title) or UNTITLED  # text from the file: shown, not rendered
        st.session_state["history_result"] = ("success", f"已导入「{title}」。 / Imported “{title}”.")
    # A fresh uploader, so the same file is not imported again on the next rerun.
    st.session_state["import_generation"] = st.session_state.get("import_generation", 0) + 1


def show_result() -> None:
    """The outcome of the last import or delete-everything, shown once."""
    result = st.session_state.pop("history_result", None)
    if result:
        kind, text = result
        {"error": st.error, "warning": st.warning}.get(kind, st.success)(text)


_MARKDOWN_PUNCTUATION = set(string.punctuation)


def escape_markdown(text: str) -> str:
    """Show a title as the user typed it: every ASCII punctuation mark backslash-escaped."""
    return "".join("\\" + ch if ch in _MARKDOWN_PUNCTUATION else ch for ch in " ".join(text.split()))
