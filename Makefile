# Thin shim over pytest and the Verilog generator; pyproject.toml is the source of truth.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Two cores on CI: Verilator configurations build and run side by side.
JOBS   ?= auto

.PHONY: all venv verilog sim sim-fp test lint synth soak bench demo clean formal mutate fusesoc-sim

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

# The fp16/bf16 cocotb sweep with the default 4x4x16 tiles too (docs/fp.md).
sim-fp: verilog
	FP_SWEEP=full $(PY) -m pytest -n $(JOBS) tests/test_sim_fp.py

test: verilog
	$(PY) -m pytest -n $(JOBS)

lint: verilog
	$(PY) -m hw.lint rtl

# Every configuration once, the flagship pairs over five placement seeds (docs/synth.md).
synth: verilog
	$(PY) -m bench.synth --flagship-seeds 1-5

# Long random regression, >= 10^7 checked operations, on Dask (docs/synth.md).
soak: verilog
	$(PY) -m bench.soak --ops 10000000

bench: $(STAMP)
	$(PY) bench/golden_bench.py
	$(PY) -m bench.gemm_bench
	$(PY) -m bench.zvc_report
	$(PY) -m bench.tw_bench
	$(PY) -m bench.axi_zvc

# Every formal job (tb/formal/jobs.py); report in reports/formal/. FORMAL_JOBS=n in parallel;
# a bounded job still running after FORMAL_TIMEOUT s reports the cycles it checked.
FORMAL_TIMEOUT ?= 600
formal: $(STAMP)
	nice $(PY) -m tb.formal --timeout $(FORMAL_TIMEOUT)

# Mutation testing of the core (bench/mutate.py); report in reports/mutate/.
mutate: $(STAMP)
	nice $(PY) -m bench.mutate

# FuseSoC smoke simulations of both cores (Verilator --binary builds; minutes each).
fusesoc-sim: verilog
	FUSESOC_SIM=1 $(PY) -m pytest tests/test_fusesoc.py

demo: $(STAMP)
	$(VENV)/bin/sparsecore demo

# The PyTorch MLP and CNN, 5-fold cross-validation x 3 seeds (needs torch: .[torch]).
.PHONY: cv
cv: $(STAMP)
	$(VENV)/bin/sparsecore cv --jobs 2

clean:
	rm -rf sim_build build reports .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
