//go:build integration

package main

import "github.com/credchain/credchain/internal/itest"

// removeTestBuilds removes the credchain binary the integration tests
// built (TestMain calls it).
func removeTestBuilds() { itest.RemoveCredchainBuild() }
