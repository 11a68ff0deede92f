//go:build !linux

package cache

// checkLoginCollection: 99designs/keyring has a Secret Service backend on
// Linux only, so it is never called elsewhere.
func checkLoginCollection() error { return nil }
