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


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with these lines of text on its pages (Helvetica, one text object a page)."""
    objects: list[str] = ["<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", ""]
    kids = []
    for lines in pages:
        ops = ["BT /F1 10 Tf 14 TL 50 780 Td"]
        ops += ["(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*" for line in lines]
        stream = "\n".join([*ops, "ET"])
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 1 0 R >> >> "
                       f"/Contents {len(objects)} 0 R >>")
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    objects.append("<< /Type /Catalog /Pages 2 0 R >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {len(objects)} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out
