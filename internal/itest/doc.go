// Package itest starts and finds the real components credchain's
// integration tests run against: Dex, moto, headless Chromium, a private
// Secret Service (gnome-keyring on its own D-Bus bus), a throwaway pass
// store, the kernel keyring, the credchain binary, and a loopback-only
// network namespace for the real clients (git, kubectl, the AWS CLI).
//
// Its files, but this one, build only with the integration tag, as do the
// test files that import it (//go:build integration): the unit tier
// (go test ./...) needs Go alone, compiles none of it and links neither
// chromedp nor an SDK, and an untagged test that uses it does not build. A missing component fails the test with the
// setup script that installs it; it never skips: .ci/run installs and
// starts every component before it runs go test -tags integration.
//
// The hermetic fakes (clock, events, Google wire fake, environment) stay in
// internal/testenv.
package itest
