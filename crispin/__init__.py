"""Crispin, an IMAP4rev1 server in plain Python: the one top-level package it installs.

Its layers live in the checkout's top-level folders and are installed and imported as
``crispin.protocol`` (IMAP and SMTP syntax, sans-I/O), ``crispin.storage`` (SQLite and blob
files) and ``crispin.server`` (asyncio listeners, sessions, CLI) -- issue 10 point 13: no
``server`` or ``storage`` of Crispin's own in anyone's site-packages. In a checkout this folder
holds symlinks to those folders, which setuptools follows to build the wheel and which mypy,
the editable install and ``python -m crispin`` see.
"""
