# `make demo` and `make test` work on a fresh machine with only Python 3.11:
# they create .venv when absent and install everything nmkit needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nmkit demo --out demo-out

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# Every benchmark with the options its BENCHMARKS.md section states (hours on 2 CPU cores: qc trains its config;
# the others score the shipped models; pet scores no CycleGAN: see its section; calibration and ood write their
# temperature, EF interval and OOD fits into the shipped bundles' folders).
SHIPPED := src/nmkit/workflows
bench: $(STAMP)
	$(BIN)/python benchmarks/qc.py --model $(SHIPPED)/qc/default_model/qc-default.pt
	$(BIN)/python benchmarks/qc_default_model.py --model $(SHIPPED)/qc/default_model/qc-default.pt
	$(BIN)/python benchmarks/gbp.py --model $(SHIPPED)/gbp/default_model/gbp-default.pt
	$(BIN)/python benchmarks/bonescan.py --model $(SHIPPED)/bonescan/default_model/bonescan-default.pt
	$(BIN)/python benchmarks/rds.py --model $(SHIPPED)/rds/default_model/rds-seg-default.pt --model $(SHIPPED)/rds/default_model/rds-cls-default.pt
	$(BIN)/python benchmarks/pet.py --pix2pix $(SHIPPED)/pet/default_model/pet-default.pt
	$(BIN)/python benchmarks/web.py --repeats 20 --concurrent 20
	$(BIN)/python benchmarks/calibration.py --install
	$(BIN)/python benchmarks/ood.py --install
	$(BIN)/python benchmarks/rds_real.py
	$(BIN)/python benchmarks/pneumoniamnist.py --members 2 --install
	$(BIN)/python benchmarks/finetune.py --reps 3 --test 60 --epochs 20
	$(BIN)/python benchmarks/gates.py
	$(BIN)/python benchmarks/bomb.py
	$(BIN)/python benchmarks/startup.py --runs 7
	$(BIN)/python benchmarks/batch.py --n 500 --single 8
	$(BIN)/python benchmarks/node.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
