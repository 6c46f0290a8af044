"""Streamlit pieces of the app. Each module draws one part of the page and calls into `qwenchat`."""
