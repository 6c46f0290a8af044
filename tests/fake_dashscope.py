"""A fake DashScope OpenAI-compatible server: real HTTP, real SSE, the real chunk shapes and error bodies.

Used in-process by unit and AppTest tests (`with FakeDashScope() as fake: fake.base_url`) and as its
own process by the browser tests and benchmarks (`python tests/fake_dashscope.py --port 8765`).

What it answers is decided, in order, by:
1. a reply queued with `enqueue(spec)` (or `POST /_fake/enqueue` with the spec as JSON);
2. a trigger in the last user message, `[[fake:NAME]]` or `[[fake:NAME:ARG]]` (see `reply_for_trigger`);
3. a knowledge-base request (`grounded_reply`): a query rewrite gets the latest question back; a prompt with
   numbered passages (`[1] ...`) gets the line of the passage that shares most terms with the question,
   quoted with its `[n]`, or "无法根据知识库中的资料回答这个问题。" / "I cannot answer this from the knowledge
   base's documents." when no passage shares any;
4. otherwise an echo: "收到：<the message>" streamed in two-character chunks.

Every request is recorded (`requests`, or `GET /_fake/requests`), Authorization header included, so tests
can check what the app sent and where the key went.

Images: a vision model (`-vl` in its name, or qwen3.5/3.6-plus) takes list content with `image_url` parts
carrying base64 data URLs; each image is decoded and billed by DashScope's patch rule (28 px patches, 4 to
1,280 per image, plus 2 markers; 32 px and up to 2,560 for Qwen3-VL), reported in the usage's
`prompt_tokens_details.image_tokens`. List content sent to any other model is a 400, as DashScope answers.
Tool calls are streamed as DashScope streams them (see `tool_call_chunks`): a queued spec
`{"kind": "tool_calls", "calls": [{"name", "arguments"}], "split": 3}`, or the triggers `calc`, `parallel`,
`bad_json`, `forever`, `time`, `no_tools` and `kb_search` (`reply_for_trigger`), which answer with text once the request
carries the tool results. Every request's history is checked like DashScope checks it: an assistant
message's `tool_calls` must be answered by one `tool` message per `tool_call_id`, right after it, and a
`tool` message must answer a call; otherwise the answer is DashScope's 400 (`tool_history_problem`).
A `temperature` outside [0, 2) gets DashScope's 400 too (`temperature_range`).
Embeddings and rerank, for the knowledge base: `POST /compatible-mode/v1/embeddings` answers deterministic
vectors (hashed character n-grams and words, unit length, `dimensions` honoured, `data` sent in reverse
order so clients must sort by `index`) with usage, a 400 with DashScope's error body for more than 10
inputs, 401 for a wrong key; `POST /compatible-api/v1/reranks` scores documents by n-gram overlap with the
query (`{"results": [{"index", "relevance_score"}], "usage": {"total_tokens"}}`). Make them fail with
`enqueue_embeddings(spec)` / `enqueue_rerank(spec)` (or `POST /_fake/enqueue` with `"endpoint":
"embeddings"|"rerank"` in the spec): `{"kind": "error", "code": ...}` as for chat, or `{"kind": "missing"}`
for a 404 like a server without the endpoint; `{"kind": "slow", "delay": S}` answers normally after S
seconds. Requests land in `embedding_requests` and `rerank_requests`.

`GET {base}/models` lists `models` (set the attribute to change it; `GET /models` requests are recorded in
`model_requests`). `FakeDashScope(api_key=None)` accepts any key or none, like a local Ollama or vLLM.
A queued streaming reply may be held at a gate: `"hold": {"gate": NAME, "before": K}` stops its stream
before chunk K until the test opens the gate (`open_gate(NAME)`, or `POST /_fake/open_gate` with
`{"gate": NAME}`), sending an SSE comment every second meanwhile. `reset()` and `stop()` open every gate.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VALID_KEY = "sk-fake-valid-key-for-tests-0000"

ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "invalid_api_key": (401, {"message": "Incorrect API key provided. For details, see: https://help.aliyun.com/zh/model-studio/error-code#apikey-error", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}),
    "limit_requests": (429, {"message": "You have exceeded your current request limit. For details, see: https://help.aliyun.com/zh/model-studio/error-code#rate-limit", "type": "limit_requests", "param": None, "code": "limit_requests"}),
    "insufficient_quota": (429, {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}),
    "data_inspection_failed": (400, {"message": "Input data may contain inappropriate content. For details, see: https://help.aliyun.com/zh/model-studio/error-code#inappropriate-content", "type": "data_inspection_failed", "param": None, "code": "data_inspection_failed"}),
    "arrearage": (400, {"message": "Access denied, please make sure your account is in good standing. For details, see: https://help.aliyun.com/zh/model-studio/error-code#overdue-payment", "type": "Arrearage", "param": None, "code": "Arrearage"}),
    "context_too_long": (400, {"message": "<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 129024]", "type": "invalid_request_error", "param": None, "code": "invalid_parameter_error"}),
    "model_not_found": (404, {"message": "The model `qwen-nope` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": None, "code": "model_not_found"}),
    "list_content": (400, {"message": "<400> InternalError.Algo.InvalidParameter: Input should be a valid string: "
                           "messages.content", "type": "invalid_request_error", "param": None,
                           "code": "invalid_parameter_error"}),
    "tools_unsupported": (400, {"message": "<400> InternalError.Algo.InvalidParameter: The model does not support "
                                "tools (function calling).", "type": "invalid_request_error", "param": None,
                                "code": "invalid_parameter_error"}),
    # DashScope's answer to a temperature outside [0, 2) (the value the user chose is sent as it is)
    "temperature_range": (400, {"message": "<400> InternalError.Algo.InvalidParameter: Temperature should be in "
                                "[0.0, 2.0)", "type": "invalid_request_error", "param": None,
                                "code": "invalid_parameter_error"}),
    # a bare 400 that does not say why (a proxy, or a server that takes no `tools` and says nothing more)
    "bad_request": (400, {"message": "Bad Request", "type": "invalid_request_error", "param": None,
                          "code": "invalid_request_error"}),
    "server_error": (500, {"message": "The server had an error while processing your request.", "type": "internal_error", "param": None, "code": "internal_error"}),
}

XSS_REPLY = (
    'Here: <script>window.__xss=1</script><img src=x onerror="window.__xss=2"> '
    "and [a link](javascript:window.__xss=3) <b>bold?</b>"
)


def chunk(delta: dict[str, Any] | None, *, finish: str | None = None, usage: dict | None = None,
          model: str = "qwen-plus", cid: str = "chatcmpl-fake") -> dict[str, Any]:
    choices = [] if delta is None else [{"delta": delta, "index": 0, "logprobs": None, "finish_reason": finish}]
    return {"choices": choices, "object": "chat.completion.chunk", "usage": usage,
            "created": int(time.time()), "system_fingerprint": None, "model": model, "id": cid}


def usage_for(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0,
              image_tokens: int = 0) -> dict[str, Any]:
    details: dict[str, Any] = {"cached_tokens": 0}
    if image_tokens:
        details["image_tokens"] = image_tokens
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "prompt_tokens_details": details}


def sees(model: str) -> bool:
    lowered = model.lower()
    return "-vl" in lowered or lowered.startswith(("qwen3.5-plus", "qwen3.6-plus"))


def image_tokens(url: str, model: str) -> int:
    """What DashScope bills for one data-URL image (written here apart from the app's own estimate)."""
    from PIL import Image

    patch, most = (32, 2560) if model.lower().startswith(("qwen3-vl", "qwen3.5", "qwen3.6")) else (28, 1280)
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        width, height = image.size
    h, w = max(patch, round(height / patch) * patch), max(patch, round(width / patch) * patch)
    if h * w > most * patch * patch:
        beta = math.sqrt(height * width / (most * patch * patch))
        h, w = max(patch, math.floor(height / beta / patch) * patch), max(patch, math.floor(width / beta / patch) * patch)
    elif h * w < 4 * patch * patch:
        beta = math.sqrt(4 * patch * patch / (height * width))
        h, w = math.ceil(height * beta / patch) * patch, math.ceil(width * beta / patch) * patch
    return h * w // (patch * patch) + 2


def body_image_tokens(body: dict[str, Any]) -> int:
    model = body.get("model", "")
    return sum(image_tokens(part["image_url"]["url"], model)
               for message in body.get("messages", []) if isinstance(message.get("content"), list)
               for part in message["content"] if part.get("type") == "image_url")


def has_list_content(body: dict[str, Any]) -> bool:
    return any(isinstance(m.get("content"), list) for m in body.get("messages", []))


def split_pairs(text: str, size: int = 2) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def prompt_size(body: dict[str, Any]) -> int:
    """A deterministic stand-in for the prompt's token count: the fake bills characters."""
    total = 3
    for message in body.get("messages", []):
        total += 5 + len(text_of(message.get("content")))
    return total + body_image_tokens(body)


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user" and isinstance(message.get("content"), (str, list)):
            return text_of(message["content"])
    return ""


def tool_results_since_user(body: dict[str, Any]) -> list[str]:
    """The contents of the `tool` messages after the last user message (this turn's tool results)."""
    results: list[str] = []
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            break
        if message.get("role") == "tool":
            results.insert(0, str(message.get("content")))
    return results


def calc_call(expression: str) -> dict[str, Any]:
    return {"name": "calculator", "arguments": json.dumps({"expression": expression}, ensure_ascii=False)}


def tool_reply_for_trigger(name: str, arg: str | None, body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool triggers: a call (or calls) first; once the request carries results, a text answer with them
    (`结果：` and the results joined by `；`)."""
    results = tool_results_since_user(body)
    answer = {"kind": "text", "chunks": split_pairs("结果：" + "；".join(results))}
    if name == "calc":  # [[fake:calc:393*285]] -> calculator, its arguments in 3-character pieces
        return answer if results else {"kind": "tool_calls", "calls": [calc_call(arg or "1+1")], "split": 3}
    if name == "parallel":  # [[fake:parallel:393*285|2**10]] -> two calls in one response
        expressions = (arg or "393*285|2**10").split("|")
        return answer if results else {"kind": "tool_calls", "calls": [calc_call(e) for e in expressions],
                                       "split": 4}
    if name == "time":
        return answer if results else {"kind": "tool_calls", "calls": [{"name": "current_time", "arguments": "{}"}]}
    if name == "bad_json":  # malformed arguments first; after the error, a good call; then the answer
        if not results:
            return {"kind": "tool_calls", "calls": [{"name": "calculator", "arguments": '{"expression": "6*7"'}],
                    "split": 5}
        if len(results) == 1:
            return {"kind": "tool_calls", "calls": [calc_call("6*7")]}
        return answer
    if name == "forever":  # a model that never stops calling
        return {"kind": "tool_calls", "content": "再算一次。", "calls": [calc_call(f"{len(results)}+1")]}
    if name == "kb_search":  # [[fake:kb_search:张伟|马云]] -> one search per round, then each best line with [n]
        queries = (arg or "").split("|")
        if len(results) < len(queries):
            query = queries[len(results)]
            return {"kind": "tool_calls", "split": 4, "calls": [
                {"name": "search_knowledge_base", "arguments": json.dumps({"query": query}, ensure_ascii=False)}]}
        return {"kind": "text", "chunks": split_pairs("；".join(
            best_passage_line(result, query) for result, query in zip(results, queries)))}
    if name == "no_tools":  # a server that refuses `tools` with a 400
        if body.get("tools"):
            return {"kind": "error", "code": "tools_unsupported"}
        return {"kind": "text", "chunks": split_pairs("没有工具也能聊。")}
    return None


def tool_history_problem(body: dict[str, Any]) -> str:
    """What DashScope would refuse in this request's tool calls and results ("" when it is valid)."""
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(
                isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)
                and isinstance(t["function"].get("name"), str) for t in tools):
            return "tools must be a list of {\"type\": \"function\", \"function\": {...}}"
    messages = body.get("messages", [])
    answered: set[str] = set()
    i = 0
    while i < len(messages):
        message = messages[i]
        role = message.get("role")
        if role == "tool":
            return f"a tool message (tool_call_id {message.get('tool_call_id')!r}) does not follow an assistant " \
                   "message with tool_calls"
        calls = message.get("tool_calls") if role == "assistant" else None
        i += 1
        if not calls:
            continue
        ids = []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not (isinstance(call.get("id"), str) and call["id"] and call.get("type") == "function"
                    and isinstance(function, dict) and isinstance(function.get("name"), str)
                    and isinstance(function.get("arguments"), str)):
                return "each tool_calls item needs an id, type \"function\", function.name and function.arguments"
            try:
                arguments = json.loads(function["arguments"])
            except ValueError:
                arguments = None
            if not isinstance(arguments, dict):
                return 'The "function.arguments" parameter must be in JSON format.'
            ids.append(call["id"])
        if len(set(ids)) != len(ids) or answered & set(ids):
            return "tool_call ids must be unique"
        replies = []
        while i < len(messages) and messages[i].get("role") == "tool":
            replies.append(messages[i])
            i += 1
        got = [r.get("tool_call_id") for r in replies]
        if sorted(map(str, got)) != sorted(ids) or not all(isinstance(r.get("content"), str) for r in replies):
            return ('An assistant message with "tool_calls" must be followed by tool messages responding to each '
                    f'"tool_call_id". Expected {ids}, got {got}.')
        answered.update(ids)
    return ""


_PASSAGE = re.compile(r"^\[(\d+)\] [^\n]*\n", re.MULTILINE)
_QUESTION = re.compile(r"(?:问题：|Question: )(.*)\Z", re.DOTALL)
CANNOT_ANSWER = {"zh": "无法根据知识库中的资料回答这个问题。",
                 "en": "I cannot answer this from the knowledge base's documents."}


def question_terms(question: str) -> set[str]:
    """Chinese character pairs and English words of three letters or more."""
    terms: set[str] = set()
    for run in _WORD.findall(question.lower()):
        if _CJK.match(run):
            terms.update(run[i:i + 2] for i in range(max(1, len(run) - 1)))
        elif len(run) >= 3:
            terms.add(run)
    return terms


def grounded_reply(body: dict[str, Any]) -> str | None:
    """What a model would plausibly answer to the app's knowledge-base prompts (see the module docstring),
    deterministically; None for any other request."""
    messages = body.get("messages", [])
    system = " ".join(m.get("content", "") for m in messages if m.get("role") == "system"
                      and isinstance(m.get("content"), str))
    text = last_user_text(body)
    if "standalone search query" in system:
        try:
            return " ".join(str(json.loads(text).get("latest_question", "")).split())
        except ValueError:
            return None
    question = _QUESTION.search(text)
    if not question or not ("资料：" in text or "Passages:" in text):
        return None
    question_text = question.group(1).strip()
    lang = "zh" if _CJK.search(question_text) else "en"
    heads = list(_PASSAGE.finditer(text[:question.start()]))
    terms = question_terms(question_text)
    lines: list[tuple[int, str]] = []  # (passage number, line)
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else question.start()
        lines += [(int(head.group(1)), ln.strip()) for ln in text[head.end():end].splitlines() if ln.strip()]
    # A term found on few lines says more than one found everywhere (部门 in a company's documents).
    spread = {term: sum(1 for _, line in lines if term in line.lower()) for term in terms}
    best: tuple[float, int, str] | None = None  # (-score, n, line)
    for n, line in lines:
        score = sum(1 / spread[term] for term in terms if term in line.lower())
        if score and (best is None or (-score, n) < best[:2]):
            best = (-score, n, line[:160])
    if best is None:
        return CANNOT_ANSWER[lang]
    return (f"根据资料：{best[2]} [{best[1]}]" if lang == "zh" else f"According to the documents: {best[2]} [{best[1]}]")


def best_passage_line(text: str, query: str) -> str:
    """The line of the numbered passages in `text` that shares the most terms with `query`, quoted with its
    number (`根据知识库：LINE [n]`), or `知识库里没有找到。`."""
    heads = list(_PASSAGE.finditer(text))
    terms = question_terms(query) or {query.lower()}
    best: tuple[int, int, str] | None = None  # (-score, n, line)
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        for line in text[head.end():end].splitlines():
            score = sum(1 for term in terms if term in line.lower())
            if score and (best is None or (-score, int(head.group(1))) < best[:2]):
                best = (-score, int(head.group(1)), line.strip()[:160])
    return f"根据知识库：{best[2]} [{best[1]}]" if best else "知识库里没有找到。"


def reply_for_trigger(text: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Turn `[[fake:NAME:ARG]]` in the user's text into a reply spec."""
    match = re.search(r"\[\[fake:([a-z_]+)(?::([^\]]*))?\]\]", text)
    if not match:
        return None
    name, arg = match.group(1), match.group(2)
    tool_reply = tool_reply_for_trigger(name, arg, body or {})
    if tool_reply is not None:
        return tool_reply
    if name in ERRORS:
        return {"kind": "error", "code": name}
    if name == "long":  # [[fake:long:8000]] -> 8000 chunks of two characters
        count = int(arg or 8000)
        return {"kind": "text", "chunks": ["数据"] * count}
    if name == "slow":  # [[fake:slow:20]] -> 20 chunks, 0.1 s apart
        return {"kind": "text", "chunks": [f"片段{i} " for i in range(int(arg or 20))], "delay": 0.1}
    if name == "think":
        return {"kind": "text", "reasoning": split_pairs("用户在问问题，我先想一想。"), "chunks": split_pairs("想好了：答案是 42。")}
    if name == "xss":
        return {"kind": "text", "chunks": [XSS_REPLY[i:i + 7] for i in range(0, len(XSS_REPLY), 7)]}
    if name == "cut":
        return {"kind": "cut", "chunks": split_pairs("这段回答说到一半，")}
    if name == "output_moderation":
        return {"kind": "mid_error", "chunks": split_pairs("这段回答将被撤回。")}
    if name == "throttle_frame":
        return {"kind": "throttle_frame", "chunks": split_pairs("限流之前的文字。")}
    if name == "data_prefixed":
        return {"kind": "data_prefixed_400"}
    if name == "timeout":  # answers only after `arg` seconds
        return {"kind": "text", "chunks": ["迟到的回答"], "first_delay": float(arg or 30)}
    if name == "no_usage":
        return {"kind": "text", "chunks": split_pairs("没有用量信息的回答。"), "usage": False}
    if name == "keepalive":  # [[fake:keepalive:1]] -> a little text, then `: keepalive` every 1 s, forever
        return {"kind": "keepalive", "chunks": split_pairs("先说一点，"), "interval": float(arg or 1)}
    if name == "redirect":  # [[fake:redirect:http://127.0.0.1:9/v1/chat/completions]] -> 307 there
        return {"kind": "redirect", "location": arg or "http://127.0.0.1:9/", "status": 307}
    return None


MODELS = ["qwen-flash", "qwen-plus", "qwen3-max", "qwq-plus"]

# DashScope's answer to an embedding request with more than 10 inputs (text-embedding-v3/v4).
BATCH_TOO_LARGE = {"message": "<400> InternalError.Algo.InvalidParameter: Value error, batch size is invalid, it "
                              "should not be larger than 10.: input.contents",
                   "type": "InvalidParameter", "param": None, "code": "InvalidParameter"}
# ... and to one whose input has more tokens than text-embedding-v3/v4 take (8,192), counted with the model's
# vocabulary
EMBEDDING_MAX_TOKENS = 8192
INPUT_TOO_LONG = {"message": "<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 8192]",
                  "type": "InvalidParameter", "param": None, "code": "InvalidParameter"}


def _model_tokens(text: str) -> int:
    if len(text.encode()) <= EMBEDDING_MAX_TOKENS:  # (a byte-level vocabulary: never more tokens than bytes)
        return len(text.encode())
    from qwenchat.tokens import count_text

    return count_text(text, "text-embedding-v4")


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z0-9]+")


def features(text: str) -> list[str]:
    """What the fake's vectors and rerank scores are made of: Chinese characters and their bigrams, English
    words and their character trigrams (NFKC, lower case)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for run in _WORD.findall(text):
        if _CJK.match(run):
            out.extend(run)
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            out.append(run)
            padded = f" {run} "
            out.extend(padded[i:i + 3] for i in range(len(padded) - 2))
    return out


def fake_embedding(text: str, dimensions: int = 1024) -> list[float]:
    """A deterministic unit vector: each feature hashed to a dimension and a sign, counts dampened."""
    import hashlib
    import math

    counts: dict[str, int] = {}
    for feature in features(text):
        counts[feature] = counts.get(feature, 0) + 1
    vector = [0.0] * dimensions
    for feature, count in counts.items():
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dimensions
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[slot] += sign * (1.0 + math.log(count))
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def overlap_score(query: str, document: str) -> float:
    """The share of the query's features found in the document (0..1)."""
    wanted = set(features(query))
    return len(wanted & set(features(document))) / len(wanted) if wanted else 0.0


def fake_tokens(text: str) -> int:
    return max(1, len(text) // 2)


# --- the knowledge-base evaluation's prompts (qwenchat.knowledge.answer and .evalscore) -------------------
RAG_OPENING = "Passages / 资料:"
JUDGE_MARK = "RAG evaluation judge"
DECLINE = "文档中没有相关信息。"
_CLAIM_SPLIT = re.compile(r"[。；;！？!?\n]+|\.(?:\s+|$)")


def claims(text: str) -> list[str]:
    """The fake's idea of a text's claims: its sentences."""
    return [c.strip() for c in _CLAIM_SPLIT.split(text or "") if len(c.strip()) >= 2]


def fake_rag_answer(prompt: str) -> str:
    """Answer a RAG prompt with the first passage's first sentence, headings aside (cited), or decline
    without passages."""
    match = re.search(r"^\[1\] [^\n]*\n(.*?)(?:\n\n\[2\] |\n\nQuestion / 问题:)", prompt, re.S | re.M)
    if not match or not match.group(1).strip():
        return DECLINE
    first = claims("\n".join(line for line in match.group(1).splitlines() if not line.startswith("#")))
    return f"{(first[0] if first else match.group(1).strip())[:80]} [1]"


def fake_judgement(document: dict[str, Any]) -> dict[str, Any]:
    """Scores from character overlap: a passage is relevant when it holds >= 30% of the reference's
    features; a claim is supported when >= 60% of its features are in the passages; correctness is the
    share of the reference's features in the answer (2 decimals). A declining answer makes no claims."""
    reference, answer = str(document.get("reference", "")), str(document.get("answer", ""))
    passages = [str(p.get("text", "")) for p in document.get("passages", []) if isinstance(p, dict)]
    joined = "\n".join(passages)
    ref_claims = claims(reference)
    ans_claims = [] if DECLINE in answer else claims(answer.replace("[1]", ""))
    return {"relevant": [1 if overlap_score(reference, p) >= 0.3 else 0 for p in passages],
            "reference_claims": len(ref_claims),
            "reference_supported": sum(1 for c in ref_claims if overlap_score(c, joined) >= 0.6),
            "answer_claims": len(ans_claims),
            "answer_supported": sum(1 for c in ans_claims if overlap_score(c, joined) >= 0.6),
            "correctness": round(overlap_score(reference, answer), 2)}


def reply_for_evaluation(body: dict[str, Any]) -> dict[str, Any] | None:
    """The evaluation's judge gets its JSON in a ```json fence (as real models often send it); a RAG
    prompt gets `fake_rag_answer`."""
    messages = body.get("messages", [])
    system = " ".join(m.get("content", "") for m in messages
                      if m.get("role") == "system" and isinstance(m.get("content"), str))
    text = last_user_text(body)
    if JUDGE_MARK in system:
        try:
            document = json.loads(text)
        except ValueError:
            return {"kind": "text", "chunks": ["not json"]}
        reply = "```json\n" + json.dumps(fake_judgement(document), ensure_ascii=False) + "\n```"
        return {"kind": "text", "chunks": [reply]}
    if text.startswith(RAG_OPENING):
        return {"kind": "text", "chunks": split_pairs(fake_rag_answer(text))}
    return None


class FakeDashScope:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = VALID_KEY,
                 models: list[str] | None = None):
        self.api_key = api_key  # None: any key, or none, is accepted (a local server)
        self.models: list[str] = list(MODELS if models is None else models)
        self._configured = (api_key, list(self.models))  # what reset() restores
        self.model_requests: list[dict[str, Any]] = []
        self._closing = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.usages: list[dict[str, Any]] = []
        self._queue: list[dict[str, Any]] = []
        self._embedding_queue: list[dict[str, Any]] = []
        self._rerank_queue: list[dict[str, Any]] = []
        self.embedding_requests: list[dict[str, Any]] = []
        self.rerank_requests: list[dict[str, Any]] = []
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/compatible-mode/v1"

    def enqueue(self, *specs: dict[str, Any]) -> None:
        with self._lock:
            self._queue.extend(specs)

    def enqueue_embeddings(self, *specs: dict[str, Any]) -> None:
        """Answers for the next embedding requests: {"kind": "error", "code": ...} or {"kind": "missing"}."""
        with self._lock:
            self._embedding_queue.extend(specs)

    def enqueue_rerank(self, *specs: dict[str, Any]) -> None:
        with self._lock:
            self._rerank_queue.extend(specs)

    def _next_from(self, queue: list[dict[str, Any]]) -> dict[str, Any] | None:
        with self._lock:
            return queue.pop(0) if queue else None

    def reset(self) -> None:
        self._open_all_gates()
        with self._lock:
            self._queue.clear()
            self._embedding_queue.clear()
            self._rerank_queue.clear()
            self.embedding_requests.clear()
            self.rerank_requests.clear()
            self.requests.clear()
            self.usages.clear()
            self.model_requests.clear()
            self.api_key, self.models = self._configured[0], list(self._configured[1])
            self._gates.clear()

    def gate(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def open_gate(self, name: str) -> None:
        self.gate(name).set()

    def _open_all_gates(self) -> None:
        with self._lock:
            gates = list(self._gates.values())
        for gate in gates:
            gate.set()

    def next_spec(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        text = last_user_text(body)
        trigger = reply_for_trigger(text, body) or reply_for_evaluation(body)
        if trigger:
            return trigger
        grounded = grounded_reply(body)
        if grounded is not None:
            return {"kind": "text", "chunks": split_pairs(grounded)}
        return {"kind": "text", "chunks": split_pairs("收到：" + text)}

    def start(self) -> "FakeDashScope":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # ends endless replies (keepalive) at their next beat
        self._open_all_gates()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeDashScope":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(fake: FakeDashScope) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        # --- plumbing -------------------------------------------------------------------------
        def _json(self, status: int, payload: Any, raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream;charset=UTF-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

        def _write(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def _event(self, payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            try:
                data = text.encode()
            except UnicodeEncodeError:  # a lone surrogate: sent as a JSON escape ("\ud800"), as servers do
                data = json.dumps(payload, ensure_ascii=True).encode()
            self._write(b"data: %s\n\n" % data)

        def _end_stream(self) -> None:
            self._write(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        # --- routes ---------------------------------------------------------------------------
        def do_GET(self) -> None:
            if self.path == "/_fake/requests":
                return self._json(200, fake.requests)
            if self.path == "/_fake/usages":
                return self._json(200, fake.usages)
            if self.path.rstrip("/").endswith("/v1/models"):
                with fake._lock:
                    fake.model_requests.append({"path": self.path,
                                                "authorization": self.headers.get("Authorization", "")})
                return self._json(200, {"object": "list", "data": [
                    {"id": name, "object": "model", "created": 1726132850, "owned_by": "fake"}
                    for name in fake.models]})
            self._json(404, {"error": {"message": "not found", "code": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path == "/_fake/enqueue":
                spec = json.loads(raw)
                endpoint = spec.pop("endpoint", "chat") if isinstance(spec, dict) else "chat"
                {"embeddings": fake.enqueue_embeddings, "rerank": fake.enqueue_rerank}.get(endpoint, fake.enqueue)(spec)
                return self._json(200, {"ok": True})
            if self.path == "/_fake/reset":
                fake.reset()
                return self._json(200, {"ok": True})
            if self.path == "/_fake/open_gate":
                fake.open_gate(str(json.loads(raw)["gate"]))
                return self._json(200, {"ok": True})
            if self.path.rstrip("/") == "/compatible-mode/v1/embeddings":
                return self._embeddings(raw)
            if self.path.rstrip("/") == "/compatible-api/v1/reranks":
                return self._reranks(raw)
            if not self.path.endswith("/chat/completions"):
                return self._json(404, {"error": {"message": "not found", "code": "not_found"}})
            body = json.loads(raw or b"{}")
            with fake._lock:
                fake.requests.append({"path": self.path, "authorization": self.headers.get("Authorization", ""), "body": body})
            if fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._error("invalid_api_key")
            if has_list_content(body) and not sees(body.get("model", "")):
                return self._error("list_content")
            temperature = body.get("temperature")
            if isinstance(temperature, (int, float)) and not 0 <= temperature < 2:
                return self._error("temperature_range")
            problem = tool_history_problem(body)
            if problem:
                return self._error_body(400, {"message": f"<400> InternalError.Algo.InvalidParameter: {problem}",
                                              "type": "invalid_request_error", "param": None,
                                              "code": "invalid_parameter_error"})
            spec = fake.next_spec(body)
            if spec.get("first_delay"):
                time.sleep(spec["first_delay"])
            kind = spec.get("kind", "text")
            if kind == "error":
                return self._error(spec["code"])
            if kind == "redirect":
                self.send_response(int(spec.get("status", 307)))
                self.send_header("Location", spec["location"])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if kind == "data_prefixed_400":
                status, error = ERRORS["data_inspection_failed"]
                raw_body = b"data: " + json.dumps({"error": error, "request_id": "req-fake"}).encode()
                return self._json(400, None, raw=raw_body)
            if kind == "json" or not body.get("stream"):
                return self._completion(spec, body)
            self._stream(spec, body)

        def _error_body(self, status: int, error: dict[str, Any]) -> None:
            self._json(status, {"error": error, "id": "chatcmpl-fake", "request_id": f"req-{uuid.uuid4().hex[:12]}"})
        def _queued_failure(self, spec: dict[str, Any] | None) -> bool:
            """Answer a queued failure; True when one was sent."""
            if spec is None:
                return False
            if spec.get("kind") == "slow":  # answered normally, after a pause (a progress bar stays up)
                time.sleep(float(spec.get("delay", 0.3)))
                return False
            if spec.get("kind") == "missing":
                self._json(404, {"error": {"message": "not found", "code": "not_found"}})
            else:
                self._error(spec.get("code", "server_error"))
            return True

        def _embeddings(self, raw: bytes) -> None:
            body = json.loads(raw or b"{}")
            with fake._lock:
                fake.embedding_requests.append({"path": self.path, "body": body,
                                                "authorization": self.headers.get("Authorization", "")})
            if fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._error("invalid_api_key")
            if self._queued_failure(fake._next_from(fake._embedding_queue)):
                return
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
                return self._json(400, {"error": {"message": "<400> InternalError.Algo.InvalidParameter: Value "
                                                  "error, contents is neither str nor list of str.: input.contents",
                                                  "type": "InvalidParameter", "param": None,
                                                  "code": "InvalidParameter"}, "request_id": "req-fake"})
            if len(texts) > 10:
                return self._json(400, {"error": BATCH_TOO_LARGE, "id": "emb-fake", "request_id": "req-fake-batch"})
            if any(_model_tokens(t) > EMBEDDING_MAX_TOKENS for t in texts):
                return self._json(400, {"error": INPUT_TOO_LONG, "id": "emb-fake", "request_id": "req-fake-long"})
            dims = int(body.get("dimensions") or 1024)
            data = [{"embedding": fake_embedding(t, dims), "index": i, "object": "embedding"}
                    for i, t in enumerate(texts)]
            tokens = sum(fake_tokens(t) for t in texts)
            self._json(200, {"data": data[::-1], "model": body.get("model", "text-embedding-v4"), "object": "list",
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                             "id": f"emb-{uuid.uuid4().hex[:12]}"})

        def _reranks(self, raw: bytes) -> None:
            body = json.loads(raw or b"{}")
            with fake._lock:
                fake.rerank_requests.append({"path": self.path, "body": body,
                                             "authorization": self.headers.get("Authorization", "")})
            if fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._error("invalid_api_key")
            if self._queued_failure(fake._next_from(fake._rerank_queue)):
                return
            query, documents = str(body.get("query", "")), list(body.get("documents") or [])
            scored = sorted(((i, round(overlap_score(query, str(d)), 6)) for i, d in enumerate(documents)),
                            key=lambda p: (-p[1], p[0]))
            top_n = int(body.get("top_n") or len(scored))
            tokens = fake_tokens(query) * max(1, len(documents)) + sum(fake_tokens(str(d)) for d in documents)
            self._json(200, {"results": [{"index": i, "relevance_score": s} for i, s in scored[:top_n]],
                             "usage": {"total_tokens": tokens}, "id": f"rerank-{uuid.uuid4().hex[:12]}"})

        def _error(self, code: str) -> None:
            status, error = ERRORS[code]
            self._json(status, {"error": error, "id": "chatcmpl-fake", "request_id": f"req-{uuid.uuid4().hex[:12]}"})

        def _completion(self, spec: dict[str, Any], body: dict[str, Any]) -> None:
            content = spec.get("content", "".join(spec.get("chunks", [])))
            usage = usage_for(prompt_size(body), max(1, len(content) // 2))
            fake.usages.append(usage)
            self._json(200, {
                "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop",
                             "index": 0, "logprobs": None}],
                "object": "chat.completion", "usage": usage, "created": int(time.time()),
                "system_fingerprint": None, "model": body.get("model", "qwen-plus"), "id": "chatcmpl-fake"})

        def _stream(self, spec: dict[str, Any], body: dict[str, Any]) -> None:
            model = body.get("model", "qwen-plus")
            delay = float(spec.get("delay", 0))
            reasoning = spec.get("reasoning", [])
            chunks = spec.get("chunks", [])
            kind = spec.get("kind", "text")
            hold = spec.get("hold") or {}
            try:
                self._start_stream()
                self._event(chunk({"content": "", "role": "assistant"}, model=model))
                for piece in reasoning:
                    self._event(chunk({"content": None, "reasoning_content": piece}, model=model))
                    if delay:
                        time.sleep(delay)
                if kind == "tool_calls":
                    return self._tool_calls(spec, body, model, delay)
                for index, piece in enumerate(chunks):
                    if hold and index == hold.get("before"):
                        gate = fake.gate(str(hold["gate"]))
                        while not gate.wait(1.0):
                            self._write(b": held\n\n")  # an SSE comment: the connection stays alive
                    self._event(chunk({"content": piece}, model=model))
                    if delay:
                        time.sleep(delay)
                if kind == "keepalive":  # SSE comments only, until the client leaves or the server stops
                    interval = float(spec.get("interval", 1.0))
                    while not fake._closing.wait(interval):
                        self._write(b": keepalive\n\n")
                        self.wfile.flush()
                    return
                if kind == "cut":
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # mid-body: the client sees an incomplete chunked read
                    return
                if kind == "mid_error":
                    self._event({"error": {"code": "data_inspection_failed", "message": "Output data may contain inappropriate content. For details, see: https://help.aliyun.com/zh/model-studio/error-code#inappropriate-content"},
                                 "request_id": "req-fake-output"})
                    self._end_stream()
                    return
                if kind == "throttle_frame":
                    self._event({"code": "Throttling.AllocationQuota", "message": "Allocated quota exceeded, please increase your quota limit.", "request_id": "req-fake-throttle"})
                    self._end_stream()
                    return
                self._event(chunk({"content": ""}, finish="stop", model=model))
                if spec.get("usage", True) is not False and (body.get("stream_options") or {}).get("include_usage"):
                    usage = spec.get("usage") if isinstance(spec.get("usage"), dict) else usage_for(
                        prompt_size(body), len(chunks) + len(reasoning), len(reasoning), body_image_tokens(body))
                    fake.usages.append(usage)
                    self._event(chunk(None, usage=usage, model=model))
                self._end_stream()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (a Stop in the app): nothing to do

        def _tool_calls(self, spec: dict[str, Any], body: dict[str, Any], model: str, delay: float) -> None:
            if spec.get("content"):
                for piece in split_pairs(spec["content"]):
                    self._event(chunk({"content": piece}, model=model))
            pieces = tool_call_chunks(spec["calls"], int(spec.get("split", 0)), bool(spec.get("interleave")))
            for delta in pieces:
                self._event(chunk({"content": None, "tool_calls": [delta]}, model=model))
                if delay:
                    time.sleep(delay)
            self._event(chunk({}, finish="tool_calls", model=model))
            if (body.get("stream_options") or {}).get("include_usage"):
                written = sum(len(c["arguments"]) for c in spec["calls"]) // 2 + 5 * len(spec["calls"])
                usage = usage_for(prompt_size(body), written)
                fake.usages.append(usage)
                self._event(chunk(None, usage=usage, model=model))
            self._end_stream()

    return Handler


def tool_call_chunks(calls: list[dict[str, Any]], split: int = 0, interleave: bool = False) -> list[dict[str, Any]]:
    """The `delta.tool_calls` items DashScope streams for `calls`: per call a first piece with index, id, type,
    name and empty arguments, then the arguments in pieces of `split` characters (whole when 0) that carry
    only the index. Calls follow each other, or alternate piece by piece with `interleave`."""
    per_call = []
    for index, call in enumerate(calls):
        call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        first = {"index": index, "id": call_id, "type": "function",
                 "function": {"name": call["name"], "arguments": ""}}
        text = call["arguments"]
        size = split or max(1, len(text))
        rest = [{"index": index, "function": {"arguments": text[i:i + size]}} for i in range(0, len(text), size)]
        per_call.append([first, *rest])
    if not interleave:
        return [piece for pieces in per_call for piece in pieces]
    out = []
    for row in range(max(len(p) for p in per_call)):
        out.extend(pieces[row] for pieces in per_call if row < len(pieces))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=VALID_KEY)
    args = parser.parse_args()
    fake = FakeDashScope(port=args.port, api_key=args.api_key)
    print(f"fake DashScope on {fake.base_url}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
