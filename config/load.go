package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/credchain/credchain/source"
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
	// Sources are the credential sources the program links (source/all's
	// Sources() for every one): the keys they declare are the settings
	// beside credchain's own, and the chain is built from them, in their
	// default order unless the chain setting says otherwise.
	Sources []source.Descriptor
}

// BindFlag makes flag (already defined in fs) the command-line layer of the
// setting key: when set, it wins over the environment and the file. A key of
// credchain's own sections is checked here; a source's key is checked by
// Load, against the sources it is given.
func BindFlag(fs *pflag.FlagSet, flag, key string) error {
	if fs.Lookup(flag) == nil {
		return fmt.Errorf("config: bind flag: no flag --%s", flag)
	}
	own := slices.Concat(coreKeys(), commandKeys())
	if sectionOf(key) != "" && slices.ContainsFunc(own, func(k keyDef) bool { return sectionOf(k.name) == sectionOf(key) }) &&
		!slices.ContainsFunc(own, func(k keyDef) bool { return k.name == key }) {
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
// validated Settings for the sources in opts.Sources. Every problem found is
// reported (joined), each as an *Error that names its origin and key and
// matches ErrInvalid.
func Load(opts LoadOptions) (*Settings, error) {
	defs, err := buildSchema(opts.Sources)
	if err != nil {
		return nil, err
	}
	getenv, lookup := envFuncs(opts)
	s := defaultSettings()
	s.sources = sortedSources(opts.Sources)
	s.defs = defs
	s.getenv, s.interactive, s.prompt, s.output = getenv, opts.Interactive, opts.Prompt, opts.Output
	if s.output == nil {
		s.output = os.Stderr
	}
	s.origins = map[string]string{}
	s.values = map[string]any{}
	l := &loader{s: &s, defs: defs, lookup: lookup}
	if err := l.readFile(opts.File); err != nil {
		return nil, err
	}
	if err := l.layer(opts.Flags); err != nil {
		return nil, err
	}
	for _, d := range defs {
		l.resolve(d)
	}
	l.fromVariables()
	if len(l.errs) == 0 {
		s.applyCore()
		if _, set := s.origins["chain"]; !set {
			s.chain = defaultChain(s.sources)
		}
		l.errs = checkChain(s.Origin("chain"), s.chain, defaultChain(s.sources))
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return &s, nil
}

// loader holds one Load's layers and the problems found so far.
type loader struct {
	s      *Settings
	defs   []keyDef
	lookup func(string) (string, bool)
	errs   []error

	path       string         // the settings file read, if any
	fileValues map[string]any // by full key
	envValues  map[string]any // by full key
	flags      map[string]*pflag.Flag
	v          *viper.Viper
}

// readFile reads and checks the settings file, if there is one.
func (l *loader) readFile(flagFile string) error {
	path, explicit, pathOrigin := settingsPath(flagFile, l.lookup, l.s.getenv)
	if path == "" {
		return nil
	}
	raw, err := readFile(path, explicit, pathOrigin)
	if err != nil || raw == nil {
		return err
	}
	l.path, l.s.file = path, path
	var ferrs []error
	l.fileValues, ferrs = normalize(path, raw, l.defs)
	l.errs = append(l.errs, ferrs...)
	return nil
}

// layer has viper layer the values: defaults < file < environment < flags.
func (l *loader) layer(fs *pflag.FlagSet) error {
	l.v = viper.New()
	for _, d := range l.defs {
		l.v.SetDefault(d.name, d.def)
	}
	if len(l.fileValues) > 0 {
		if err := l.v.MergeConfigMap(nest(l.fileValues)); err != nil {
			return fmt.Errorf("config: %s: %w", l.path, err)
		}
	}
	l.envValues = map[string]any{}
	envMerge := map[string]any{}
	for _, d := range l.defs {
		if val, ok := l.lookup(EnvName(d.name)); ok && val != "" {
			l.envValues[d.name] = val
			// viper cannot merge a string over a file's mapping; resolve
			// takes a map's value from its layer itself.
			if d.typ != typeMap {
				envMerge[d.name] = val
			}
		}
	}
	if len(envMerge) > 0 {
		if err := l.v.MergeConfigMap(nest(envMerge)); err != nil {
			return fmt.Errorf("config: environment: %w", err)
		}
	}
	return l.bindFlags(fs)
}

// bindFlags binds the flags annotated by BindFlag; one bound to a key no
// source declared is an error.
func (l *loader) bindFlags(fs *pflag.FlagSet) error {
	l.flags = map[string]*pflag.Flag{}
	if fs == nil {
		return nil
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if keys := f.Annotations[FlagAnnotation]; len(keys) == 1 {
			l.flags[keys[0]] = f
		}
	})
	for key, f := range l.flags {
		if !slices.ContainsFunc(l.defs, func(d keyDef) bool { return d.name == key }) {
			return fmt.Errorf("config: bind flag --%s: unknown setting %q", f.Name, key)
		}
		if err := l.v.BindPFlag(key, f); err != nil {
			return fmt.Errorf("config: bind --%s: %w", f.Name, err)
		}
	}
	return nil
}

// resolve takes d's value from the highest layer that sets it, converts and
// checks it, and records where it came from.
func (l *loader) resolve(d keyDef) {
	raw, origin := l.v.Get(d.name), ""
	switch f := l.flags[d.name]; {
	case f != nil && f.Changed:
		origin = "--" + f.Name
	case l.envValues[d.name] != nil:
		origin = "$" + EnvName(d.name)
		if d.typ == typeMap {
			raw = l.envValues[d.name]
		}
	case hasKey(l.fileValues, d.name):
		origin = l.path
		if d.typ == typeMap {
			// viper lower-cases map keys; parameter names are
			// case-sensitive, so take the file's own map.
			raw = l.fileValues[d.name]
		}
	}
	if origin != "" {
		l.s.origins[d.name] = origin
	}
	val, err := convert(d.typ, raw)
	if err == nil && d.check != nil {
		err = d.check(val)
	}
	if err != nil {
		l.errs = append(l.errs, settingError(origin, d.name, err))
		return
	}
	l.s.values[d.name] = val
}

// fromVariables gives a key no layer set the value of its variable
// (source.Setting.FromVariable), when that is set.
func (l *loader) fromVariables() {
	for _, d := range l.defs {
		if _, set := l.s.origins[d.name]; set || d.fromVar == "" {
			continue
		}
		name, _ := l.s.values[d.fromVar].(string)
		raw := l.s.getenv(name)
		if name == "" || raw == "" {
			continue
		}
		val, err := parseVariable(d, raw)
		if err != nil {
			l.errs = append(l.errs, settingError("$"+name, d.name, err))
			continue
		}
		l.s.values[d.name] = val
		l.s.origins[d.name] = "$" + name
	}
}

func parseVariable(d keyDef, raw string) (any, error) {
	parse := d.parseVar
	if parse == nil {
		parse = func(s string) (any, error) { return convert(d.typ, s) }
	}
	val, err := parse(raw)
	if err == nil && d.check != nil {
		err = d.check(val)
	}
	return val, err
}

// settingError is the *Error of a bad value; a check's NotAllowedError
// brings its allowed values.
func settingError(origin, key string, err error) *Error {
	var na *source.NotAllowedError
	if errors.As(err, &na) {
		return &Error{Origin: origin, Key: key, Msg: na.Msg, Allowed: na.Allowed}
	}
	return &Error{Origin: origin, Key: key, Msg: err.Error()}
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
	data, err := os.ReadFile(path)
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
	n := newNormalizer(path, defs)
	n.walk("", raw)
	return n.out, n.errs
}

// normalizer walks a settings file's mapping against the schema.
type normalizer struct {
	path       string
	leaves     map[string]bool
	children   map[string][]string // "" for the top level
	alias      map[string]string
	aliasNames []string
	ignored    map[string]bool

	out     map[string]any
	written map[string]string // full key -> how it was written
	errs    []error
}

func newNormalizer(path string, defs []keyDef) *normalizer {
	n := &normalizer{path: path, leaves: map[string]bool{}, children: map[string][]string{}, alias: aliases(defs),
		ignored: map[string]bool{}, out: map[string]any{}, written: map[string]string{}}
	for _, d := range defs {
		n.leaves[d.name] = true
		parent, child := "", d.name
		if i := strings.LastIndex(d.name, "."); i >= 0 {
			parent, child = d.name[:i], d.name[i+1:]
			if !slices.Contains(n.children[""], parent) {
				n.children[""] = append(n.children[""], parent)
			}
		}
		n.children[parent] = append(n.children[parent], child)
		if d.alias != "" {
			n.aliasNames = append(n.aliasNames, d.alias)
		}
	}
	for _, k := range ClaudeCodeIgnoredKeys() {
		n.ignored[strings.ToLower(k)] = true
	}
	return n
}

func (n *normalizer) fail(key, msg string, allowed []string) {
	n.errs = append(n.errs, &Error{Origin: n.path, Key: key, Msg: msg, Allowed: allowed})
}

// walk visits the keys of m, a mapping at prefix ("" or "section.").
func (n *normalizer) walk(prefix string, m map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lk := strings.ToLower(k)
		full := prefix + lk
		if prefix == "" {
			if target, ok := n.alias[lk]; ok {
				full = target
			} else if n.ignored[lk] {
				continue
			}
		}
		n.visit(prefix, prefix+k, full, m[k])
	}
}

// visit takes one key: shown as written, full as resolved.
func (n *normalizer) visit(prefix, shown, full string, val any) {
	if n.leaves[full] {
		if prev, dup := n.written[full]; dup {
			n.fail(shown, fmt.Sprintf("set twice (also as %s); keep one", prev), nil)
			return
		}
		n.written[full] = shown
		n.out[full] = val
		return
	}
	if sub, isSection := n.children[full]; isSection && prefix == "" {
		switch sm := val.(type) {
		case map[string]any:
			n.walk(full+".", sm)
		case nil:
		default:
			n.fail(shown, "must be a mapping with keys", sub)
		}
		return
	}
	allowed := n.children[strings.TrimSuffix(prefix, ".")]
	if prefix == "" {
		allowed = append(slices.Clone(allowed), n.aliasNames...)
	}
	n.fail(shown, "unknown key", allowed)
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

func checkChain(origin string, chain, known []string) []error {
	if len(chain) == 0 {
		return []error{&Error{Origin: origin, Key: "chain", Msg: "must name at least one source", Allowed: known}}
	}
	var errs []error
	seen := map[string]int{}
	for i, name := range chain {
		key := fmt.Sprintf("chain[%d]", i)
		if !slices.Contains(known, name) {
			errs = append(errs, &Error{Origin: origin, Key: key, Msg: fmt.Sprintf("unknown source %s", quoteValue(name)), Allowed: known})
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
