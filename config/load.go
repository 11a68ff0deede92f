package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/credchain/credchain/apikey"
)

// ConfigFileVariable names an explicit settings file when --config is not
// given.
const ConfigFileVariable = "CREDCHAIN_CONFIG"

// FlagAnnotation marks a flag as the command-line layer of a setting; set it
// with BindFlag.
const FlagAnnotation = "credchain/config-key"

// LoadOptions says where settings come from.
type LoadOptions struct {
	// File is an explicit settings file (the --config flag). It must exist.
	// When empty, $CREDCHAIN_CONFIG (which must exist too), else the
	// default file DefaultFile, which may be missing.
	File string
	// Flags are the command-line flags. Those bound with BindFlag override
	// the environment and the file when they were set on the command line.
	Flags *pflag.FlagSet
	// Getenv and LookupEnv read the environment; os.Getenv and os.LookupEnv
	// when nil. Sources read their variables through Getenv too. An empty
	// variable counts as unset.
	Getenv    func(string) string
	LookupEnv func(string) (string, bool)
	// Interactive allows prompting on the terminal (the password of the
	// encrypted file store). False in CI, without a TTY, or with
	// --non-interactive.
	Interactive bool
	// Prompt reads a secret from the terminal; used only when Interactive.
	Prompt func(prompt string) (string, error)
	// Output is where commands a source runs for the user (a cloud
	// provider's refresh command) show their output when Interactive;
	// os.Stderr when nil.
	Output io.Writer
}

// BindFlag makes flag (already defined in fs) the command-line layer of the
// setting key: when set, it wins over the environment and the file.
func BindFlag(fs *pflag.FlagSet, flag, key string) error {
	if fs.Lookup(flag) == nil {
		return fmt.Errorf("config: bind flag: no flag --%s", flag)
	}
	if !slices.ContainsFunc(keyDefs(), func(k keyDef) bool { return k.name == key }) {
		return fmt.Errorf("config: bind flag --%s: unknown setting %q", flag, key)
	}
	return fs.SetAnnotation(flag, FlagAnnotation, []string{key})
}

// DefaultFile is $XDG_CONFIG_HOME/credchain/config.yaml (XDG_CONFIG_HOME
// defaulting to $HOME/.config), or "" when neither variable is set.
func DefaultFile(getenv func(string) string) string {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "credchain", "config.yaml")
}

func envFuncs(opts LoadOptions) (func(string) string, func(string) (string, bool)) {
	getenv, lookup := opts.Getenv, opts.LookupEnv
	switch {
	case getenv == nil && lookup == nil:
		return os.Getenv, os.LookupEnv
	case getenv == nil:
		getenv = func(k string) string { v, _ := lookup(k); return v }
	case lookup == nil:
		lookup = func(k string) (string, bool) { v := getenv(k); return v, v != "" }
	}
	return getenv, lookup
}

