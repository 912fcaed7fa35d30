# One image for both roles; the command picks it: `gateway` (default) or `worker`.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, in their own layer, from the lock file (exact versions, every file checked
# against its hash): rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./

COPY gateway gateway
COPY worker worker
COPY shared shared
COPY cli cli
COPY standin standin
COPY rules.example.yaml ./
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 responder \
 && mkdir -p /var/spool/responder && chown responder /var/spool/responder && chmod 700 /var/spool/responder

USER responder
ENV RESPONDER_LOG_FORMAT=json RESPONDER_SPOOL_DIR=/var/spool/responder
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["sentry-responder"]
CMD ["gateway", "--host", "0.0.0.0", "--port", "8000"]
