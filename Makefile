# SpikeQuant: the two commands are `make demo` and `make test`.
SWIFT      ?= swift
BIN        := .build/release/spikeq
RUN        ?= runs/demo

.PHONY: all build test demo demo-quick bench clean slurm-test netns-test

all: build

build:
	$(SWIFT) build -c release --product spikeq

# The whole test suite, in release mode (training and search tests are too slow in debug).
test:
	$(SWIFT) build -c release --product spikeq
	$(SWIFT) test -c release

clean:
	rm -rf .build