// Load reads the settings file, the environment and the flags, and returns
// validated Settings. Every problem found is reported (joined), each as an
// *Error that names its origin and key and matches ErrInvalid.
func Load(opts LoadOptions) (*Settings, error) {
	getenv, lookup := envFuncs(opts)
	defaults := defaultSettings()
	s := defaultSettings()
	s.getenv, s.interactive, s.prompt, s.output = getenv, opts.Interactive, opts.Prompt, opts.Output
	if s.output == nil {
		s.output = os.Stderr
	}
	s.origins = map[string]string{}
	defs := keyDefs()

	var errs []error
	var fileValues map[string]any
	path, explicit, pathOrigin := settingsPath(opts.File, lookup, getenv)
	if path != "" {
		raw, err := readFile(path, explicit, pathOrigin)
		if err != nil {
			return nil, err
		}
		if raw != nil {
			s.file = path
			var ferrs []error
			fileValues, ferrs = normalize(path, raw, defs)
			errs = append(errs, ferrs...)
		}
	}

	// viper layers the values: defaults < file < environment < flags.
	v := viper.New()
	for _, d := range defs {
		v.SetDefault(d.name, deref(d.field(&defaults)))
	}
	if len(fileValues) > 0 {
		if err := v.MergeConfigMap(nest(fileValues)); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	envValues := map[string]any{}
	for _, d := range defs {
		if val, ok := lookup(envName(d.name)); ok && val != "" {
			envValues[d.name] = val
		}
	}
	if envMerge := maps.Clone(envValues); len(envMerge) > 0 {
		for _, d := range defs {
			if d.typ == typeMap {
				// viper cannot merge a string over a file's mapping; the
				// loop below takes a map's value from its layer itself.
				delete(envMerge, d.name)
			}
		}
		if err := v.MergeConfigMap(nest(envMerge)); err != nil {
			return nil, fmt.Errorf("config: environment: %w", err)
		}
	}
	flags := map[string]*pflag.Flag{}
	if opts.Flags != nil {
		opts.Flags.VisitAll(func(f *pflag.Flag) {
			if keys := f.Annotations[FlagAnnotation]; len(keys) == 1 {
				flags[keys[0]] = f
			}
		})
		for key, f := range flags {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, fmt.Errorf("config: bind --%s: %w", f.Name, err)
			}
		}
	}

	for _, d := range defs {
		raw := v.Get(d.name)
		origin := ""
		switch f := flags[d.name]; {
		case f != nil && f.Changed:
			origin = "--" + f.Name
		case envValues[d.name] != nil:
			origin = "$" + envName(d.name)
			if d.typ == typeMap {
				raw = envValues[d.name]
			}
		case fileValues != nil && hasKey(fileValues, d.name):
			origin = path
			if d.typ == typeMap {
				// viper lower-cases map keys; parameter names are
				// case-sensitive, so take the file's own map.
				raw = fileValues[d.name]
			}
		}
		if origin != "" {
			s.origins[d.name] = origin
		}
		val, err := convert(d.typ, raw)
		if err != nil {
			errs = append(errs, &Error{Origin: origin, Key: d.name, Msg: err.Error()})
			continue
		}
		if d.check != nil {
			if msg, allowed := d.check(val); msg != "" {
				errs = append(errs, &Error{Origin: origin, Key: d.name, Msg: msg, Allowed: allowed})
				continue
			}
		}
		assign(d.field(&s), val)
	}
	errs = append(errs, checkChain(s.Origin("chain"), s.chain)...)

	if _, set := s.origins["api_key_helper_ttl"]; !set {
		name := s.Variables.APIKeyHelperTTLMs
		if val := getenv(name); val != "" {
			ttl, err := apikey.ParseTTLms(val)
			if err != nil {
				errs = append(errs, &Error{Origin: "$" + name, Key: "api_key_helper_ttl", Msg: err.Error()})
			} else {
				s.APIKeyHelperTTL = ttl
				s.origins["api_key_helper_ttl"] = "$" + name
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

func hasKey(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

func settingsPath(flagFile string, lookup func(string) (string, bool), getenv func(string) string) (path string, explicit bool, origin string) {
	if flagFile != "" {
		return flagFile, true, "--config"
	}
	if v, ok := lookup(ConfigFileVariable); ok && v != "" {
		return v, true, "$" + ConfigFileVariable
	}
	return DefaultFile(getenv), false, ""
}

// readFile returns the file's top-level mapping, or nil for a missing
// default file.
func readFile(path string, explicit bool, origin string) (map[string]any, error) {
	data, err := readSettings(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if !explicit {
				return nil, nil
			}
			return nil, &Error{Origin: origin, Msg: fmt.Sprintf("settings file %s does not exist", path)}
		}
		return nil, &Error{Origin: path, Msg: fmt.Sprintf("cannot read the settings file: %v", err)}
	}
	raw := map[string]any{}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".yaml", ".yml":
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, &Error{Origin: path, Msg: fmt.Sprintf("not valid YAML with a mapping at the top: %v", err)}
		}
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if len(bytes.TrimSpace(data)) > 0 {
			if err := dec.Decode(&raw); err != nil {
				return nil, &Error{Origin: path, Msg: "not a valid JSON object: " + jsonErrorPosition(data, err)}
			}
			if _, err := dec.Token(); err != io.EOF {
				return nil, &Error{Origin: path, Msg: "not a valid JSON object: unexpected data after the object"}
			}
		}
	default:
		return nil, &Error{Origin: path, Msg: fmt.Sprintf("unknown settings file type %q", ext), Allowed: []string{".yaml", ".yml", ".json"}}
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return raw, nil
}

func jsonErrorPosition(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	line := 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n"))
	return fmt.Sprintf("line %d: %v", line, err)
}

// normalize checks every key of the file against the schema and returns the
// values by full lower-case key, with Claude Code aliases resolved and the
// ignored Claude Code keys dropped.
func normalize(path string, raw map[string]any, defs []keyDef) (map[string]any, []error) {
	leaves := map[string]bool{}
	children := map[string][]string{} // "" for the top level
	for _, d := range defs {
		leaves[d.name] = true
		parent, child := "", d.name
		if i := strings.LastIndex(d.name, "."); i >= 0 {
			parent, child = d.name[:i], d.name[i+1:]
			if !slices.Contains(children[""], parent) {
				children[""] = append(children[""], parent)
			}
		}
		children[parent] = append(children[parent], child)
	}
	alias := aliases()
	ignored := map[string]bool{}
	for _, k := range ClaudeCodeIgnoredKeys() {
		ignored[strings.ToLower(k)] = true
	}
	var aliasNames []string
	for _, d := range defs {
		if d.alias != "" {
			aliasNames = append(aliasNames, d.alias)
		}
	}

	out := map[string]any{}
	written := map[string]string{} // full key -> how it was written
	var errs []error
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			val := m[k]
			lk := strings.ToLower(k)
			shown := prefix + k
			full := prefix + lk
			if prefix == "" {
				if target, ok := alias[lk]; ok {
					full = target
				} else if ignored[lk] {
					continue
				}
			}
			if leaves[full] {
				if prev, dup := written[full]; dup {
					errs = append(errs, &Error{Origin: path, Key: shown, Msg: fmt.Sprintf("set twice (also as %s); keep one", prev)})
					continue
				}
				written[full] = shown
				out[full] = val
				continue
			}
			if sub, isSection := children[full]; isSection && prefix == "" {
				switch sm := val.(type) {
				case map[string]any:
					walk(full+".", sm)
				case nil:
				default:
					errs = append(errs, &Error{Origin: path, Key: shown, Msg: "must be a mapping with keys", Allowed: sub})
				}
				continue
			}
			allowed := children[strings.TrimSuffix(prefix, ".")]
			if prefix == "" {
				allowed = append(slices.Clone(allowed), aliasNames...)
			}
			errs = append(errs, &Error{Origin: path, Key: shown, Msg: "unknown key", Allowed: allowed})
		}
	}
	walk("", raw)
	return out, errs
}

// nest turns full dotted keys into the nested maps viper merges, copying
// map values so viper's key lower-casing cannot touch the caller's maps.
func nest(flat map[string]any) map[string]any {
	out := map[string]any{}
	for key, val := range flat {
		if m, ok := val.(map[string]any); ok {
			val = maps.Clone(m)
		}
		parts := strings.Split(key, ".")
		cur := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = val
	}
	return out
}

func checkChain(origin string, chain []string) []error {
	if len(chain) == 0 {
		return []error{&Error{Origin: origin, Key: "chain", Msg: "must name at least one source", Allowed: DefaultChain()}}
	}
	var errs []error
	seen := map[string]int{}
	for i, name := range chain {
		key := fmt.Sprintf("chain[%d]", i)
		if !slices.Contains(DefaultChain(), name) {
			errs = append(errs, &Error{Origin: origin, Key: key, Msg: fmt.Sprintf("unknown source %s", quoteValue(name)), Allowed: DefaultChain()})
			continue
		}
		if j, dup := seen[name]; dup {
			errs = append(errs, &Error{Origin: origin, Key: key, Msg: fmt.Sprintf("source %q appears twice (also chain[%d])", name, j)})
			continue
		}
		seen[name] = i
	}
	return errs
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

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off", "":
		return false, true
	}
	return false, false
}

