# make demo: build .venv with python3.10, install, run the end-to-end job on the embedded digits.
# make test (CI): same install, then every test, the slow ones behind README's measured claims included,
#   on two pytest-xdist workers (the slow tests first, so the two share the long Lava runs)
#   (a plain pytest runs the default suite without them; make test-slow runs only them).
# make test-core: the core without Lava (netx, validate, emulator, NIR, Ray) on Python 3.11 with numpy 2
#   and the current CPU torch, in a fresh .venv-core; the Lava tests are deselected by name there.
PYTHON310 := $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c '' 2>/dev/null && echo python3.10 || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON311 := $(shell command -v python3.11 >/dev/null 2>&1 && python3.11 -c '' 2>/dev/null && echo python3.11 || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.11*/bin/python3.11 2>/dev/null | tail -n 1)
CORE_VENV := .venv-core
CORE_STAMP := $(CORE_VENV)/.installed
# torch 2.13.0 first: on these machines it is a CPU wheel on disk; an unpinned torch pulls a CUDA build.
CORE_TORCH := torch==2.13.0

.PHONY: install demo test test-slow test-core clean

$(PY):
	@test -n "$(PYTHON310)" || { echo "python3.10 not found (lava-nc 0.10.0 needs Python 3.10)"; exit 2; }
	$(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet -e '.[lava,test,nir,scale]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/neurodeploy run examples/digits.yaml

test: install
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "slow or not slow"

test-slow: install
	$(PY) -m pytest -q -n 2 --dist loadgroup -m slow

$(CORE_STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON311)" || { echo "python3.11 not found (the core leg runs on Python 3.11)"; exit 2; }
	rm -rf $(CORE_VENV)
	$(PYTHON311) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)/bin/python -m pip install --quiet '$(CORE_TORCH)'
	$(CORE_VENV)/bin/python -m pip install --quiet '.[test,nir,scale]'
	@touch $(CORE_STAMP)

test-core: $(CORE_STAMP)
	NEURODEPLOY_CORE_LEG=1 $(CORE_VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(CORE_VENV) runs *.egg-info
