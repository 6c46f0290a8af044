"""qwenchat: the core of the Qwen chat app. No Streamlit here: everything is testable without a browser."""
