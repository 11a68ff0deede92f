package oauthpkce_test

import (
	"testing"

	"github.com/credchain/credchain/oauthpkce"
)

// The provider's error redirect is shown as the provider sent it: the code,
// and the description only when there is one.
func TestAuthorizeErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  oauthpkce.AuthorizeError
		want string
	}{
		{oauthpkce.AuthorizeError{Code: "access_denied"}, "the provider refused the login: access_denied"},
		{oauthpkce.AuthorizeError{Code: "access_denied", Description: "the user declined"}, "the provider refused the login: access_denied: the user declined"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q; want %q", tc.err, got, tc.want)
		}
	}
}
