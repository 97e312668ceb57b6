# The project's commands. README names two: `make demo` and `make test`.
CARGO ?= cargo

.PHONY: demo test lint unit bench clean

## The main job: the full payment life cycle on the embedded store (./demo.db).
demo:
	$(CARGO) run --release --example demo -- demo.db

## Every test, as CI runs it.
test: lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test --all-targets

## Benchmarks (TARGETS.md); SCENARIO=lifecycle by default.
SCENARIO ?= lifecycle
bench:
	$(CARGO) run --release --example bench -- $(SCENARIO)

clean:
	$(CARGO) clean
	rm -f demo.db
