# Two commands: `make lab` and `make test`. Both create .venv in the checkout and install once;
# they reinstall only when requirements*.txt or pyproject.toml change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where torch's CPU build comes from: PyTorch's CPU index, unless pip is configured with a local wheel
# folder (find-links) that holds it, as on the lab machines. Override with TORCH_INDEX_URL=... (empty: pip's defaults).
TORCH_INDEX_URL ?= $(if $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null),,https://download.pytorch.org/whl/cpu)
OFFLINE := NBHELPERS_OFFLINE=1 HF_HUB_OFFLINE=1
# The unit tests run in TEST_WORKERS processes (pytest-xdist; each test file stays in one process, so a file's
# exports are made once); the notebooks run one after another, alone, so their timings are not disturbed. Both
# always run, unless the first was interrupted (pytest exits 2 on Ctrl-C); the target fails if either failed.
# `python -m pytest` alone runs the same, in one process. Files run in collection order (conftest.py puts
# tests/test_prepare.py, which exports every notebook's models, first).
TEST_WORKERS ?= 2

.PHONY: install lab test unit doctor prepare lint clean-models bench bench-install

install: $(STAMP)

$(STAMP): requirements.txt requirements-no-deps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-no-deps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m nbhelpers telemetry opt-out
	$(BIN)/python -m nbhelpers lab-settings
	$(BIN)/python -c "import importlib.util, sys; sys.exit('torchvision is installed; pip uninstall torchvision' if importlib.util.find_spec('torchvision') else 0)"
	touch $(STAMP)

lab: install
	$(BIN)/python -m jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

test: install
	$(OFFLINE) $(BIN)/python -m pytest tests -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; unit=$$?; \
	if [ $$unit -eq 2 ]; then exit 2; fi; \
	$(OFFLINE) $(BIN)/python -m pytest notebooks; notebooks=$$?; \
	test $$unit -eq 0 && test $$notebooks -eq 0

# The fast loop while changing nbhelpers: unit tests without the ones that export or run models (about 75 seconds).
unit: install
	$(OFFLINE) $(BIN)/python -m pytest tests -m "not slow" -n $(TEST_WORKERS) --dist loadfile

doctor: install
	$(BIN)/python -m nbhelpers doctor

prepare: install
	$(BIN)/python -m nbhelpers prepare all

# zizmor checks the workflow against GitHub's schema and its security audits (offline: no GitHub API calls).
# It has no wheel for Linux on Arm (requirements.txt installs it everywhere else).
lint: install
	$(BIN)/python -m ruff check nbhelpers tests tools repro notebooks conftest.py
	if [ -x $(BIN)/zizmor ]; then $(BIN)/zizmor --offline --strict-collection --no-progress .github/workflows; \
	else echo "zizmor is not installed (no wheel for this platform): the workflow is not linted"; fi

# The benchmark (see README, Results): installs the llama.cpp peer once, then runs everything offline.
# Results go to $(BENCH_OUT)/<cpu>/; BENCH_ARGS adds options (--sizes, --engines, --repeats, --timeout, ...).
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_SRC := $(VENV)/bench-src
BENCH_OUT ?= results
LLAMA_CPP := $(shell grep -o '^llama-cpp-python==[0-9.]*' requirements-bench.txt)

bench-install: $(BENCH_STAMP)

# llama.cpp's CMake options for that build, recorded in bench-src/cmake-args.txt (the results report them).
# GGML_NATIVE=ON (llama.cpp's default) compiles for this CPU, AMX included when it has it; the benchmark
# retries a configuration that crashes without ggml's extra buffer types. To rebuild with other options:
# rm .venv/.bench-installed && make bench-install LLAMA_CPP_CMAKE_ARGS="..." (pip builds it afresh, without
# reusing a wheel it built earlier with other options).
LLAMA_CPP_CMAKE_ARGS ?= -DGGML_NATIVE=ON

# $(STAMP) is order-only: reinstalling the project (a changed pyproject.toml) does not rebuild llama.cpp.
$(BENCH_STAMP): requirements-bench.txt | $(STAMP)
	rm -rf $(BENCH_SRC) && mkdir -p $(BENCH_SRC)
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: $(LLAMA_CPP) -d $(BENCH_SRC)
	tar -xzf $(BENCH_SRC)/llama_cpp_python-*.tar.gz -C $(BENCH_SRC)
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --no-cache-dir --force-reinstall \
		--no-deps --find-links $(BENCH_SRC) $(LLAMA_CPP)
	$(BIN)/python -m pip install --quiet --find-links $(BENCH_SRC) -r requirements-bench.txt
	echo "$(LLAMA_CPP_CMAKE_ARGS)" > $(BENCH_SRC)/cmake-args.txt
	touch $(BENCH_STAMP)

bench: bench-install
	$(OFFLINE) $(BIN)/python -m nbhelpers.bench --out $(BENCH_OUT) $(BENCH_ARGS)

clean-models:
	rm -rf $(or $(NBHELPERS_CACHE),models)
