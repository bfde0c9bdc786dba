# Thin shim over pytest and the Verilog generator; pyproject.toml is the source of truth.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Two cores on CI: Verilator configurations build and run side by side.
JOBS   ?= auto

.PHONY: all venv verilog sim test lint synth bench demo clean fusesoc-sim

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

verilog: $(STAMP)
	$(PY) -m hw.gen rtl

sim: verilog
	$(PY) -m pytest -n $(JOBS) -m sim

test: verilog
	$(PY) -m pytest -n $(JOBS)

lint: verilog
	$(PY) -m hw.lint rtl

synth: verilog
	$(PY) -m bench.synth

bench: $(STAMP)
	$(PY) bench/golden_bench.py
	$(PY) -m bench.gemm_bench
	$(PY) -m bench.zvc_report
	$(PY) -m bench.axi_zvc

# FuseSoC smoke simulations of both cores (Verilator --binary builds; minutes each).
fusesoc-sim: verilog
	FUSESOC_SIM=1 $(PY) -m pytest tests/test_fusesoc.py

demo: $(STAMP)
	$(VENV)/bin/sparsecore demo

clean:
	rm -rf sim_build build reports .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
