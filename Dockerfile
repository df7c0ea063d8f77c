# Crispin as a container, for a real server or as a test mail server in someone's CI:
# IMAP on 143 (STARTTLS) and 993 (TLS), SMTP on 25, submission on 587, LMTP on 24; data in a
# volume; an unprivileged user. See README "Crispin as a test mail server".
#   docker build -t crispin .      (or: podman build --build-arg BASE_IMAGE=<local image> .)
# The base is any image with python3 >= 3.11 and pip (default: the official slim image); with
# Debian's python3-cryptography already in it (the only runtime dependency), nothing is
# downloaded.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="Crispin" \
      org.opencontainers.image.description="IMAP4rev1 server with SMTP/LMTP delivery, in plain Python" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://example.invalid/crispin"

RUN groupadd --system --gid 10143 crispin \
    && useradd --system --uid 10143 --gid 10143 --home-dir /var/lib/crispin --no-create-home crispin \
    && mkdir -p /var/lib/crispin && chown crispin:crispin /var/lib/crispin && chmod 700 /var/lib/crispin

WORKDIR /opt/crispin
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY storage ./storage
COPY server ./server
COPY crispin ./crispin
RUN if python3 -c "import cryptography" 2>/dev/null; then \
        python3 -m pip install --no-cache-dir --no-deps --no-build-isolation \
            --break-system-packages . ; \
    else \
        python3 -m pip install --no-cache-dir . ; \
    fi \
    && rm -rf /opt/crispin/build

# Ports below 1024 for an unprivileged user: Docker (20.10+) opens them to everyone inside
# the container's network namespace, other runtimes may not, so the interpreter gets the
# one capability it needs.
RUN if ! command -v setcap >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends libcap2-bin \
        && rm -rf /var/lib/apt/lists/* ; \
    fi \
    && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v python3)")"

# Everything the server reads comes from the environment (see conf/crispin.toml); users with
# CRISPIN_USERS="alice:secret", test mode with CRISPIN_TEST_AUTH=any.
ENV CRISPIN_SERVER_HOST=0.0.0.0 \
    CRISPIN_SERVER_PORT=143 \
    CRISPIN_SERVER_TLS_PORT=993 \
    CRISPIN_SERVER_DATA_DIR=/var/lib/crispin \
    CRISPIN_SMTP_PORT=25 \
    CRISPIN_SMTP_SUBMISSION_PORT=587 \
    CRISPIN_SMTP_LMTP_PORT=24 \
    PYTHONUNBUFFERED=1

USER crispin
VOLUME ["/var/lib/crispin"]
EXPOSE 143 993 25 587 24
# IMAP greeting + a read of the database; exit code 0 when both work.
HEALTHCHECK --interval=2s --timeout=3s --start-period=1s --retries=3 CMD ["crispin", "health"]
# crispin handles SIGTERM: it stops listening, says BYE (IMAP) / 421 (SMTP) to clients and
# closes the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["crispin"]
CMD ["serve"]
