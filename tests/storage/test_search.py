"""crispin.storage.search: the neutral criteria tree compiled to one SQL query (RFC 3501 §6.4.4
semantics without IMAP syntax), against a store with appended messages."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crispin.storage import MailboxInfo, Store, User, migrations
from crispin.storage import flags as fl
from crispin.storage.search import (
    All,
    And,
    Criterion,
    DateCmp,
    FlagSet,
    HeaderContains,
    Keyword,
    Not,
    Or,
    SearchTooComplex,
    SizeCmp,
    TextContains,
    UidIn,
    compile_search,
    header_has,
    search,
)

from .helpers import BASE, FAST_N, insert_message, query


def parsed(
    subject: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    headers: str = "",
    body: str = "",
    sent_on: str | None = None,
) -> dict[str, bytes | int | str | None]:
    """What the server computes at APPEND (case-folded), written by hand."""
    return {
        **BASE,
        "hdr_subject": None if subject is None else subject.casefold(),
        "hdr_from": None if from_ is None else from_.casefold(),
        "hdr_to": None if to is None else to.casefold(),
        "sent_on": sent_on,
        "text_headers": headers.casefold(),
        "text_body": body.casefold(),
    }


@pytest.fixture
async def inbox(store: Store, user: User) -> MailboxInfo:
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    return box


TZ_W5 = timezone(timedelta(hours=-5))

MESSAGES = [
    # uid 1
    dict(
        raw=b"Subject: Hello World\r\n\r\nplain body\r\n",
        flags=["\\Seen", "$Work"],
        when=datetime(2024, 1, 1, 23, 30, tzinfo=TZ_W5),  # 2024-01-02 04:30 UTC
        parsed=parsed(
            "Hello World", "Alice <alice@example.org>", "bob@example.org",
            "Subject: Hello World\nFrom: Alice <alice@example.org>\nX-Tag: red",
            "plain body", "2024-01-01",
        ),
    ),
    # uid 2
    dict(
        raw=b"Subject: Stra\xc3\x9fe\r\n\r\n" + b"x" * 500,
        flags=["\\Flagged", "$Workday"],
        when=datetime(2024, 1, 2, 12, 0, tzinfo=UTC),
        parsed=parsed(
            "Straße", "carol@example.org", None,
            "Subject: Straße\nX-Tagged: blue\nX-Tag: green tea",
            "Ünïcödé BODY text", None,
        ),
    ),
    # uid 3
    dict(
        raw=b"no header at all\r\n",
        flags=["\\Deleted", "\\Answered", "\\Draft"],
        when=datetime(2024, 1, 3, 0, 0, tzinfo=UTC),
        parsed=parsed(None, None, None, "", "", "2023-12-31"),
    ),
]


@pytest.fixture
async def box(store: Store, inbox: MailboxInfo) -> MailboxInfo:
    for m in MESSAGES:
        await store.append_message(
            inbox.id, m["raw"], m["flags"], m["when"], m["parsed"]  # type: ignore[arg-type]
        )
    return inbox


async def found(store: Store, box: MailboxInfo, c: Criterion, **kw: int) -> list[int]:
    return await store.search(box.id, c, **kw)


CASES: list[tuple[str, Criterion, list[int]]] = [
    ("all", All(), [1, 2, 3]),
    ("seen", FlagSet("\\Seen"), [1]),
    ("unseen", FlagSet("\\Seen", False), [2, 3]),
    ("answered", FlagSet("\\Answered"), [3]),
    ("deleted", FlagSet("\\Deleted"), [3]),
    ("draft", FlagSet("\\Draft"), [3]),
    ("flagged", FlagSet("\\Flagged"), [2]),
    ("unflagged", FlagSet("\\Flagged", False), [1, 3]),
    ("keyword any case", Keyword("$WORK"), [1]),
    ("keyword is not a prefix", Keyword("$Work"), [1]),
    ("keyword other", Keyword("$workday"), [2]),
    ("unkeyword", Keyword("$work", False), [2, 3]),
    ("keyword none", Keyword("nope"), []),
    ("uid single", UidIn(((2, 2),)), [2]),
    ("uid ranges reversed", UidIn(((3, 2),)), [2, 3]),
    ("uid beyond", UidIn(((10, 20),)), []),
    ("uid empty", UidIn(()), []),
    ("uid many ranges", UidIn(tuple((u, u) for u in range(1, 200, 2))), [1, 3]),
    ("subject", TextContains("subject", "hello"), [1]),
    ("subject casefold", TextContains("subject", "STRASSE"), [2]),
    ("subject empty needle: has the header", TextContains("subject", ""), [1, 2]),
    ("from", TextContains("from", "ALICE@"), [1]),
    ("to", TextContains("to", "bob"), [1]),
    ("cc absent", TextContains("cc", "x"), []),
    ("body", TextContains("body", "ünïcödé"), [2]),
    ("body upper needle", TextContains("body", "ÜNÏCÖDÉ BODY"), [2]),
    ("body not header", TextContains("body", "hello"), []),
    ("body empty needle", TextContains("body", ""), [1, 2, 3]),
    ("headers", TextContains("headers", "x-tag"), [1, 2]),
    ("text in header", TextContains("text", "hello"), [1]),
    ("text in body", TextContains("text", "plain"), [1]),
    ("header field", HeaderContains("X-Tag", "red"), [1]),
    ("header field exact name", HeaderContains("x-tag", "blue"), []),
    ("header value on another line", HeaderContains("subject", "blue"), []),
    ("header empty needle", HeaderContains("x-tagged", ""), [2]),
    ("header prefix name", HeaderContains("x-tag", ""), [1, 2]),
    ("header multi-word", HeaderContains("X-TAG", "GREEN TEA"), [2]),
    ("header leading space is the value's", HeaderContains("x-tag", " green"), []),
    ("before internal", DateCmp("internal", "<", date(2024, 1, 2)), [1]),
    ("on internal in its own zone", DateCmp("internal", "=", date(2024, 1, 1)), [1]),
    ("on internal", DateCmp("internal", "=", date(2024, 1, 2)), [2]),
    ("since internal", DateCmp("internal", ">=", date(2024, 1, 2)), [2, 3]),
    ("sentbefore", DateCmp("sent", "<", date(2024, 1, 1)), [3]),
    ("senton", DateCmp("sent", "=", date(2024, 1, 1)), [1]),
    ("sentsince", DateCmp("sent", ">=", date(2023, 1, 1)), [1, 3]),
    ("not sent: no Date matches the complement", Not(DateCmp("sent", ">=", date(2023, 1, 1))),
     [2]),
    ("larger", SizeCmp(">", 100), [2]),
    ("smaller", SizeCmp("<", 100), [1, 3]),
    ("smaller exact size excluded", SizeCmp("<", len(MESSAGES[2]["raw"])), []),  # type: ignore[arg-type]
    ("and", And((FlagSet("\\Seen", False), Keyword("$workday"))), [2]),
    ("or", Or((FlagSet("\\Seen"), FlagSet("\\Deleted"))), [1, 3]),
    ("not", Not(FlagSet("\\Seen")), [2, 3]),
    ("not not", Not(Not(FlagSet("\\Seen"))), [1]),
    ("not all", Not(All()), []),
    ("or all", Or((All(), FlagSet("\\Seen"))), [1, 2, 3]),
    ("empty and", And(()), [1, 2, 3]),
    ("empty or", Or(()), []),
    ("nested", Or((And((Not(FlagSet("\\Seen")), TextContains("subject", "straße"))),
                   HeaderContains("x-tag", "red"))), [1, 2]),
    ("not text on a message without text", Not(TextContains("body", "zzz")), [1, 2, 3]),
]


@pytest.mark.parametrize(("name", "criterion", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_criteria(
    store: Store, box: MailboxInfo, name: str, criterion: Criterion, expected: list[int]
) -> None:
    assert await found(store, box, criterion) == expected


async def test_max_uid_limits_to_the_view(store: Store, box: MailboxInfo) -> None:
    assert await found(store, box, All(), max_uid=2) == [1, 2]
    assert await found(store, box, All(), max_uid=0) == []


async def test_other_mailboxes_are_not_searched(
    store: Store, box: MailboxInfo, user: User
) -> None:
    other = await store.create_mailbox(user.id, "Other")
    await store.append_message(other.id, b"Subject: hello\r\n\r\n", (), None,
                               parsed("hello", body="hello"))
    assert await found(store, box, TextContains("subject", "hello")) == [1]
    assert await store.search(other.id, TextContains("body", "HELLO")) == [1]


async def test_expunged_messages_never_match(store: Store, box: MailboxInfo) -> None:
    await store.expunge(box.id)  # uid 3 is \Deleted
    assert await found(store, box, All()) == [1, 2]
    assert await found(store, box, Not(FlagSet("\\Seen"))) == [2]


async def test_text_is_stored_once_and_swept_with_the_message(
    store: Store, box: MailboxInfo, data_dir: Path, user: User
) -> None:
    rows = query(data_dir, "SELECT message_id, headers, body FROM message_text ORDER BY 1")
    assert len(rows) == 3
    assert rows[1][2] == "ünïcödé body text"
    # A copy shares the message row and its text.
    other = await store.create_mailbox(user.id, "Copy")
    await store.copy_messages(box.id, [1, 2, 3], other.id)
    assert await store.search(other.id, TextContains("body", "plain")) == [1]
    assert len(query(data_dir, "SELECT * FROM message_text")) == 3
    await store.delete_mailbox(user.id, "Copy")
    await store.store_flags(box.id, [1, 2, 3], "add", ["\\Deleted"])
    await store.expunge(box.id)
    await store.sweep_messages()
    assert query(data_dir, "SELECT count(*) FROM message_text") == [(0,)]


async def test_flag_changes_are_seen(store: Store, box: MailboxInfo) -> None:
    await store.store_flags(box.id, [2], "add", ["\\Seen", "Junk"])
    assert await found(store, box, FlagSet("\\Seen")) == [1, 2]
    assert await found(store, box, Keyword("JUNK")) == [2]


def test_compile_is_parameterised() -> None:
    c = compile_search(And((TextContains("body", "it's' OR 1=1 --"), Keyword("a'b"))))
    assert "'a" not in c.where and "1=1" not in c.where
    assert "%it's' or 1=1 --%" in c.params
    assert c.needs_text and not c.needs_message


def test_nesting_is_flattened_and_balanced() -> None:
    deep: Criterion = FlagSet("\\Seen")
    for i in range(500):
        deep = Or((deep, Keyword(f"k{i}")))
    c = compile_search(deep)
    depth = top = 0
    for ch in c.where:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        top = max(top, depth)
    assert top < 30  # balanced, not 500 levels
    wide = compile_search(And(tuple(Keyword(f"k{i}") for i in range(5000))))
    assert len(wide.params) == 5000


async def test_wide_programs_run(store: Store, box: MailboxInfo) -> None:
    many = Or((*(Keyword(f"k{i}") for i in range(3000)), Keyword("$work")))
    assert await found(store, box, many) == [1]


async def test_sqlite_limits_are_reported(store: Store, box: MailboxInfo) -> None:
    too_many = And(tuple(Not(Keyword(f"k{i}")) for i in range(200)))

    def run(conn: sqlite3.Connection) -> list[int]:
        old = conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        try:
            return search(conn, box.id, too_many)
        finally:
            conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)

    with pytest.raises(SearchTooComplex):
        await store.database.read(run)


def test_header_has() -> None:
    text = "subject: a b\nx-a: one\nx-ab: two"
    assert header_has(text, "x-a", "one") == 1
    assert header_has(text, "x-a", "two") == 0
    assert header_has(text, "x-ab", "") == 1
    assert header_has(text, "x-b", "") == 0
    assert header_has(None, "x-a", "") == 0


async def test_messages_from_schema_1_have_empty_text(data_dir: Path) -> None:
    """A message stored before migration 2 has no message_text row: BODY/TEXT/HEADER never
    match it, their NOT always does."""
    data_dir.mkdir(parents=True)
    conn = sqlite3.connect(data_dir / "crispin.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        old = migrations.MIGRATIONS
        migrations.MIGRATIONS = old[:1]
        try:
            migrations.migrate(conn)
        finally:
            migrations.MIGRATIONS = old
        conn.execute(
            "INSERT INTO users (name, password_hash, created_at) VALUES ('u', 'x', 0)")
        conn.execute(
            "INSERT INTO mailboxes (owner_id, name, uidvalidity, created_at)"
            " VALUES (1, 'INBOX', 1, 0)")
    finally:
        conn.close()
    insert_message(data_dir, 1, b"Subject: old\r\n\r\nold body\r\n", flags=fl.SEEN)
    store = await Store.open(data_dir, scrypt_n=FAST_N)
    try:
        assert query(data_dir, "PRAGMA user_version") == [(migrations.LATEST_VERSION,)]
        assert await store.search(1, TextContains("body", "old")) == []
        assert await store.search(1, Not(TextContains("text", "old"))) == [1]
        assert await store.search(1, HeaderContains("subject", "")) == []
        assert await store.search(1, FlagSet("\\Seen")) == [1]
        # The same body appended again gets its text row (INSERT OR IGNORE on dedup).
        await store.append_message(1, b"Subject: old\r\n\r\nold body\r\n", (), None,
                                   parsed("old", body="old body"))
        assert await store.search(1, TextContains("body", "old")) == [1, 2]
    finally:
        await store.close()
