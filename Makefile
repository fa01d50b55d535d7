# pier — the two commands that matter: `make demo` and `make test`.
# Each does its own set-up on a fresh Debian 12 machine (as root).

SHELL := /bin/bash
CC ?= gcc
CFLAGS ?= -O2 -g -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong
APT_PACKAGES := busybox-static runc crun podman containerd skopeo umoci buildah docker-registry \
  iproute2 iptables uidmap containernetworking-plugins lxcfs hyperfine procps bsdutils psmisc catatonit debootstrap \
  gcc make libc6-dev valgrind

NATIVE := bin/pier-nsexec bin/pier-fsops bin/pier-monitor
TOOLS := $(patsubst native/tools/%.c,build/tools/%,$(wildcard native/tools/*.c))
TS_SRC := $(shell find src scripts -name '*.ts' -o -name '*.mjs' 2>/dev/null)

.PHONY: all setup deps npm build native test check lint unit demo demo-runtime bench clean sanitize

all: build

## setup: Debian packages and node modules (skipped when already there)
setup: deps npm

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "== installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi

npm: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## build: the C helpers and the bundled binaries
build: npm native $(TOOLS) bin/pier-runtime

native: $(NATIVE)

bin/pier-nsexec: native/nsexec.c
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $<

bin/pier-fsops: native/fsops.c
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $<

bin/pier-monitor: native/monitor.c
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $<

build/tools/%: native/tools/%.c
	@mkdir -p build/tools
	$(CC) $(CFLAGS) -o $@ $<

bin/pier-runtime: $(TS_SRC) scripts/build.mjs
	node scripts/build.mjs

## test: lint, type-check, format check, then every test against the real kernel
test: setup build check unit

check:
	npx tsc --noEmit -p .
	npx eslint .
	npx prettier --check . --log-level warn

unit:
	@files=$$(find src test -name '*.test.ts' | sort); \
	node --import tsx --test --test-concurrency=1 --test-reporter=spec $$files

## demo: the seeds' walkthrough: bootstrap, build the hello app, run it with -p, exec, explain
demo: setup build
	bash scripts/demo.sh

## demo-runtime: pier-runtime alone: a busybox bundle, showing what the kernel gives it
demo-runtime: setup build
	bash scripts/demo-runtime.sh

## bench: every benchmark, medians and ratios against the peer measured in the same run
bench: setup build
	node --import tsx bench/runtime.bench.ts
	node --import tsx bench/image.bench.ts
	node --import tsx bench/engine.bench.ts
	node --import tsx bench/build.bench.ts

clean:
	rm -rf bin build

## sanitize: the runtime's tests with pier-nsexec built with ASan and UBSan
sanitize: build
	$(CC) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -Wall -Wextra -Werror \
	  -o build/pier-nsexec-asan native/nsexec.c
	PIER_NSEXEC=$$PWD/build/pier-nsexec-asan node --import tsx --test --test-concurrency=1 \
	  $$(find test/integration/runtime -name '*.test.ts' | sort)
