# The two commands a new user needs: `make run` (the bundled audit) and `make test`.
# Both bootstrap everything first through `make setup` (idempotent, < 1 s once done).

CARGO ?= cargo
REPRO := target/release/repro

.PHONY: setup system-deps data build run audit quick test lint bench bench-vs clean

setup:
	@scripts/setup.sh

data:
	@scripts/data.sh

## Debian packages the tests drive for real: Slurm + munge, Chromium (root or sudo).
system-deps:
	@scripts/system-deps.sh

build: setup
	$(CARGO) build --release

## The main job: audit MNIST-1D's published claims on CPU (5 seeds per arm), ending with the
## strong-baseline finding (does the tuned LSTM match the paper's best model?).
run: build
	$(REPRO) doctor
	$(REPRO) validate
	$(REPRO) run papers/mnist1d.yaml --out reports/

## The whole library: every CPU-feasible spec under papers/ and baselines/ (arms that need
## cuda are planned, shown and skipped), then the one baseline table. Regenerates reports/.
AUDIT_SPECS := $(sort $(wildcard papers/*.yaml)) $(sort $(wildcard baselines/*.yaml))
audit: build
	$(REPRO) doctor
	$(REPRO) validate
	$(REPRO) run $(AUDIT_SPECS) --out reports/
	$(REPRO) table $(AUDIT_SPECS) --out reports/   # reports/index.{md,html}: every arm of every spec

## The same audit with each spec's `quick:` overrides (a minute or so).
quick: build
	$(REPRO) run --quick papers/mnist1d.yaml

test: setup system-deps
	$(CARGO) test --release

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings
	$(CARGO) clippy --release --all-targets --features cuda -- -D warnings   # the GPU tests compile too

## criterion benchmarks, then PyTorch eager on the same steps for comparison.
bench: setup
	$(CARGO) bench --bench train_step --bench data_load
	.venv/bin/python benches/pytorch_eager.py

## repro and PyTorch eager side by side on the same training (benches/vs_pytorch/run.py):
## alternating runs, steps/s and their ratio. WORKLOADS=cnn,gru,lstm,fcn REPS=3 QUICK=1 THREADS=N FUSED=1
bench-vs: build
	WORKLOADS="$(WORKLOADS)" REPS="$(REPS)" QUICK="$(QUICK)" THREADS="$(THREADS)" FUSED="$(FUSED)" \
		.venv/bin/python benches/vs_pytorch/run.py

clean:
	rm -rf target runs
