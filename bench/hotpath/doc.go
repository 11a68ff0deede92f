// Package hotpath holds the side-by-side benchmark of resolver's hot path
// against the caches of golang.org/x/oauth2, aws-sdk-go-v2 and
// cloud.google.com/go/auth (hotpath_test.go). It is a package of its own so
// that resolver's tests link none of those SDKs.
package hotpath