// convert turns a raw value from any layer into the key's Go type.
func convert(t valueType, v any) (any, error) {
	switch t {
	case typeString:
		switch v := v.(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		}
		return nil, fmt.Errorf("must be a string, not %s (quote it)", describe(v))
	case typeDuration:
		switch v := v.(type) {
		case time.Duration:
			if v < 0 {
				return nil, fmt.Errorf("must not be negative")
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
	case typeList:
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
	case typeBool:
		switch v := v.(type) {
		case nil:
			return false, nil
		case bool:
			return v, nil
		case string:
			if b, ok := parseBool(v); ok {
				return b, nil
			}
		}
		return nil, fmt.Errorf("must be true or false (also 1/0, yes/no, on/off), not %s", describe(v))
	case typeInt:
		switch v := v.(type) {
		case nil:
			return 0, nil
		case int:
			return v, nil
		case int64:
			if v >= math.MinInt32 && v <= math.MaxInt32 {
				return int(v), nil
			}
		case float64:
			if v == math.Trunc(v) && math.Abs(v) <= math.MaxInt32 {
				return int(v), nil
			}
		case json.Number:
			if n, err := strconv.Atoi(v.String()); err == nil {
				return n, nil
			}
		case string:
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("must be an integer, not %s", describe(v))
	case typeMap:
		out := map[string]string{}
		switch v := v.(type) {
		case nil:
			return out, nil
		case map[string]string:
			return maps.Clone(v), nil
		case map[string]any:
			for k, item := range v {
				s, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("value of %q must be a string, not %s", k, describe(item))
				}
				out[k] = s
			}
			return out, nil
		case string:
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
	return nil, fmt.Errorf("unsupported type %v", t)
}
