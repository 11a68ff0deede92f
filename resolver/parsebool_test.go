package resolver

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBool(t *testing.T) {
	for _, tc := range []struct {
		in        string
		value, ok bool
	}{
		{"1", true, true}, {"true", true, true}, {" YES ", true, true}, {"On", true, true},
		{"0", false, true}, {"false", false, true}, {"No", false, true}, {" off", false, true},
		{"", false, false}, {"2", false, false}, {"maybe", false, false}, {"github", false, false},
	} {
		value, ok := ParseBool(tc.in)
		if value != tc.value || ok != tc.ok {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, %v", tc.in, value, ok, tc.value, tc.ok)
		}
		if Truthy(tc.in) != (tc.value && tc.ok) {
			t.Errorf("Truthy(%q) = %v", tc.in, Truthy(tc.in))
		}
	}
}

// A provider switch is on by its setting or by a truthy variable, and off
// otherwise with a NotConfigured error that names the variable to set.
func TestProbeSwitch(t *testing.T) {
	env := map[string]string{"CLAUDE_CODE_USE_X": "yes", "CLAUDE_CODE_USE_OFF": "0"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		enabled  bool
		variable string
		on       bool
	}{
		{false, "CLAUDE_CODE_USE_X", true},
		{true, "CLAUDE_CODE_USE_UNSET", true},
		{false, "CLAUDE_CODE_USE_OFF", false},
		{false, "CLAUDE_CODE_USE_UNSET", false},
	} {
		err := ProbeSwitch(tc.enabled, getenv, tc.variable)
		switch {
		case tc.on && err != nil:
			t.Errorf("enabled %v, %s=%q: %v; want on", tc.enabled, tc.variable, env[tc.variable], err)
		case !tc.on && (!errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), tc.variable+" is not set")):
			t.Errorf("enabled %v, %s=%q: %v; want NotConfigured naming the variable", tc.enabled, tc.variable, env[tc.variable], err)
		}
	}
}
