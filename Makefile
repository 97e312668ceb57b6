# The project's commands. README names two: `make demo` and `make test`.
CARGO ?= cargo
CC ?= cc

.PHONY: demo test test-suites lint versions unit unit-suites lib ctest ctest-asan ctest-valgrind header header-check status-tables status-check gotest lndtest gobench lnddiff-long pytest fuzz reliability-long bench install uninstall install-check wheel-check clean FORCE

BUILD := build
LIBDIR := target/release
LIB := $(LIBDIR)/liblnpaystore.so
HEADER := include/lnpaystore.h

# The versions, each written in one place: the package's in Cargo.toml, the C ABI's in
# src/ffi/library.rs (it is also the SONAME's number, see build.rs).
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
ABI_VERSION := $(shell sed -n 's/^pub const LPS_ABI_VERSION: u32 = \([0-9]*\);$$/\1/p' src/ffi/library.rs)
SONAME := liblnpaystore.so.$(ABI_VERSION)
REALNAME := $(SONAME).$(VERSION)

# C programs link the shared library and find it at run time through their rpath.
C_WARN := -std=c99 -Wall -Wextra -Werror -pedantic
C_LINK := -L$(LIBDIR) -llnpaystore -Wl,-rpath,$(CURDIR)/$(LIBDIR) -lpthread
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
PLAIN_FLAGS := -g -O2

## The main job: the full payment life cycle on the embedded store (./demo.db), in C.
DEMO_DB ?= demo.db
demo: $(BUILD)/demo
	$(BUILD)/demo $(DEMO_DB)

$(BUILD)/demo: examples/demo.c $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(C_WARN) $(PLAIN_FLAGS) -Iinclude -o $@ examples/demo.c $(C_LINK)

## Every test, as CI runs it, with one throwaway PostgreSQL cluster for the whole run.
test:
	$(WITH_PG) $(MAKE) --no-print-directory test-suites

test-suites: lint versions unit status-check ctest gotest lndtest pytest install-check wheel-check fuzz

## The suites that also run against PostgreSQL read LNPAYSTORE_TEST_PG_URL; this script
## starts a cluster on loopback for the command it wraps (and stops it at the end), or
## passes an already set URL through, so each target also works on its own.
WITH_PG := ci/with-postgres.sh

lint:
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features "$(FEATURES)" -- -D warnings
	# The default build (no features) must be as clean: what a Rust dependent compiles.
	$(CARGO) clippy --lib -- -D warnings

## The versions agree: CHANGELOG, Cargo.lock, the Python binding's ABI version.
versions:
	tests/versions.sh

# The suites whose stores come from the shared fixture (tests/common, Place) run a second
# time on PostgreSQL (the model test with fewer cases: each opens its own schema).
PG_SUITES := lifecycle query subscriptions concurrency model import race mission_control
unit:
	$(WITH_PG) $(MAKE) --no-print-directory unit-suites

unit-suites:
	$(CARGO) test --all-targets --features "$(FEATURES)"
	LNPAYSTORE_TEST_BACKEND=postgres MODEL_CASES=$${MODEL_CASES:-100} \
		$(CARGO) test --features "$(FEATURES)" $(addprefix --test ,$(PG_SUITES))

## The release library (cargo decides whether anything needs rebuilding), with the link
## named by its SONAME, so that programs linked against it run from the build tree.
# FEATURES: the library's cargo features, as releases build it (bindings/python/setup.py
# lists the same for the wheel).
FEATURES ?= postgres
$(LIB): FORCE
	$(CARGO) build --release $(if $(FEATURES),--features "$(FEATURES)")
	ln -sf liblnpaystore.so $(LIBDIR)/$(SONAME)

## The library and an uninstalled pkg-config file for it (with an rpath to the build
## tree): PKG_CONFIG_PATH=$(CURDIR)/target/pkgconfig builds the Go binding against it.
DEV_PC := target/pkgconfig/lnpaystore.pc
lib: $(LIB)
	@mkdir -p $(dir $(DEV_PC))
	$(call pc_file,$(CURDIR),$(CURDIR)/$(LIBDIR),$(CURDIR)/include,-Wl$(comma)-rpath$(comma)$${libdir} ) > $(DEV_PC)

comma := ,
# $(call pc_file,prefix,libdir,includedir,extra link flags)
define pc_file
sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' \
	-e 's|@RPATH@|$(4)|' -e 's|@VERSION@|$(VERSION)|' lnpaystore.pc.in
endef

## The C header, generated from src/ffi by tools/header (pinned cbindgen) and committed:
## run after changing an export.
header:
	$(CARGO) run --quiet -p lnpaystore-header

