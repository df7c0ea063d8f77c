"""Mail in: SMTP (RFC 5321), submission (RFC 6409) and LMTP (RFC 2033) sessions and their
listeners, over the sans-I/O :mod:`crispin.protocol.smtp` and the shared
:mod:`crispin.server.delivery`."""
