package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// valueType is the type of a setting's value.
type valueType int

const (
	typeString valueType = iota
	typeDuration
	typeList
	typeBool
	typeInt
	typeMap
)

func (t valueType) String() string {
	switch t {
	case typeDuration:
		return "duration"
	case typeList:
		return "list"
	case typeBool:
		return "boolean"
	case typeInt:
		return "integer"
	case typeMap:
		return "map"
	}
	return "string"
}

// typeOf is the type of a setting whose default is v.
func typeOf(v any) (valueType, bool) {
	switch v.(type) {
	case string:
		return typeString, true
	case time.Duration:
		return typeDuration, true
	case []string:
		return typeList, true
	case bool:
		return typeBool, true
	case int:
		return typeInt, true
	case map[string]string:
		return typeMap, true
	}
	return 0, false
}

// convert turns a raw value from any layer into the key's Go type.
func convert(t valueType, v any) (any, error) {
	switch t {
	case typeDuration:
		return toDuration(v)
	case typeList:
		return toList(v)
	case typeBool:
		return toBool(v)
	case typeInt:
		return toInt(v)
	case typeMap:
		return toMap(v)
	}
	return toString(v)
}

func toString(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return nil, fmt.Errorf("must be a string, not %s (quote it)", describe(v))
}

func toDuration(v any) (any, error) {
	switch v := v.(type) {
	case time.Duration:
		if v < 0 {
			return nil, errors.New("must not be negative")
		}
		return v, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %s: write a number with a unit, e.g. 90s, 5m, 1h", quoteValue(v))
		}
		if d < 0 {
			return nil, fmt.Errorf("duration %s must not be negative", quoteValue(v))
		}
		return d, nil
	}
	return nil, fmt.Errorf("must be a duration with a unit (e.g. 90s, 5m, 1h), not %s", describe(v))
}

func toList(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return []string{}, nil
	case string:
		return splitList(v), nil
	case []string:
		return slices.Clone(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("item %d must be a string, not %s", i, describe(item))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings (or one string, comma- or space-separated), not %s", describe(v))
}

func toBool(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		if b, ok := resolver.ParseBool(v); ok {
			return b, nil
		}
		if strings.TrimSpace(v) == "" {
			return false, nil
		}
	}
	return nil, fmt.Errorf("must be true or false (also 1/0, yes/no, on/off), not %s", describe(v))
}

func toInt(v any) (any, error) {
	n, ok := 0, false
	switch v := v.(type) {
	case nil:
		n, ok = 0, true
	case int:
		n, ok = v, true
	case int64:
		n, ok = int(v), v >= math.MinInt32 && v <= math.MaxInt32
	case float64:
		n, ok = int(v), v == math.Trunc(v) && math.Abs(v) <= math.MaxInt32
	case json.Number:
		var err error
		n, err = strconv.Atoi(v.String())
		ok = err == nil
	case string:
		var err error
		n, err = strconv.Atoi(strings.TrimSpace(v))
		ok = err == nil
	}
	if !ok {
		return nil, fmt.Errorf("must be an integer, not %s", describe(v))
	}
	return n, nil
}

func toMap(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return map[string]string{}, nil
	case map[string]string:
		return maps.Clone(v), nil
	case map[string]any:
		out := map[string]string{}
		for k, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("value of %q must be a string, not %s", k, describe(item))
			}
			out[k] = s
		}
		return out, nil
	case string:
		out := map[string]string{}
		for _, pair := range splitList(v) {
			k, val, ok := strings.Cut(pair, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s is not a name=value pair", quoteValue(pair))
			}
			out[k] = val
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a mapping of names to strings (or name=value pairs, comma-separated), not %s", describe(v))
}

// describe names a value's type for an error message, without echoing long
// values.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "empty"
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case int, int64, float64, json.Number:
		return fmt.Sprintf("the number %v", v)
	case string:
		return "the string " + quoteValue(v)
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}

// splitList splits an environment or flag value on commas and white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

// quoteValue shows a bad value in an error message without a secret in it.
func quoteValue(s string) string { return source.QuoteValue(s) }

// formatValue renders a value the way it would be written in a file.
func formatValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return formatDuration(v)
	case []string:
		return strings.Join(v, ", ")
	case map[string]string:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+"="+v[k])
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// formatDuration prints 5m rather than 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func checkBackend(v any) error {
	allowed := cache.Backends()
	if s := v.(string); !slices.Contains(allowed, s) {
		return &source.NotAllowedError{Msg: fmt.Sprintf("unknown store backend %s", quoteValue(s)), Allowed: allowed}
	}
	return nil
}

func checkKeyCtlScope(v any) error { return source.OneOf(cache.KeyCtlScopes()...)(v) }
