# Tessera's entry points. `make run` and `make test` are the README's two set-up commands.
.PHONY: run test build release setup clean model

setup:
	ops/setup.sh

build: setup
	swift build

release: setup
	swift build -c release

## The main job on the embedded default (private PostgreSQL cluster in the state folder).
run: setup
	@echo "==> building tessera (release; the first build takes a few minutes)"
	swift build -c release
	.build/release/tessera demo

## The test suite against real servers it starts itself.
test:
	ops/test.sh

## Train the default model from scratch (about 3 hours on 2 cores; resumes when run again; docs/MODEL.md).
model:
	ops/train-model.sh

clean:
	rm -rf .build
