# nook's entry points. Run as root on Debian 12 (the runtime and its tests
# create namespaces, mounts and cgroups).
#
#   make demo    install deps, build nook, run a busybox container
#   make test    the whole test suite (what .ci/run runs)
#   make bench   nook vs runc vs crun, create+start+wait+delete and run
#   make man     render the man pages (and check they format cleanly)

CARGO ?= cargo
# Extra arguments for the test binaries, e.g. TEST_ARGS=--test-threads=1
TEST_ARGS ?=
DEMO_DIR := build/demo
RELEASE_NOOK := target/release/nook

.PHONY: all build release deps rootfs demo test lint man bench clean conformance-compare

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

deps:
	scripts/install-deps.sh

rootfs:
	scripts/build-rootfs.sh build/rootfs

# A fresh machine to a running container: deps, a release build, a busybox
# rootfs, `nook spec`, and `nook run` of an echo.
demo: deps release
	scripts/build-rootfs.sh $(DEMO_DIR)/rootfs
	rm -f $(DEMO_DIR)/config.json
	$(RELEASE_NOOK) spec --bundle $(DEMO_DIR)
	jq '.hostname = "nook" | .process.terminal = false | .process.args = ["sh", "-c", "echo hello from nook: $$(hostname), pid $$$$"]' \
		$(DEMO_DIR)/config.json > $(DEMO_DIR)/config.json.new
	mv $(DEMO_DIR)/config.json.new $(DEMO_DIR)/config.json
	$(RELEASE_NOOK) --root $(DEMO_DIR)/state run --bundle $(DEMO_DIR) nook-demo-$$$$

# Lint, then every test target: unit tests, integration tests (they run the
# built binary as root on real bundles) and the podman smoke test.
test: lint man
	$(CARGO) build --all-targets
	conformance/ci-check.sh target/debug/nook
	$(CARGO) test --all-targets --no-fail-fast -- $(TEST_ARGS)

# The OCI conformance suite against nook, runc and crun side by side (not in CI).
conformance-compare: build
	cargo run --release --manifest-path conformance/Cargo.toml -- --compare --runtime target/debug/nook

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# man --warnings prints groff's complaints; fail on any.
man:
	@for page in man/*.8 man/*.7; do \
		out=$$(MANWIDTH=80 man --warnings -l "$$page" 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then echo "$$page: $$out"; exit 1; fi; \
	done; echo "man pages render cleanly"

bench: release
	benches/lifecycle.sh $(RELEASE_NOOK)

clean:
	$(CARGO) clean
	rm -rf build
