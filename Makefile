# SpikeQuant: the two commands are `make demo` and `make test`.
SWIFT      ?= swift
BIN        := .build/release/spikeq

# `make PORTABLE=1 …` builds the engine for any x86-64 CPU instead of AVX2 + FMA (see Package.swift),
# in its own build directory (.build-portable), so switching between the two builds rebuilds nothing.
# Both builds pick the event kernels' AVX-512 / AVX2 / baseline variant at run time (CKernels).
ifdef PORTABLE
export SPIKEQ_PORTABLE := 1
SCRATCH    := --scratch-path .build-portable
BIN        := .build-portable/release/spikeq
endif

.PHONY: all build test demo demo-quick bench clean slurm-test netns-test container-test

all: build

build:
	$(SWIFT) build -c release --product spikeq $(SCRATCH)

# The whole test suite, in release mode (training and search tests are too slow in debug).
test:
	$(SWIFT) build -c release --product spikeq $(SCRATCH)
	$(SWIFT) test -c release $(SCRATCH)

# The main job on the embedded default: synthetic gestures, the tiny Spikformer, two local workers.
demo:
	scripts/demo.sh

# The same pipeline with a smaller base training and search budget (a few minutes).
demo-quick:
	QUICK=1 scripts/demo.sh

# Speed figures for BENCHMARKS.md (engine, data, search transport); several minutes.
bench: build
	$(BIN) bench train --model configs/models/spikformer-tiny.yaml --batch 16
	$(BIN) bench infer --model configs/models/spikformer-tiny.yaml --batch 16
	$(BIN) bench data
	$(BIN) bench search

# A real one-node Slurm cluster on loopback (installs slurm-wlm and munge; needs root).
slurm-test: build
	bash cluster/slurm/test.sh

# Four network namespaces on a bridge: CURVE, a dropped worker link, coordinator kill -9 + resume
# (needs root).
netns-test: build
	bash cluster/netns/test.sh

# The container image without a registry: a debootstrapped Debian base imported into podman, the
# image built on it from the release binary, a coordinator and two workers in containers with CURVE
# (installs podman and debootstrap; needs root).
container-test: build
	bash cluster/container/test.sh

clean:
	rm -rf .build
