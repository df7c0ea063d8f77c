"""Helpers shared by the HTTP API tests: sample messages, delivery and faults over the API."""

from __future__ import annotations

from typing import Any

from tests.server.http.conftest import Api

MULTIPART = (
    b"From: Ann Example <ann@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Cc: carol@example.net\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= receipt\r\n"
    b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <r1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
    b"--outer\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
    b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTotal: 3 EUR\r\n"
    b"--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Total: <b>3 EUR</b></p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf; name=\"receipt.pdf\"\r\n"
    b"Content-Disposition: attachment; filename=\"receipt.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQKJcfs\r\n"
    b"--outer--\r\n"
)


def simple(subject: str, to: str = "alice@example.com", sender: str = "x@example.com") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhello\r\n").encode()


def deliver(api: Api, raw: bytes, user: str = "alice", query: str = "") -> dict[str, Any]:
    reply = api.request("POST", f"/api/users/{user}/messages{query}", raw=raw,
                        headers={"Content-Type": "message/rfc822"})
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.json()
    return result


def arm(api: Api, **fault: Any) -> dict[str, Any]:
    reply = api.request("POST", "/api/faults", fault)
    assert reply.status == 201, reply.body
    result: dict[str, Any] = reply.json()
    return result


def history(api: Api) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.get("/api/faults").json()["history"]
    return result
