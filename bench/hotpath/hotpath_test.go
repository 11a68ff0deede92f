package hotpath_test

// Side-by-side benchmarks of the hot path: getting an already cached, fresh
// credential. Run with:
//
//	go test -run '^$' -bench 'Fresh' -benchmem -cpu 1,2,8 -count 6 ./bench/hotpath
//
// docs/performance.md has the medians and ratios.

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/oauth2"

	"github.com/credchain/credchain/resolver"
)

type benchSource struct{ cred *resolver.Credential }

func (s benchSource) Name() string { return "bench" }
func (s benchSource) Fetch(context.Context, *resolver.Credential) (*resolver.Credential, error) {
	return s.cred, nil
}

func benchResolver(b *testing.B) *resolver.Resolver {
	src := benchSource{cred: &resolver.Credential{Kind: resolver.KindBearer, Token: resolver.NewSecret("bench-token-0123456789"), Expiry: time.Now().Add(time.Hour)}}
	r, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	if _, err := r.Resolve(context.Background()); err != nil {
		b.Fatal(err)
	}
	return r
}

type oauthStatic struct{ tok *oauth2.Token }

func (s oauthStatic) Token() (*oauth2.Token, error) { return s.tok, nil }

func oauthSource(b *testing.B) oauth2.TokenSource {
	ts := oauth2.ReuseTokenSource(nil, oauthStatic{&oauth2.Token{AccessToken: "bench-token", Expiry: time.Now().Add(time.Hour)}})
	if _, err := ts.Token(); err != nil {
		b.Fatal(err)
	}
	return ts
}

func awsCache(b *testing.B) *aws.CredentialsCache {
	c := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
	}))
	if _, err := c.Retrieve(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c
}

type googleStatic struct{}

func (googleStatic) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: "bench-token", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

func googleCache(b *testing.B) auth.TokenProvider {
	tp := auth.NewCachedTokenProvider(googleStatic{}, nil)
	if _, err := tp.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	return tp
}

func BenchmarkFresh(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=credchain", func(b *testing.B) {
		r := benchResolver(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Resolve(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=x-oauth2-ReuseTokenSource", func(b *testing.B) {
		ts := oauthSource(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=aws-CredentialsCache", func(b *testing.B) {
		c := awsCache(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=google-CachedTokenProvider", func(b *testing.B) {
		tp := googleCache(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tp.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFreshParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=credchain", func(b *testing.B) {
		r := benchResolver(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.Resolve(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("impl=x-oauth2-ReuseTokenSource", func(b *testing.B) {
		ts := oauthSource(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ts.Token(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("impl=aws-CredentialsCache", func(b *testing.B) {
		c := awsCache(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Retrieve(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("impl=google-CachedTokenProvider", func(b *testing.B) {
		tp := googleCache(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tp.Token(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
