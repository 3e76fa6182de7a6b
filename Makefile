# The two commands a newcomer needs:  make demo   and   make test
# Each creates its own virtual environment (.venv) from the repo's own files.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test install lint bench-throughput bench-detection clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build; anything else pulls gigabytes of CUDA
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,openvino]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/triage demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check ingest classifier triage api tests benchmarks
	$(BIN)/mypy ingest classifier triage api

bench-throughput: $(STAMP)
	$(BIN)/python -m benchmarks.replay_throughput

bench-detection: $(STAMP)
	$(BIN)/python -m benchmarks.detection

clean:
	rm -rf $(VENV) var .pytest_cache
