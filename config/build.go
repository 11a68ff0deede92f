package config

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"sync"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/resolver"
)

// StoreOptions are the options of the shared credential store. The file
// backend's password comes from $CREDCHAIN_FILE_PASSWORD, else (only when
// the settings were loaded as Interactive) from a prompt.
func (s *Settings) StoreOptions() cache.Options {
	return cache.Options{
		Backend:      s.Store.Backend,
		Dir:          s.Store.Dir,
		Service:      s.Store.Service,
		Timeout:      s.Store.Timeout,
		KeyCtlScope:  s.Store.KeyCtlScope,
		LockWait:     s.Store.LockWait,
		FilePassword: s.filePassword,
	}
}

func (s *Settings) filePassword() (string, error) {
	if p := s.getenv(cache.FilePasswordEnv); p != "" {
		return p, nil
	}
	if s.interactive && s.prompt != nil {
		return s.prompt("Password of the encrypted credchain store: ")
	}
	return "", fmt.Errorf("config: store.backend %q needs a password: set %s (there is no terminal to ask on)", "file", cache.FilePasswordEnv)
}

// Build is the composition root: it constructs the sources named in the
// chain, in order (and no other), and the shared store. The store is opened
// lazily, on its first use: resolving a credential from the environment or
// a descriptor never touches the keychain unless a source that keeps
// records in the store is in the chain (then the resolver's start-up
// prefetch opens it in the background). The caller may set the remaining
// resolver.Config fields (events, NoBackgroundRefresh) before resolver.New.
func (s *Settings) Build(ctx context.Context) (resolver.Config, error) {
	cfg := resolver.Config{
		RefreshWindow: s.Refresh.Window,
		Store:         &lazyStore{opts: s.StoreOptions(), open: cache.Open},
	}
	signers := map[resolver.Kind]sourceSigners{}
	for _, name := range s.chain {
		d := s.descriptor(name)
		src, err := d.New(ctx, s.input(d))
		if err != nil {
			return resolver.Config{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if src.Name() != name {
			return resolver.Config{}, fmt.Errorf("config: source %s was built with the name %q", name, src.Name())
		}
		cfg.Sources = append(cfg.Sources, src)
		if d.Signer != nil {
			if signers[d.SignerKind] == nil {
				signers[d.SignerKind] = sourceSigners{}
			}
			signers[d.SignerKind][name] = d.Signer()
		}
	}
	for kind, by := range signers {
		if cfg.Signers == nil {
			cfg.Signers = map[resolver.Kind]resolver.Signer{}
		}
		cfg.Signers[kind] = by.signer()
	}
	return cfg, nil
}

// sourceSigners are the signers of one kind, by the source that brought
// them.
type sourceSigners map[string]resolver.Signer

// signer is the one signer of the kind, or one that signs each request with
// its credential's source's signer when several sources bring one.
func (b sourceSigners) signer() resolver.Signer {
	if len(b) == 1 {
		for _, sg := range b {
			return sg
		}
	}
	return b
}

// Sign implements resolver.Signer.
func (b sourceSigners) Sign(ctx context.Context, req *http.Request, cred *resolver.Credential) error {
	sg, ok := b[cred.Source]
	if !ok {
		return fmt.Errorf("config: no signer for the %s credential of source %q", cred.Kind, cred.Source)
	}
	return sg.Sign(ctx, req, cred)
}

// lazyStore opens the real store on first use and remembers the result
// (also a failure, so a missing keychain is not probed again for every
// record). A cancelled caller's error is not remembered.
type lazyStore struct {
	opts cache.Options
	open func(context.Context, cache.Options) (cache.Store, error)

	mu    sync.Mutex
	store cache.Store
	err   error
}

func (l *lazyStore) get(ctx context.Context) (cache.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil || l.err != nil {
		return l.store, l.err
	}
	st, err := l.open(ctx, l.opts)
	if err != nil {
		if ctx.Err() == nil {
			l.err = err
		}
		return nil, err
	}
	l.store = st
	return st, nil
}

// Backend opens the store if needed (status shows which backend auto
// picked); a store that cannot be opened is "<backend> (unavailable)" and
// Describe says why.
func (l *lazyStore) Backend() string {
	st, err := l.get(context.Background())
	if err != nil {
		return l.backendName() + " (unavailable)"
	}
	return st.Backend()
}

func (l *lazyStore) backendName() string {
	if l.opts.Backend == "" {
		return "auto"
	}
	return l.opts.Backend
}

// Describe implements resolver.StoreDescriber.
func (l *lazyStore) Describe() map[string]string {
	st, err := l.get(context.Background())
	info := map[string]string{}
	if err != nil {
		info["error"] = err.Error()
	} else if d, ok := st.(resolver.StoreDescriber); ok {
		maps.Copy(info, d.Describe())
	}
	if l.backendName() == "auto" {
		info["requested"] = "auto"
	}
	return info
}

func (l *lazyStore) Get(ctx context.Context, key string) ([]byte, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Get(ctx, key)
}

func (l *lazyStore) Set(ctx context.Context, key string, value []byte) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.Set(ctx, key, value)
}

func (l *lazyStore) Delete(ctx context.Context, key string) error {
	st, err := l.get(ctx)
	if err != nil {
		return err
	}
	return st.Delete(ctx, key)
}

func (l *lazyStore) Lock(ctx context.Context, key string) (func(), error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Lock(ctx, key)
}

// Keys implements cache.Lister when the opened store does.
func (l *lazyStore) Keys(ctx context.Context) ([]string, error) {
	st, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	ls, ok := st.(cache.Lister)
	if !ok {
		return nil, fmt.Errorf("store backend %s cannot list its records", st.Backend())
	}
	return ls.Keys(ctx)
}

// opened reports whether the real store has been opened (tests).
func (l *lazyStore) opened() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.store != nil || l.err != nil
}
