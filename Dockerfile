# signal-triage, installed exactly as the README does: torch 2.13.0 (CPU) first, then the project.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SIGNAL_TRIAGE_DATA_DIR=/var/lib/signal-triage

WORKDIR /app
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY classifier classifier
COPY triage triage
COPY api api
COPY data data
RUN pip install -e ".[openvino]" && mkdir -p /var/lib/signal-triage

VOLUME /var/lib/signal-triage
# Default: replay the bundled demo day. Override the command for other subcommands.
# The scale-out processes run from this same image with another command (compose.yaml):
#   triage serve --host 0.0.0.0 | triage worker --queues ingest,analysis,triage,delivery | triage beat
# given SIGNAL_TRIAGE_DATABASE_URL (PostgreSQL) and SIGNAL_TRIAGE_BROKER_URL (Redis).
CMD ["triage", "demo", "--report", "/var/lib/signal-triage/demo-report.json"]
