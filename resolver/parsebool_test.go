package resolver

import "testing"

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
