# The app's local stack for docker-compose: `frs local` (local API Gateway for REST + WebSocket +
# @connections, the scheduler driving the app's own schedule handlers, in-process chaining).
# Not the Lambda artifact: that is `chalice package` (see infra/README.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first (cached layer), then the code.
COPY pyproject.toml README.md ./
COPY app.py ./
COPY chalicelib ./chalicelib
COPY frs_local ./frs_local
COPY sql ./sql
COPY .chalice ./.chalice
COPY infra/localstack_setup.py ./infra/
RUN pip install . && useradd --create-home --uid 10001 frs && chown -R frs /app
# `pip install .` puts chalicelib in site-packages, away from sql/: point `frs migrate` at the copy
ENV FRS_SQL_DIR=/app/sql
USER frs

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=2).status < 500 else 1)"
CMD ["frs", "local", "--replay", "--port", "8000", "--host", "0.0.0.0"]
