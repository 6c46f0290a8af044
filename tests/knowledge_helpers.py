"""Shared parts of the knowledge-base tests: a provider against the fake server, the demo files, and small
documents built in the test (DOCX, PDF) with the real libraries."""

from __future__ import annotations

import io
from pathlib import Path

from qwenchat.config import Settings
from qwenchat.providers import provider_for
from tests.fake_dashscope import VALID_KEY

DEMO = Path(__file__).resolve().parents[1] / "qwenchat" / "knowledge" / "demo"
ZH_CONTACTS = DEMO / "zh" / "内容公司各部门职责与关键角色联系信息汇总.md"
EN_CONTACTS = DEMO / "en" / "Employee Key Contact Information.md"
ZH_PHONES = DEMO / "zh" / "百炼系列手机产品介绍.docx"


def provider(fake, key: str = VALID_KEY):
    return provider_for(Settings(api_key=key, base_url=fake.base_url, operator_base_url=fake.base_url,
                                 provider="dashscope", allow_private=True), max_retries=0)


def docx_bytes() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("产品手册", level=1)
    d.add_paragraph("这是介绍。")
    d.add_heading("规格", level=2)
    d.add_paragraph("第一项：屏幕 6.9 英寸，分辨率 1440 x 3088。", style="List Bullet")
    d.add_paragraph("第二项：电池 6000mAh，支持 100W 快充。", style="List Bullet")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("型号", "内存", "价格"), ("星尘S9 Pro", "16GB", "5999"), ("百炼X1", "12GB", "4599")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def blank_pdf(pages: int = 2, password: str | None = None) -> bytes:
    import pypdf

    w = pypdf.PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=200, height=200)
    if password:
        w.encrypt(password)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
