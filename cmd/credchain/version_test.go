package main

import (
	"bytes"
	"runtime/debug"
	"testing"

	"github.com/spf13/cobra"
)

func TestResolveBuild(t *testing.T) {
	vcs := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-27T05:00:00Z"},
		}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name                  string
		v, commit, date, fall string
		read                  func() (*debug.BuildInfo, bool)
		want                  buildInfo
	}{
		{"stamped by release.sh", "1.2.3", "abc1234", "2026-11-27T05:00:00Z", "(devel)", vcs,
			buildInfo{"1.2.3", "abc1234", "2026-11-27T05:00:00Z"}},
		{"go build in a checkout", "", "", "", "(devel)", vcs,
			buildInfo{"dev", "0123456789abcdef0123456789abcdef01234567", "2026-11-27T05:00:00Z"}},
		{"go install module@v1.4.0", "", "", "", "v1.4.0 (0123456789ab)", vcs,
			buildInfo{"v1.4.0", "0123456789abcdef0123456789abcdef01234567", "2026-11-27T05:00:00Z"}},
		{"no build info", "", "", "", "unknown", none, buildInfo{Version: "dev"}},
	} {
		got := resolveBuild(tc.v, tc.commit, tc.date, func() string { return tc.fall }, tc.read)
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestVersionTemplate(t *testing.T) {
	for _, tc := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{"1.2.3", "abc1234", "2026-11-27T05:00:00Z"},
			"credchain version 1.2.3\ncommit: abc1234\nbuilt:  2026-11-27T05:00:00Z\n"},
		{buildInfo{Version: "dev"}, "credchain version dev\ncommit: unknown\nbuilt:  unknown\n"},
		{buildInfo{"1.0", "{{.Name}}", "x"}, "credchain version 1.0\ncommit: { {.Name} }\nbuilt:  x\n"},
	} {
		root := &cobra.Command{Use: "credchain", Version: tc.b.Version, RunE: func(*cobra.Command, []string) error { return nil }}
		root.SetVersionTemplate(versionTemplate(tc.b))
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"--version"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("--version of %+v:\n%q\nwant\n%q", tc.b, out.String(), tc.want)
		}
	}
}
