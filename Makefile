# Lifeboat: `make run` to build and start the tray app, `make test` to run every test.
SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test bench deps lint build cli clean package

run:
	@scripts/deps.sh build
	$(CARGO) build --release -p lifeboat-app
	./target/release/lifeboat-app

## The CLI alone (no GUI dependencies needed): `make cli`, then target/release/lifeboat
cli:
	$(CARGO) build --release --bin lifeboat

## The Debian package (release build, dpkg-deb): target/deb/lifeboat_<version>_<arch>.deb
package:
	@scripts/deps.sh test
	scripts/package-deb.sh

test:
	@scripts/deps.sh test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace --all-targets
	set -o pipefail; xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- \
		$(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test.log
	# The .deb, built in release, installed into a scratch root, its window seen under Xvfb.
	xvfb-run -a -s "-screen 0 1280x1024x24" tests/package.sh
	@scripts/test-summary.sh target/test.log

bench:
	@scripts/deps.sh bench
	bash bench/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
