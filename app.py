"""Qwen Chat: `streamlit run app.py`. Runs before every page: the language switch, the menu of pages and the
access gate, then the page (`views/`). The core is in `qwenchat/`, the Streamlit pieces in `components/`."""

from components import gate, lang, navigation
from qwenchat.config import load_dotenv_once
from qwenchat.heap import freeze_imports
from qwenchat.providers import warm_up_in_background

freeze_imports()  # what earlier runs imported leaves Streamlit's full collection after each run (qwenchat/heap.py)
load_dotenv_once()
lang.switch()
page = navigation.current_page()
gate.require_access()
page.run()
warm_up_in_background()  # the SDK's import, once the first page is drawn (qwenchat/providers)
