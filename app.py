"""Qwen Chat: `streamlit run app.py`. Runs before every page: the language switch, the menu of pages and the
access gate, then the page (`views/`). The core is in `qwenchat/`, the Streamlit pieces in `components/`."""

from components import gate, lang, navigation
from qwenchat.config import load_dotenv_once

load_dotenv_once()
lang.switch()
page = navigation.current_page()
gate.require_access()
page.run()
