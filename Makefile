# The two commands a newcomer needs on a fresh Debian 12 machine, as root:
#   make demo   - installs what is needed, then runs the main job (the demo)
#   make test   - installs what is needed, then runs lint, type checks, the docs build, tests, the native
#                 helpers under ASan/UBSan, and fuzzers (each harness for FUZZ_SECONDS, 30)
# Both are idempotent: a second run installs nothing new.

PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
APT_PKGS := swtpm swtpm-tools softhsm2 libtss2-dev tpm2-tools tshark tcpdump pkg-config \
            clang-14 libclang-rt-14-dev \
            libpcap0.8 iproute2 ethtool netsniff-ng gcc libssl-dev python3-dev rabbitmq-server
FUZZ_SECONDS ?= 30
SANITIZE_SECONDS ?= 15

.PHONY: demo test deps system-deps lint typecheck docs unit sanitize fuzz bench clean

demo: deps
	$(BIN)/python examples/demo.py

test: deps lint typecheck docs unit sanitize fuzz

deps: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml setup.py lawful_intercept/protection/_crypto.c \
                   lawful_intercept/codec/handover/_ccitems.c lawful_intercept/codec/handover/_ccread.c \
                   lawful_intercept/codec/x2x3/_viewcheck.c
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

lint:
	$(BIN)/ruff check lawful_intercept tests fuzz bench examples tools
	$(BIN)/ruff format --check lawful_intercept tests fuzz bench examples tools
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/python tools/check_private_imports.py lawful_intercept

typecheck:
	$(BIN)/mypy

docs:
	$(BIN)/mkdocs build --strict --quiet

unit:
	$(BIN)/python -m pytest

sanitize:
	tools/sanitize.sh $(SANITIZE_SECONDS)

fuzz:
	$(BIN)/python fuzz/run_all.py --seconds $(FUZZ_SECONDS)

bench: deps
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
