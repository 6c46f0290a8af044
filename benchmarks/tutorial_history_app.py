"""`tutorial_app.py` with a history already in it, the baseline for `rerun_speed.py`.

`?n=N` seeds `st.session_state["messages"]` with the first N messages of the benchmark history
(`tests/e2e/load_helpers.history`, the same messages `rerun_speed.py` saves for our app), then runs
`benchmarks/tutorial_app.py` itself unchanged, so the page is exactly the tutorial's.
Run: `streamlit run benchmarks/tutorial_history_app.py` and open `/?n=100`.
"""

import runpy
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.load_helpers import history  # noqa: E402

if "messages" not in st.session_state:
    n = st.query_params.get("n", "0")
    if n.isdigit() and int(n) > 0:
        st.session_state["messages"] = history(int(n))

runpy.run_path(str(ROOT / "benchmarks" / "tutorial_app.py"))
