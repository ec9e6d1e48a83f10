# The two commands of the README, and a few conveniences. Everything real happens in CMake.
#   make run    install missing packages (as root), build the release preset, run the service
#   make test   install missing packages (as root), build the dev preset (ASan+UBSan), run CTest
#   make fuzz   build the fuzz preset (clang + libFuzzer) and fuzz each target FUZZ_SECONDS (300)
#   make fuzz-ci  the same, 25 s per target (what CI runs)
SHELL := /bin/bash
PACKAGES := g++ cmake ninja-build make libboost1.81-dev libssl-dev rapidjson-dev libsqlite3-dev \
            libspdlog-dev catch2 curl nginx-light
JOBS ?= $(shell nproc)
CONFIG ?= config/webhook-receiver.example.json

.PHONY: run test deps build release dev tsan bench clean format fuzz fuzz-ci

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing packages; run as root:"; \
	    echo "  sudo apt-get install -y --no-install-recommends $$missing"; \
	    exit 1; \
	  fi; \
	fi

release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target webhook-receiver

dev: deps
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS)

# Runs on the embedded defaults (127.0.0.1:8080, var/webhook-receiver.db) with the example config.
# Without WEBHOOK_RECEIVER_SECRET_KEYS(_FILE) a random local key is made in var/dev-secret-keys.
run: release
	@mkdir -p var
	@if [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS" ] && [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS_FILE" ] && [ ! -s var/dev-secret-keys ]; then \
	  (umask 077; printf 'whsec_dev_%s\n' "$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > var/dev-secret-keys); \
	  echo "made a local signing key in var/dev-secret-keys (set WEBHOOK_RECEIVER_SECRET_KEYS to use yours)"; \
	fi
	@if [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS" ] && [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS_FILE" ]; then \
	  export WEBHOOK_RECEIVER_SECRET_KEYS_FILE=var/dev-secret-keys; fi; \
	exec build/release/webhook-receiver serve --config $(CONFIG)

test: dev
	ctest --preset dev -j $(JOBS)

# tests/fuzz/run.sh installs clang and libclang-rt-14-dev when missing (as root).
FUZZ_SECONDS ?= 300
fuzz: deps
	JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-ci: deps
	JOBS=$(JOBS) tests/fuzz/run.sh 25

bench: release
	bench/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
