"""What the first page after a server start waits for: not the openai SDK's import (~0.7 s), which a
background thread does once the page is drawn, so the first message does not wait for it either."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.apptest import APP
from tests.fake_dashscope import VALID_KEY

# A fresh interpreter, as a server starts: the test process has imported the SDK long ago.
PROBE = """
import json, sys
import qwenchat.providers as providers
from streamlit.testing.v1 import AppTest

seen = {}
warm_up = providers.warm_up_in_background

def probe():
    seen["sdk_before_warm_up"] = "openai" in sys.modules
    seen["thread"] = warm_up()

providers.warm_up_in_background = probe
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
seen["thread"].join(60)
print(json.dumps({"sdk_before_warm_up": seen["sdk_before_warm_up"], "sdk_after": "openai" in sys.modules,
                  "chat_input": len(at.chat_input), "exception": [e.message for e in at.exception]}))
"""


def test_the_first_page_is_drawn_without_the_sdk_and_the_warm_up_imports_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "QWEN", "OPENAI_"))}
    env.update(DASHSCOPE_API_KEY=VALID_KEY, DASHSCOPE_BASE_URL="http://127.0.0.1:9/compatible-mode/v1",
               QWENCHAT_PROVIDER="dashscope", QWENCHAT_DB=str(tmp_path / "qwenchat.db"), HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", PROBE, str(APP)], env=env, capture_output=True, text=True,
                          timeout=120, cwd=APP.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["exception"] == [] and result["chat_input"] == 1  # the chat page, drawn
    assert result["sdk_before_warm_up"] is False
    assert result["sdk_after"] is True
