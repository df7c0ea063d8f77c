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

# Everything the server reads comes from the environment (see conf/crispin.toml).
# Ports below 1024 need no privilege inside a container's network namespace
# (net.ipv4.ip_unprivileged_port_start is 0 there in Docker and Podman).
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
