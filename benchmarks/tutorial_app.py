"""The plain tutorial chatbot (streamlit/llm-examples' pattern), as the baseline for `stream_speed.py`.

History is a list of dicts in session state; the reply is `st.write_stream` over the SDK's stream, which
re-renders the whole text on every chunk. Same environment as the app: DASHSCOPE_API_KEY and
DASHSCOPE_BASE_URL. Run: `streamlit run benchmarks/tutorial_app.py`.
"""

import os

import streamlit as st
from openai import OpenAI

st.title("💬 Tutorial chatbot")

api_key = os.environ.get("DASHSCOPE_API_KEY", "")
base_url = os.environ.get("DASHSCOPE_BASE_URL", "https://dashscope.aliyuncs.com/compatible-mode/v1")
if not api_key:
    st.info("Set DASHSCOPE_API_KEY to continue.")
    st.stop()

if "messages" not in st.session_state:
    st.session_state["messages"] = [{"role": "assistant", "content": "How can I help you?"}]

for msg in st.session_state.messages:
    st.chat_message(msg["role"]).write(msg["content"])

if prompt := st.chat_input():
    client = OpenAI(api_key=api_key, base_url=base_url)
    st.session_state.messages.append({"role": "user", "content": prompt})
    st.chat_message("user").write(prompt)
    with st.chat_message("assistant"):
        stream = client.chat.completions.create(model="qwen-plus", messages=st.session_state.messages,
                                                stream=True)
        response = st.write_stream(stream)
    st.session_state.messages.append({"role": "assistant", "content": response})
