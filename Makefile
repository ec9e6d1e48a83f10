# The two commands of the README, and a few conveniences. Everything real happens in CMake.
#   make run    install missing packages (as root), build the release preset, run the service
#   make test   install missing packages (as root), build the dev preset (ASan+UBSan), run CTest
# What .ci/run runs besides `make test`, one target each:
#   make format-check   clang-format --dry-run -Werror over every tracked *.cpp/*.hpp
#   make ci-tsan        tsan preset: build the storage, worker and integration tests, run them
#   make image-check    docker/verify-image.sh (builds and checks the image; root, podman/buildah)
#   make fuzz-ci        the libFuzzer targets of tests/fuzz, 25 s each (make fuzz: FUZZ_SECONDS, 300)
SHELL := /bin/bash
PACKAGES := g++ cmake ninja-build make libboost1.81-dev libssl-dev rapidjson-dev libsqlite3-dev \
            libspdlog-dev catch2 curl nginx-light sqlite3 prometheus nodejs chromium \
            libpq-dev postgresql-15
JOBS ?= $(shell nproc)
CONFIG ?= config/webhook-receiver.example.json

# Tools only CI needs: the formatter (Debian's clang-format is 14, the version the tree is
# formatted with), ccache, and what docker/verify-image.sh would install itself.
CI_PACKAGES := clang-format clang libclang-rt-14-dev ccache podman buildah runc mmdebstrap iproute2
CLANG_FORMAT ?= clang-format

.PHONY: run test browser-deps install-npm deps ci-deps build release dev tsan ci-tsan bench clean format format-check \
        image-check fuzz fuzz-ci

# $(call install_missing,PACKAGES): apt-get install those not installed (as root), or print the line.
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
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
endef

deps:
	$(call install_missing,$(PACKAGES))

ci-deps:
	$(call install_missing,$(PACKAGES) $(CI_PACKAGES))

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

# The tsan-ci presets (CMakePresets.json) build only the storage, worker and integration test
# binaries and run their tests with TSAN_OPTIONS halt_on_error=1 and log_path: every report, also
# from the receivers the integration tests start, lands in build/tsan/tsan-report.<pid>; any such
# file fails the target and is printed.
ci-tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan-ci -j $(JOBS)
	@rm -f build/tsan/tsan-report.*
	@ctest --preset tsan-ci -j $(JOBS); rc=$$?; \
	if ls build/tsan/tsan-report.* >/dev/null 2>&1; then \
	  for f in build/tsan/tsan-report.*; do echo "----- $$f"; cat "$$f"; done; \
	  echo "ThreadSanitizer: $$(ls build/tsan/tsan-report.* | wc -l) report file(s) above"; exit 1; \
	fi; exit $$rc

# Runs on the embedded defaults (127.0.0.1:8080, var/webhook-receiver.db) with the example config.
# Without WEBHOOK_RECEIVER_SECRET_KEYS(_FILE) a random local key is made in var/dev-secret-keys.
run: release
	@mkdir -p var
	@if [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS" ] && [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS_FILE" ] && [ ! -s var/dev-secret-keys ]; then \
	  (umask 077; printf 'whsec_dev_%s\n' "$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > var/dev-secret-keys); \
	  echo "made a local signing key in var/dev-secret-keys (set WEBHOOK_RECEIVER_SECRET_KEYS to use yours)"; \
	fi
	@if [ -z "$$WEBHOOK_RECEIVER_ADMIN_TOKEN" ] && [ -z "$$WEBHOOK_RECEIVER_ADMIN_TOKEN_FILE" ] && [ ! -s var/admin-token ]; then \
	  (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > var/admin-token; echo >> var/admin-token); \
	  echo "made a local dashboard token in var/admin-token (set WEBHOOK_RECEIVER_ADMIN_TOKEN to use yours)"; \
	fi
	@if [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS" ] && [ -z "$$WEBHOOK_RECEIVER_SECRET_KEYS_FILE" ]; then \
	  export WEBHOOK_RECEIVER_SECRET_KEYS_FILE=var/dev-secret-keys; fi; \
	if [ -z "$$WEBHOOK_RECEIVER_ADMIN_TOKEN" ] && [ -z "$$WEBHOOK_RECEIVER_ADMIN_TOKEN_FILE" ]; then \
	  export WEBHOOK_RECEIVER_ADMIN_TOKEN_FILE=var/admin-token; \
	  echo "dashboard: http://127.0.0.1:8081/ (sign in with the token in var/admin-token; the log line 'admin listening' gives the address)"; fi; \
	exec build/release/webhook-receiver serve --config $(CONFIG)

test: dev browser-deps
	ctest --preset dev -j $(JOBS)

# The browser test's one npm package (playwright-core, pinned by tests/browser/package-lock.json;
# it drives Debian's chromium and downloads no browser). npm comes with nodejs from NodeSource; on
# Debian's nodejs it is the separate npm package.
browser-deps: deps
	@if ! command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory install-npm; fi
	@if [ ! tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ]; then \
	  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error; fi

install-npm:
	$(call install_missing,npm)

# tests/fuzz/run.sh installs clang and libclang-rt-14-dev when missing (as root).
FUZZ_SECONDS ?= 300
fuzz: deps
	JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-ci: deps
	JOBS=$(JOBS) tests/fuzz/run.sh 25

bench: release
	bench/run.sh

format:
	$(CLANG_FORMAT) -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "no $(CLANG_FORMAT); apt-get install clang-format"; exit 1; }
	@files=$$(git ls-files '*.cpp' '*.hpp'); \
	$(CLANG_FORMAT) --dry-run -Werror $$files && echo "clang-format: $$(wc -w <<<"$$files") files clean"

image-check:
	bash docker/verify-image.sh

clean:
	rm -rf build
