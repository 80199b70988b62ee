# make demo: build .venv with python3.10, install, run the end-to-end job on the embedded digits.
# make test: same install, then the default test suite (long Lava runs: make test-slow).
PYTHON310 := $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c '' 2>/dev/null && echo python3.10 || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow clean

$(PY):
	@test -n "$(PYTHON310)" || { echo "python3.10 not found (lava-nc 0.10.0 needs Python 3.10)"; exit 2; }
	$(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,nir,scale]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/neurodeploy run examples/digits.yaml

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs *.egg-info
