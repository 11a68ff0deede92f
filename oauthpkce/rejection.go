package oauthpkce

import (
	"net/http"

	"github.com/credchain/credchain/resolver"
)

var _ resolver.RejectionDeclarer = (*Source)(nil)

// RejectionStatuses implements resolver.RejectionDeclarer: an API refuses
// an OAuth access token with 401, and some OpenID providers' resource
// servers (zitadel/oidc among them) answer a revoked or replaced token with
// 403, so both make the resolver refresh. A caller's
// resolver.Config.RejectionPolicy for resolver.KindBearer overrides this.
func (s *Source) RejectionStatuses() []int {
	return []int{http.StatusUnauthorized, http.StatusForbidden}
}
