"""The hand-worked message set of the SORT/THREAD tests (expected orders worked out in
the comments of test_sort_thread.py): a thread whose parent is referenced before it
arrives, a References loop, two replies to missing parents, a duplicate Message-ID,
`Re: Fwd: [list]` subjects, equal sent dates, a message without Date, non-ASCII
(RFC 2047) subjects and names."""

from __future__ import annotations

import imaplib


def _msg(headers: str) -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\nbody\r\n"


# (message, INTERNALDATE); sequence number = UID = position + 1.
MESSAGES: list[tuple[bytes, str]] = [
    (_msg("Subject: Re: Fwd: [list] Budget\nDate: Wed, 3 Jan 2024 10:00:00 +0000\n"
          "Message-ID: <b2@x>\nReferences: <b1@x>\nFrom: Aaron <zed@x>\nTo: amy@x\n"
          "Cc: carol@x\n"), "10-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: [list] Budget\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
          "Message-ID: <b1@x>\nFrom: bob@x\nTo: Zoe <zoe@x>\n"), "09-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: Lunch?\nMessage-ID: <l1@x>\nFrom: =?UTF-8?Q?=C3=81my?= <amy@x>\n"
          "To: bob@x\n"), "02-Jan-2024 12:00:00 +0000"),
    (_msg("Subject: Re: lunch?\nDate: Tue, 2 Jan 2024 13:00:00 +0100\nMessage-ID: <l2@x>\n"
          "In-Reply-To: <l1@x>\nFrom: carol@x\n"), "08-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: Loop A\nDate: Fri, 5 Jan 2024 10:00:00 +0000\nMessage-ID: <la@x>\n"
          "References: <lb@x>\nFrom: dave@x\n"), "07-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: Loop B\nDate: Thu, 4 Jan 2024 10:00:00 +0000\nMessage-ID: <lb@x>\n"
          "References: <la@x>\n"), "06-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: Re: Missing parent\nDate: Sat, 6 Jan 2024 10:00:00 +0000\n"
          "Message-ID: <c1@x>\nReferences: <gone@x> <gone2@x>\n"),
     "05-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: Re: Missing parent\nDate: Sun, 7 Jan 2024 10:00:00 +0000\n"
          "Message-ID: <c2@x>\nReferences: <gone@x> <gone3@x>\n"),
     "04-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: =?UTF-8?Q?=C3=89clair?= (fwd)\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
          "Message-ID: <b1@x>\nFrom: =?UTF-8?Q?=C3=89ric?= <eric@x>\n"),
     "03-Jan-2024 00:00:00 +0000"),
    (_msg("Subject: =?UTF-8?B?w6ljbGFpcg==?=\nDate: Mon, 8 Jan 2024 10:00:00 +0000\n"
          "Message-ID: <e2@x>\nFrom: \"\" <yves@x>\n"), "02-Jan-2024 00:00:00 +0000"),
]


def fill(client: imaplib.IMAP4, mailbox: str = "INBOX") -> None:
    for raw, when in MESSAGES:
        typ, data = client.append(mailbox, None, f'"{when}"', raw)
        assert typ == "OK", data
