# Crispin as a container: IMAP on 143 (STARTTLS) and 993 (implicit TLS), data in a volume,
# running as an unprivileged user. Build: docker build -t crispin .   (or podman build)
# Run:   docker run -p 143:143 -p 993:993 -v crispin-data:/var/lib/crispin crispin
# Users: docker exec -i <container> crispin user add alice --password-stdin <<< 'secret'
FROM python:3.11-slim

RUN useradd --system --uid 10143 --user-group --home-dir /var/lib/crispin --no-create-home crispin \
    && mkdir -p /var/lib/crispin && chown crispin:crispin /var/lib/crispin && chmod 700 /var/lib/crispin

WORKDIR /opt/crispin
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY storage ./storage
COPY server ./server
RUN pip install --no-cache-dir . && rm -rf /opt/crispin/build

# Ports below 1024 for an unprivileged user: Docker (20.10+) opens them to everyone inside
# the container's network namespace, other runtimes may not, so the interpreter gets the
# one capability it needs.
RUN apt-get update && apt-get install -y --no-install-recommends libcap2-bin \
    && setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v python3)")" \
    && apt-get purge -y libcap2-bin && rm -rf /var/lib/apt/lists/*

# Everything the server reads comes from the environment (see conf/crispin.toml).
ENV CRISPIN_SERVER_HOST=0.0.0.0 \
    CRISPIN_SERVER_PORT=143 \
    CRISPIN_SERVER_TLS_PORT=993 \
    CRISPIN_SERVER_DATA_DIR=/var/lib/crispin \
    PYTHONUNBUFFERED=1

USER crispin
VOLUME ["/var/lib/crispin"]
EXPOSE 143 993
# crispin handles SIGTERM: it stops listening, says BYE to clients and closes the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["crispin"]
CMD ["serve"]
