# nook's entry points. Run as root on Debian 12 (the runtime and its tests
# create namespaces, mounts and cgroups).
#
#   make demo    install deps, build nook, run a busybox container
#   make test    the whole test suite (what .ci/run runs)
#   make bench   nook vs runc vs crun: the whole-process suite (benches/run-all.sh;
#                ROUNDS=N, BENCH_QUICK=1 for a smoke run); README "Benchmark"
#   make man     render the man pages (and check they format cleanly)
#   make fuzz    run each fuzz target for FUZZ_SECONDS (not part of make test)
#   make stress-large  64 workers x 10 048 container lifecycles on one --root

CARGO ?= cargo
# Extra arguments for the test binaries, e.g. TEST_ARGS=--test-threads=1
TEST_ARGS ?=
DEMO_DIR := build/demo
# The release build is static and not position-independent, so it lives in
# target/<host triple>/release (scripts/build-release.sh says why).
RELEASE_DIR = $(shell scripts/build-release.sh --dir)
RELEASE_NOOK = $(RELEASE_DIR)/nook

.PHONY: stress-large all build release deps rootfs demo test lint man bench clean conformance-compare fuzz

all: build

build:
	$(CARGO) build

release:
	CARGO=$(CARGO) scripts/build-release.sh --bin nook

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
# built binary as root on real bundles) and the engine matrices.
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

# Release nook plus the suite's helpers (benches/tools/, cargo examples).
bench:
	CARGO=$(CARGO) scripts/build-release.sh --bin nook --example bench-probe --example kernel-floor
	BENCH_BIN_DIR=$(RELEASE_DIR) benches/run-all.sh $(RELEASE_NOOK)

# libFuzzer targets in fuzz/ (its own cargo package), built by cargo-fuzz
# on the nightly toolchain with debug assertions (integer overflow is a
# crash). Each target runs for FUZZ_SECONDS; the corpus starts from the
# upstream schema samples and grows in fuzz/corpus/; a crash stops make with
# the input in fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= config_bytes config_mutate parsers
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	$(CARGO) test --manifest-path fuzz/Cargo.toml
	mkdir -p fuzz/corpus/config_bytes
	for kind in good bad; do \
		for sample in integration/data/runtime-spec-schema-test/config/$$kind/*.json; do \
			cp "$$sample" "fuzz/corpus/config_bytes/$$kind-$$(basename $$sample)"; \
		done; \
	done
	for target in $(FUZZ_TARGETS); do \
		case $$target in \
		config_mutate) len="-max_len=1024 -len_control=0";; \
		*) len="-max_len=262144";; \
		esac; \
		$(CARGO) +nightly fuzz run --fuzz-dir fuzz --debug-assertions $$target -- \
			-max_total_time=$(FUZZ_SECONDS) $$len -dict=fuzz/config.dict \
			|| exit 1; \
	done

clean:
	$(CARGO) clean
	rm -rf build

# The large stress run of issue 10 (not in CI; takes tens of minutes).
stress-large:
	STRESS_WORKERS=64 STRESS_LIFECYCLES=157 $(CARGO) test --test stress -- --ignored --nocapture
