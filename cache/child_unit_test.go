//go:build !(unix && integration)

package cache_test

import (
	"fmt"
	"os"
)

// childSecretService exists only with the integration tests
// (backends_integration_test.go); TestMain dispatches to it by role.
func childSecretService() int {
	fmt.Fprintln(os.Stderr, "cache tests: the secret-service child needs -tags integration")
	return 1
}
