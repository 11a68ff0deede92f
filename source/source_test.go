package source_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/source"
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(any) error
		v     any
		want  string // "" for accepted, else a substring of the error
	}{
		{"one of", source.OneOf("a", "b"), "b", ""},
		{"one of refused", source.OneOf("a", "b"), "c", `"c" is not allowed; allowed: a, b`},
		{"positive", source.Positive, time.Second, ""},
		{"positive zero", source.Positive, time.Duration(0), "greater than zero"},
		{"url empty", source.HTTPURL, "", ""},
		{"url", source.HTTPURL, "https://x.test/p", ""},
		{"url no scheme", source.HTTPURL, "x.test", "not an absolute http(s) URL"},
		{"url other scheme", source.HTTPURL, "ftp://x.test", "not an absolute http(s) URL"},
		{"port", source.Port, 8080, ""},
		{"port out of range", source.Port, 70000, "out of range"},
		{"variable", source.VariableName, "MY_KEY_2", ""},
		{"variable digit first", source.VariableName, "2KEY", "not an environment variable name"},
		{"variable secret-looking", source.VariableName, "sk-ant-api03-abcdefghijWXYZ", `ending in "WXYZ"`},
	} {
		err := tc.check(tc.v)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
		if strings.Contains(tc.name, "secret") && err != nil && strings.Contains(err.Error(), "abcdefghij") {
			t.Errorf("%s: the error carries the value: %v", tc.name, err)
		}
	}
	var na *source.NotAllowedError
	if err := source.OneOf("a")("z"); !errors.As(err, &na) || len(na.Allowed) != 1 {
		t.Errorf("OneOf error %v is not a NotAllowedError listing the allowed values", err)
	}
}
