# The two commands of the quick start, and a few for development. Everything runs in the
# project's cached virtual environment (scripts/env.sh creates it once per machine).
.PHONY: demo test setup build bench lint

demo:   ## set up, build, and run the main job: vsdpo train on the default model
	bash scripts/demo.sh $(ARGS)

test:   ## set up, build the wheel from scratch, run cargo test and pytest
	bash scripts/test.sh

setup:  ## only create the virtual environment (and install Debian packages)
	bash scripts/env.sh

build:  ## editable developer install (Python edits are live)
	bash scripts/dev-build.sh

bench:  ## the kernel benchmark
	bash scripts/dev-build.sh && $$(bash scripts/env.sh)/bin/vsdpo bench kernels
