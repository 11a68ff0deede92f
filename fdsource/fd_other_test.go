//go:build !unix

package fdsource_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/credchain/credchain/fdsource"
	"github.com/credchain/credchain/resolver"
)

func TestUnsupported(t *testing.T) {
	v := "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR"
	src := fdsource.New("api-key-fd", v, resolver.KindAPIKey, func(string) string { return "3" })
	if err := src.Probe(); err != nil {
		t.Fatalf("Probe() = %v, want configured", err)
	}
	_, err := src.Fetch(context.Background(), nil)
	if !errors.Is(err, fdsource.ErrUnsupported) || errors.Is(err, resolver.ErrNotConfigured) || !strings.Contains(err.Error(), v) {
		t.Fatalf("Fetch() = %v, want ErrUnsupported naming %s", err, v)
	}
}
