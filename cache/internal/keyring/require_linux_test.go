//go:build linux && integration

package keyring_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// require stands in for github.com/stretchr/testify/require in the
// upstream keyctl tests, with the few assertions they use, so the module
// does not take testify as a dependency (see PATCHES.md).
var require requireT

type requireT struct{}

func (requireT) NoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func (requireT) NoErrorf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf(format, args...)
	}
}

func (requireT) Error(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got nil")
	}
}

func (requireT) Errorf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf(format, args...)
	}
}

func (requireT) ErrorIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v is not %v", err, target)
	}
}

func (requireT) Falsef(t testing.TB, v bool, format string, args ...any) {
	t.Helper()
	if v {
		t.Fatalf(format, args...)
	}
}

func (requireT) Equal(t testing.TB, want, got any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func (requireT) Len(t testing.TB, v []string, n int) {
	t.Helper()
	if len(v) != n {
		t.Fatalf("length %d, want %d: %v", len(v), n, v)
	}
}

func (requireT) ElementsMatch(t testing.TB, a, b []string) {
	t.Helper()
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	if !slices.Equal(x, y) {
		t.Fatalf("elements %v do not match %v", a, b)
	}
}

func (requireT) Containsf(t testing.TB, list any, elem any, format string, args ...any) {
	t.Helper()
	v := reflect.ValueOf(list)
	for i := range v.Len() {
		if reflect.DeepEqual(v.Index(i).Interface(), elem) {
			return
		}
	}
	t.Fatalf(format, args...)
}
