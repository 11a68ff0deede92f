# credchain build, test and release targets. Releases need only Go, tar,
# gzip and zip: scripts/release.sh does what a GoReleaser config would
# (GoReleaser itself takes too long to build from source here).
GO ?= go

.PHONY: build test test-integration crossbuild release clean

## build: the credchain binary for this machine, in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/credchain ./cmd/credchain

## test: the unit tests with the race detector (Go alone, offline)
test:
	$(GO) test -race ./...

## test-integration: unit and integration tests; needs the components
## .ci/setup.d/*.sh install and export (CI runs .ci/run, which does both)
test-integration:
	$(GO) test -race -tags integration ./...

## crossbuild: CGO_ENABLED=0 build and go vet for every release target
crossbuild:
	.ci/crossbuild.sh

## release: dist/credchain_<version>_<os>_<arch>.tar.gz (.zip for Windows)
## and dist/SHA256SUMS; VERSION=1.2.3 make release to stamp a version
release:
	scripts/release.sh

clean:
	rm -rf bin dist
