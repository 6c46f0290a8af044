"""Personas and per-conversation parameters: the presets, a user's own saved ones, kept per owner."""

from __future__ import annotations

import pytest

from qwenchat import personas
from qwenchat.conversation import Conversation


def test_the_courses_presets_are_there():
    names = {p.name("zh") for p in personas.BUILTIN}
    assert {"公司小蜜", "营养师", "翻译", "代码审查"} <= names
    assert "同名" in personas.builtin("company_helper").prompt  # the course's "mind people with the same name"


def test_a_saved_persona_comes_back_for_its_owner_only(store):
    store.save_persona("alice", personas.custom("客服", "你是客服。"))
    store.save_persona("alice", personas.custom("客服", "你是耐心的客服。"))  # same name: replaced
    assert [(p.name("zh"), p.prompt) for p in store.list_personas("alice")] == [("客服", "你是耐心的客服。")]
    assert store.list_personas("bob") == []
    assert store.delete_persona("alice", "客服") and store.list_personas("alice") == []


def test_an_owner_cannot_save_without_bound(store):
    for i in range(personas.MAX_SAVED):
        store.save_persona("alice", personas.custom(f"p{i}", "x"))
    with pytest.raises(personas.TooManyPersonas):
        store.save_persona("alice", personas.custom("one more", "x"))


def test_the_prompt_in_use_names_its_persona():
    mine = personas.custom("我的", "自己的提示词")
    assert personas.matching(personas.builtin("translator").prompt, []).id == "translator"
    assert personas.matching("自己的提示词", [mine]) == mine and personas.matching("别的", [mine]) is None


def test_parameters_are_saved_with_the_conversation(store):
    conversation = Conversation()
    conversation.add_user("hi")
    conversation.params = {"temperature": 0.2, "seed": 42}
    store.save_conversation("alice", conversation)
    assert store.load("alice", conversation.id).params == {"temperature": 0.2, "seed": 42}
