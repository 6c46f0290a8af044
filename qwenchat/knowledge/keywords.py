"""Search terms for keyword (BM25) search, in Chinese and English.

FTS5's `unicode61` tokenizer (like BM25 libraries and PostgreSQL's `simple` configuration) treats a run of
Chinese characters as one token, so 张伟 inside 张伟是哪个部门的 would never match. So the terms are made
here and FTS5 only splits them at the spaces between them:

- a run of Chinese characters gives its character bigrams (no dictionary: new names such as 星尘 match)
  plus jieba's words of three or more characters (search mode), and a lone character itself;
- Latin letters and digits give lower-case words split at anything else (michael.j@educompany.com gives
  michael, j, educompany, com; 星尘S9 Pro gives 星尘, s9, pro), stemmed by `_stem` (a light suffix
  stemmer: tools/tool, using/use, tracked/tracking fold to one term; no synonym lists);
- line breaks between Chinese characters (PDF tables printed one character per line) are ignored.

Queries get jieba's words (search mode) instead of every bigram, so 张伟是哪个部门的 asks for 张伟 and 部门, not
for 伟是 or 门的; a run of single characters jieba cannot place gives its bigrams; question words and English
stop words are dropped.
"""

from __future__ import annotations

import logging
import re
import threading

from qwenchat.knowledge.text import normalize

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")

STOP_EN = frozenset("""a an the is are was were be been of in on at to for from by with and or not what which who
whom whose when where why how does do did should would could can will our we us you your i my me it its this that
these those there their they them as about into please tell""".split())
STOP_ZH = frozenset("是 的 了 吗 呢 吧 啊 哪 哪个 哪些 什么 怎么 如何 多少 谁 我们 我 你 他 她 它 有 在 和 与 请问 请 一下 应该 用".split())

_jieba_lock = threading.Lock()
_jieba = None


def _cut(run: str) -> list[str]:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba.lcut_for_search(run)


def _cut_plain(run: str) -> list[str]:
    _cut("")  # loads jieba
    return _jieba.lcut(run)


_VOWEL = re.compile(r"[aeiouy]")
_DOUBLE = re.compile(r"([b-df-hj-km-np-rtv-xz])\1$")  # a doubled consonant other than l, s, z


def _stem(word: str) -> str:
    """A light English suffix stemmer (in the spirit of Porter's step 1), the same for passages and queries:
    plurals (tools, policies, classes), -ing and -ed (using, tracked, running) and a final e (use, manage)
    fold to one form, so "use" finds "using" and "tools" finds "tool". Words with digits keep all but a
    plural s; other words of three letters or fewer are kept as they are."""
    if len(word) == 3 and word.isalpha() and word.endswith("e"):
        return word[:-1]  # use, like using
    if len(word) <= 3:
        return word
    if not word.isalpha():
        return word[:-1] if word.endswith("s") and not word.endswith("ss") and not word.isdigit() else word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[:-len(suffix)]
        if word.endswith(suffix) and not word.endswith("eed") and len(base) >= 2 and _VOWEL.search(base):
            word = base[:-1] if _DOUBLE.search(base) else base
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _legacy_stem(word: str) -> str:
    """The term the index made before `_stem` (only a plural s removed): a query also asks for it, so a
    knowledge base indexed by an older version keeps finding "use" until its files are reindexed."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not word.isdigit():
        return word[:-1]
    return word


def terms(text: str, *, query: bool = False) -> list[str]:
    text = _CJK_GAP.sub("", normalize(text).lower())
    out: list[str] = []
    for run in _RUNS.findall(text):
        if not ("\u3400" <= run[0] <= "\ufaff"):
            if not (query and run in STOP_EN):
                out.append(_stem(run))
                if query and _legacy_stem(run) != out[-1]:
                    out.append(_legacy_stem(run))  # passages indexed before the stemmer still match
            continue
        if len(run) == 1:
            if not (query and run in STOP_ZH):
                out.append(run)
            continue
        if not query:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
            out.extend(w for w in _cut(run) if len(w) >= 3)
            continue
        # A query keeps jieba's words (张伟 / 是 / 哪个 / 部门 / 的 gives 张伟, 部门), and bigrams of runs of
        # single characters jieba could not place (a new name), never bigrams across word boundaries.
        words = _cut_plain(run)
        singles: list[str] = []
        for n, word in enumerate([*words, ""]):
            if len(word) == 1 and word not in STOP_ZH:
                singles.append(word)
                continue
            if len(singles) > 1:
                out.extend(singles[i] + singles[i + 1] for i in range(len(singles) - 1))
            elif singles:
                # one character jieba left alone (评估|部): joined to its neighbours' edges (估部)
                k = n - 1
                if k > 0 and words[k - 1] not in STOP_ZH:
                    out.append(words[k - 1][-1] + singles[0])
                elif word and word not in STOP_ZH:
                    out.append(singles[0] + word[0])
                if len(run) == 1:
                    out.append(singles[0])
            singles = []
            if len(word) >= 2 and word not in STOP_ZH:
                out.append(word)
        out.extend(w for w in _cut(run) if len(w) >= 2 and w not in words and w not in STOP_ZH)
    return out


def index_terms(text: str) -> str:
    """What FTS5 indexes for a passage: its terms, space-separated."""
    return " ".join(terms(text))


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, in order."""
    return list(dict.fromkeys(terms(query, query=True)))
