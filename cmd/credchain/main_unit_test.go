//go:build !integration

package main

// removeTestBuilds: the unit tests build no credchain binary.
func removeTestBuilds() {}
