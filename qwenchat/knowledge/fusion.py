"""Reciprocal rank fusion: several ranked lists of passage ids into one (Cormack et al., 2009).

Each list gives `weight / (k + rank)` to the ids it ranks (rank from 1); an id found by both keyword and
vector search rises. No score scales to calibrate, which BM25 and cosine scores do not share anyway.
"""

from __future__ import annotations

from typing import Sequence

K = 60


def fuse(ranked: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = K) -> list[tuple[int, float]]:
    """(id, fused score) best first; ties keep the order of the first list that ranks them."""
    scores: dict[int, float] = {}
    for n, ids in enumerate(ranked):
        w = weights[n] if weights is not None else 1.0
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank)
    order = {cid: i for i, cid in enumerate(dict.fromkeys(c for ids in ranked for c in ids))}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))
