// Package resolver is the core of credchain: the Credential value, the Source
// contract, the ordered chain that picks the first configured source, the one
// refresh scheduler shared by every source, and the HTTP transport that signs
// requests with whatever credential wins.
//
// The package imports no source package; sources import it for the types, and
// the config package (the composition root) builds a Config from settings.
//
// A Resolver keeps every source's current credential in memory. Resolve on a
// fresh credential is a lock-free atomic load and allocates nothing. A
// credential with an expiry is fresh until its refresh time (the refresh
// window before expiry), then stale: it is still served at once while exactly
// one background refresh runs. Once it has expired, every caller waits for one
// shared fetch. A credential is never served after its wall-clock expiry.
//
// Sources whose credentials are worth keeping across processes (OAuth logins,
// temporary cloud credentials) implement Persistent; for those the resolver
// reads the shared store at start-up (in parallel, see cache.Prefetch), and
// before calling a source it takes the store's cross-process lock, re-reads
// the record and adopts a credential another process has already refreshed.
package resolver
