# The two commands of physlens. Both create .venv and install on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/physlens demo

test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadscope

test-all: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadscope -m ''

# Every benchmark that needs no input of its own; sr_solver.py and symbolic.py time a trained run that you name
# (their docstrings give the command), accelerator.sh runs on a GPU machine.
bench: $(STAMP)
	for script in $(filter-out bench/sr_solver.py bench/symbolic.py,$(wildcard bench/*.py)); do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build src/*.egg-info
