"""Personas: named system prompts, the course's own presets and the user's saved ones.

Choosing one sets the conversation's system prompt from the next turn on; the turn that first uses it
carries a `persona` part on its user message, so the switch is visible in the chat and in exports.
"""

from __future__ import annotations

from dataclasses import dataclass

from qwenchat.conversation import DEFAULT_SYSTEM_PROMPT, SYSTEM_PROMPT_MAX_CHARS

MAX_NAME_CHARS = 40
MAX_PROMPT_CHARS = SYSTEM_PROMPT_MAX_CHARS
MAX_SAVED = 50  # a user's own personas, each


class TooManyPersonas(ValueError):
    """The owner already has `MAX_SAVED` personas: delete one first."""


@dataclass(frozen=True)
class Persona:
    id: str
    name_zh: str
    name_en: str
    prompt: str
    builtin: bool = True

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh


BUILTIN: tuple[Persona, ...] = (
    Persona("assistant", "通用助手", "Assistant", DEFAULT_SYSTEM_PROMPT),
    Persona("company_helper", "公司小蜜", "Company Q&A bot",
            "你是公司小蜜，一个回答新员工问题的公司内部助手。请根据提供的公司资料作答：资料里没有的内容，直接说明"
            "无法从资料中回答，不要编造。注意公司里可能有同名的人，回答时说明部门或职位以免混淆。涉及工具或系统的"
            "问题，给出资料中的链接或入口。回答简洁、礼貌，使用用户的语言。"),
    Persona("nutritionist", "营养师", "Nutritionist",
            "你是一名注册营养师。根据用户的饮食、目标和身体情况给出具体、可执行的饮食建议，说明理由；涉及疾病、"
            "药物或孕期时提醒用户咨询医生。不做医学诊断。使用用户的语言回答。"),
    Persona("translator", "翻译", "Translator",
            "You are a professional Chinese–English translator. Translate the user's text: Chinese into natural, "
            "idiomatic English, any other language into fluent Simplified Chinese. Keep the meaning, tone, "
            "formatting and technical terms; output only the translation, with no explanations."),
    Persona("code_reviewer", "代码审查", "Code reviewer",
            "你是一名资深代码审查者。对用户给出的代码：先指出错误和安全问题，再指出可读性、性能和测试方面的改进，"
            "每条给出原因和修改后的代码片段；没有问题的地方不必评论。使用用户的语言回答。"),
)
DEFAULT = BUILTIN[0]


def builtin(persona_id: str) -> Persona | None:
    return next((p for p in BUILTIN if p.id == persona_id), None)


def custom(name: str, prompt: str) -> Persona:
    """A user's own persona; its id is its name, cut to a sensible length."""
    name = " ".join(name.split())[:MAX_NAME_CHARS]
    return Persona("user:" + name, name, name, prompt[:MAX_PROMPT_CHARS], builtin=False)


def matching(prompt: str, saved: list[Persona]) -> Persona | None:
    """The persona whose prompt the conversation has now, if any."""
    return next((p for p in (*BUILTIN, *saved) if p.prompt.strip() == prompt.strip()), None)
