"""Signed, expiring download links and the files behind them (PDF and CSV).

A link carries a JWT signed with the download secret naming what it opens, in
which account and for whom; it works without a bearer token (a browser can
follow it) until it expires, and only while the person it was made for may
still see that kind of file in that account (checked again when it is opened:
`routes.downloads`). A link forwarded to someone else, or kept by a person who
has since lost access, opens nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Iterable, List, Sequence

import jwt
from fpdf import FPDF

from bot.settings import Settings
from bot.tokens import MAX_ID

# What a person must still be allowed to open each kind of file (the permission table's rows).
CAPABILITY = {"invoice": "download_invoice", "document": "list_documents", "report": "list_reports"}
KINDS = tuple(CAPABILITY)


class LinkError(Exception):
    """The link is forged, malformed or expired."""


@dataclass(frozen=True)
class LinkTarget:
    kind: str
    object_id: int
    account_id: int
    # The person the link was made for: nobody else's access opens it.
    user_id: int


def sign_link(settings: Settings, target: LinkTarget) -> tuple:
    """Returns (url, expires_at) for `target`."""
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=settings.download_ttl_minutes)
    token = jwt.encode(
        {
            "k": target.kind,
            "id": target.object_id,
            "acct": target.account_id,
            "usr": target.user_id,
            "exp": int(expires.timestamp()),
        },
        settings.download_secret,
        algorithm="HS256",
    )
    return f"{settings.public_url}/downloads/{token}", expires.replace(microsecond=0)


def open_link(settings: Settings, token: str) -> LinkTarget:
    try:
        claims = jwt.decode(
            token, settings.download_secret, algorithms=["HS256"], options={"require": ["exp"]}
        )
        target = LinkTarget(
            str(claims["k"]), _id(claims["id"]), _id(claims["acct"]), _id(claims["usr"])
        )
    except jwt.ExpiredSignatureError as exc:
        raise LinkError("this download link has expired; ask for a new one") from exc
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise LinkError("this download link is not valid") from exc
    if target.kind not in KINDS:
        raise LinkError("this download link is not valid")
    return target


def _id(value: object) -> int:
    # type(), not isinstance: a boolean is no id; neither is a float or a numeric string.
    if type(value) is not int or not 0 < value <= MAX_ID:  # type: ignore[operator]
        raise ValueError("not an id")
    return value  # type: ignore[return-value]


def _latin1(text: str) -> str:
    # The core PDF fonts cover Latin-1: enough for our languages; replace the rest.
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(title: str, lines: Iterable[str], table: Sequence[Sequence[str]] = ()) -> bytes:
    """A one-page PDF: a title, paragraphs, and an optional table (first row = header)."""
    pdf = FPDF()
    pdf.set_title(_latin1(title))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 10, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 7, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    if table:
        pdf.ln(4)
        with pdf.table() as pdf_table:
            for row in table:
                cells = pdf_table.row()
                for value in row:
                    cells.cell(_latin1(str(value)))
    return bytes(pdf.output())


def render_csv(header: List[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