## The committed header must be what src/ffi generates (CI fails on drift).
header-check:
	$(CARGO) run --quiet -p lnpaystore-header -- --check

## The status codes are defined once (LpsStatus in src/error.rs); the header gets them
## from `make header`, and tools/status_tables.py copies them from the header into the Go
## constants (bindings/go/status.go), the Python exceptions (errors.py) and
## docs/c-api.md. status-tables rewrites those; status-check fails on drift.
status-tables: header
	python3 tools/status_tables.py

status-check: header-check
	python3 tools/status_tables.py --check

## C tests (tests/c): built with AddressSanitizer + UBSan and run; built without and run
## under valgrind. Each run ends with a line "c-tests: N cases, M abuse cases, ...".
CTEST_SRC := $(filter-out tests/c/outside.c,$(wildcard tests/c/*.c))
CTEST_DEPS := $(CTEST_SRC) $(wildcard tests/c/*.h) $(HEADER) $(LIB)
ASAN_BINS := $(BUILD)/c/asan/ctests $(BUILD)/c/asan/outside
PLAIN_BINS := $(BUILD)/c/plain/ctests $(BUILD)/c/plain/outside

# No suppressions: both runs end with every heap block freed (Rust runtime included).
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
VALGRIND := valgrind --leak-check=full --error-exitcode=1 --child-silent-after-fork=yes

define run_asan
	@echo "== C tests under AddressSanitizer + UBSan"
	$(ASAN_ENV) $(BUILD)/c/asan/ctests
	$(ASAN_ENV) $(BUILD)/c/asan/outside
endef

# Under valgrind the stores in PostgreSQL connect without TLS: valgrind cannot follow
# ring's assembly, and reports the AEAD tags it writes (which the server checks) as
# uninitialised bytes sent; ctest-asan covers those cases over TLS.
define run_valgrind
	@echo "== C tests under valgrind"
	url="$${LNPAYSTORE_TEST_PG_URL:-}"; \
	case "$$url" in "") ;; *\?*) url="$$url&sslmode=disable" ;; *) url="$$url?sslmode=disable" ;; esac; \
	LNPAYSTORE_TEST_PG_URL="$$url" $(VALGRIND) $(BUILD)/c/plain/ctests
	$(VALGRIND) $(BUILD)/c/plain/outside
endef

ctest: header-check $(ASAN_BINS) $(PLAIN_BINS)
	$(WITH_PG) $(MAKE) --no-print-directory ctest-asan ctest-valgrind

ctest-asan: $(ASAN_BINS)
	$(run_asan)

ctest-valgrind: $(PLAIN_BINS)
	$(run_valgrind)

$(BUILD)/c/asan/ctests: $(CTEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(C_WARN) $(ASAN_FLAGS) -DLPS_EXPECT_ASAN=1 -Iinclude -o $@ $(CTEST_SRC) $(C_LINK)

$(BUILD)/c/plain/ctests: $(CTEST_DEPS)
	@mkdir -p $(@D)
	$(CC) $(C_WARN) $(PLAIN_FLAGS) -DLPS_EXPECT_ASAN=0 -Iinclude -o $@ $(CTEST_SRC) $(C_LINK)

# The outside program: only the header and docs/c-api.md, strict C99.
$(BUILD)/c/asan/outside: tests/c/outside.c $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(C_WARN) $(ASAN_FLAGS) -Iinclude -o $@ tests/c/outside.c $(C_LINK)

$(BUILD)/c/plain/outside: tests/c/outside.c $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(C_WARN) $(PLAIN_FLAGS) -Iinclude -o $@ tests/c/outside.c $(C_LINK)

## Go binding (bindings/go): gofmt, vet, -race, GOGC=1 + cgocheck, cgocheck2, and an
## outside module (tests/go-consumer) importing it through a replace directive. Builds
## against target/pkgconfig (`make lib`).
gotest:
	$(WITH_PG) bindings/go/test.sh

## The lnd importer (lnd/, its own Go module with lnd's packages): channel.db files built
## with lnd's own code (and lnd's SQL payments store on SQLite and on the PostgreSQL
## cluster), imported and compared field by field. Builds against target/pkgconfig
## (`make lib`).
lndtest:
	$(WITH_PG) lnd/test.sh

## The lnd drop-in's differential test at the extended size (make lndtest runs 500
## sequences against lnd's KVStore and 100 against lnd's SQL store on SQLite):
## LNDDIFF_SEQUENCES and LNDDIFF_SQL_SEQUENCES random operation sequences, from seed
## LNDDIFF_SEED.
LNDDIFF_SEQUENCES ?= 10000
LNDDIFF_SQL_SEQUENCES ?= 2000
LNDDIFF_SEED ?= 1
lnddiff-long: lib
	cd lnd && PKG_CONFIG_PATH=$(CURDIR)/target/pkgconfig go test -count=1 -timeout 3h -v \
		-run 'TestDifferentialAgainstLnd(KV|SQL)Store' ./dropin \
		-sequences $(LNDDIFF_SEQUENCES) -sql-sequences $(LNDDIFF_SQL_SEQUENCES) -seed $(LNDDIFF_SEED)

## Python binding and CLI (bindings/python): ruff, mypy --strict, pytest, in ./.venv
## (an editable install, which builds the library into the package's source tree).
pytest:
	$(WITH_PG) bindings/python/test.sh

## Go life-cycle payments/s next to the Rust benchmark, one run.
gobench:
	bindings/go/bench.sh

## Fuzzing (fuzz/): every target, briefly (20 s each with AddressSanitizer); fails on a crash.
fuzz:
	fuzz/run.sh

## The extended reliability run (not in CI, about 1 h 40 min): 500 SIGKILLs, 10,000 model
## cases, 2,000 damaged files, every single-byte flip of a small store, and 1,000,000
## executions per fuzz target.
reliability-long:
	CRASH_KILLS=500 $(CARGO) test --release --test crash -- --nocapture
	POWER_LOSS_CRASHES=5000 $(CARGO) test --release --test power_loss -- --nocapture
	MODEL_CASES=10000 $(CARGO) test --release --test model
	CORRUPT_FILES=2000 FLIP_STRIDE=1 $(CARGO) test --release --test corrupt_files -- --nocapture
	LOG_FLIP_STRIDE=1 $(CARGO) test --release --test log_files
	FUZZ_RUNS=1000000 fuzz/run.sh

## Benchmarks (docs/performance.md): every scenario by default, or SCENARIO=lifecycle etc.;
## BENCH_ARGS="--backend both" also runs them on PostgreSQL (docs/postgres.md).
SCENARIO ?= all
bench:
	$(CARGO) run --release --features "$(FEATURES)" --example bench -- $(SCENARIO) $(BENCH_ARGS)

## Installation for C and Go (pkg-config): `make install PREFIX=/usr/local DESTDIR=`.
## Installs the shared library as $(REALNAME) with the links $(SONAME) (its SONAME)
## and liblnpaystore.so, the static archive, the header and lnpaystore.pc; both
## libraries are stripped. Builds the library first if target/release has none.
PREFIX ?= /usr/local
DESTDIR ?=
libdir ?= $(PREFIX)/lib
includedir ?= $(PREFIX)/include
pkgconfigdir ?= $(libdir)/pkgconfig
INSTALL ?= install
STRIP ?= strip

install: $(if $(wildcard $(LIB) $(LIBDIR)/liblnpaystore.a),,lib)
	$(INSTALL) -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir) $(DESTDIR)$(pkgconfigdir)
	$(INSTALL) -m 755 $(LIB) $(DESTDIR)$(libdir)/$(REALNAME)
	$(STRIP) --strip-unneeded $(DESTDIR)$(libdir)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(libdir)/liblnpaystore.so
	$(INSTALL) -m 644 $(LIBDIR)/liblnpaystore.a $(DESTDIR)$(libdir)/liblnpaystore.a
	$(STRIP) --strip-debug $(DESTDIR)$(libdir)/liblnpaystore.a
	$(INSTALL) -m 644 $(HEADER) $(DESTDIR)$(includedir)/lnpaystore.h
	$(call pc_file,$(PREFIX),$(libdir),$(includedir),) > $(DESTDIR)$(pkgconfigdir)/lnpaystore.pc

## `make install` into a temporary prefix, then the C demo and the Go consumer built
## with pkg-config only (shared, library-static, fully static); staged install; uninstall.
install-check: lib
	tests/install/run.sh

## `pip wheel ./bindings/python`, installed into a fresh venv outside the repository:
## a payment's life cycle and the lnpaystore tool, with no LNPAYSTORE_* variable set.
wheel-check:
	tests/install/wheel.sh

uninstall:
	rm -f $(DESTDIR)$(libdir)/$(REALNAME) $(DESTDIR)$(libdir)/$(SONAME) \
		$(DESTDIR)$(libdir)/liblnpaystore.so $(DESTDIR)$(libdir)/liblnpaystore.a \
		$(DESTDIR)$(includedir)/lnpaystore.h $(DESTDIR)$(pkgconfigdir)/lnpaystore.pc

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
	rm -f demo.db
