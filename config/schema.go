package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/credchain/credchain/source"
)

// keyDef is one setting: its dotted name, type, default, Claude Code alias,
// help and an optional check of the decoded value. The schema is the core
// keys (chain, refresh, store, git, docker) and the union of what the
// source descriptors declare.
type keyDef struct {
	name  string
	typ   valueType
	def   any
	alias string
	help  string
	check func(v any) error
	// secret: the value may carry a secret (people write keys into helper
	// commands), so its CREDCHAIN_ variable is kept from children.
	secret bool
	// fromVar is the full key of the variables.* setting whose variable,
	// when no layer sets this key, gives its value through parseVar.
	fromVar  string
	parseVar func(string) (any, error)
	// owners are the sources declaring the key (none for a core key).
	owners []string
}

// coreKeys are the settings of credchain itself, before any source's.
func coreKeys() []keyDef {
	return []keyDef{
		{name: "chain", typ: typeList, def: []string(nil), help: "source names in priority order; the first configured source wins"},
		{name: "refresh.window", typ: typeDuration, def: defaultSettings().Refresh.Window, check: source.Positive,
			help: "how long before expiry a credential is refreshed"},
		{name: "store.backend", typ: typeString, def: "auto", check: checkBackend, help: "credential store backend"},
		{name: "store.dir", typ: typeString, def: "",
			help: "directory of the lock files and the file/plaintext records (empty: $XDG_CONFIG_HOME/credchain; ~/ is the home directory)"},
		{name: "store.service", typ: typeString, def: defaultSettings().Store.Service, help: "keychain service name"},
		{name: "store.timeout", typ: typeDuration, def: defaultSettings().Store.Timeout, check: source.Positive,
			help: "time box of every store call (a locked keychain fails after it instead of hanging)"},
		{name: "store.keyctl_scope", typ: typeString, def: "user", check: checkKeyCtlScope, help: "kernel keyring of the keyctl backend"},
		{name: "store.lock_wait", typ: typeDuration, def: defaultSettings().Store.LockWait, check: source.Positive,
			help: "longest wait for the store lock another process holds during its refresh (then the error names the holder)"},
	}
}

// commandKeys are the settings of the command's credential-helper
// protocols; they come after the sources' in listings.
func commandKeys() []keyDef {
	return []keyDef{
		{name: "git.hosts", typ: typeList, def: []string(nil), help: "hosts credchain git-credential answers for"},
		{name: "docker.servers", typ: typeList, def: []string(nil), help: "registries credchain docker-credential answers for"},
	}
}

// variablesSection holds the renameable variable names of every source.
const variablesSection = "variables"

// sortedSources returns the descriptors in default chain order (Order, then
// registration order).
func sortedSources(descs []source.Descriptor) []source.Descriptor {
	out := slices.Clone(descs)
	slices.SortStableFunc(out, func(a, b source.Descriptor) int { return cmp.Compare(a.Order, b.Order) })
	return out
}

// buildSchema returns every key in documentation order: the core keys, the
// sources' top-level keys, the variables section, the sources' sections
// (default chain order), then the command's keys. A key declared by two
// sources must be declared alike (same type and default).
func buildSchema(descs []source.Descriptor) ([]keyDef, error) {
	defs := coreKeys()
	if err := checkDescriptors(descs); err != nil {
		return nil, err
	}
	sorted := sortedSources(descs)
	var top, vars, sections []keyDef
	for _, d := range sorted {
		for _, st := range d.Settings {
			k, err := settingKey(d, st)
			if err != nil {
				return nil, err
			}
			if d.Section == "" {
				top = append(top, k)
			} else {
				sections = append(sections, k)
			}
		}
		for _, v := range d.Variables {
			if v.Key != "" {
				vars = append(vars, keyDef{name: variablesSection + "." + v.Key, typ: typeString, def: v.Name,
					help: v.Help, check: source.VariableName, owners: []string{d.Name}})
			}
		}
	}
	for _, group := range [][]keyDef{top, vars, sections, commandKeys()} {
		for _, k := range group {
			var err error
			if defs, err = addKey(defs, k); err != nil {
				return nil, err
			}
		}
	}
	return defs, nil
}

// checkDescriptors refuses what no chain could be built from: a missing
// name or constructor, or two sources of one name.
func checkDescriptors(descs []source.Descriptor) error {
	if len(descs) == 0 {
		return fmt.Errorf("config: no credential sources: set LoadOptions.Sources (source/all.Sources() has every one)")
	}
	seen := map[string]bool{}
	for _, d := range descs {
		switch {
		case d.Name == "" || d.New == nil:
			return fmt.Errorf("config: source descriptor %q has no name or no New", d.Name)
		case seen[d.Name]:
			return fmt.Errorf("config: two sources are named %q", d.Name)
		}
		seen[d.Name] = true
	}
	return nil
}

func settingKey(d source.Descriptor, st source.Setting) (keyDef, error) {
	typ, ok := typeOf(st.Default)
	if !ok {
		return keyDef{}, fmt.Errorf("config: source %s: setting %s: unsupported default type %T", d.Name, st.Key, st.Default)
	}
	name := st.Key
	if d.Section != "" {
		name = d.Section + "." + st.Key
	}
	k := keyDef{name: name, typ: typ, def: st.Default, alias: st.Alias, help: st.Help, check: st.Check,
		secret: st.Secret, parseVar: st.ParseVariable, owners: []string{d.Name}}
	if st.FromVariable != "" {
		if !slices.ContainsFunc(d.Variables, func(v source.Variable) bool { return v.Key == st.FromVariable }) {
			return keyDef{}, fmt.Errorf("config: source %s: setting %s: FromVariable %q is not one of its Variables", d.Name, st.Key, st.FromVariable)
		}
		k.fromVar = variablesSection + "." + st.FromVariable
	}
	return k, nil
}

// addKey appends k, or merges it into an identical declaration of another
// source.
func addKey(defs []keyDef, k keyDef) ([]keyDef, error) {
	i := slices.IndexFunc(defs, func(d keyDef) bool { return d.name == k.name })
	if i < 0 {
		return append(defs, k), nil
	}
	prev := &defs[i]
	if prev.owners == nil || prev.typ != k.typ || formatValue(prev.def) != formatValue(k.def) || prev.alias != k.alias {
		return nil, fmt.Errorf("config: setting %s is declared differently by %s and %s", k.name, ownerNames(prev.owners), ownerNames(k.owners))
	}
	prev.owners = append(prev.owners, k.owners...)
	return defs, nil
}

func ownerNames(owners []string) string {
	if len(owners) == 0 {
		return "credchain"
	}
	return "source " + strings.Join(owners, ", ")
}

// DefaultChain returns the name of every source given, in default chain
// order (each descriptor's Order, then the order given).
func DefaultChain(sources []source.Descriptor) []string { return defaultChain(sources) }

// defaultChain is every source's name in default chain order.
func defaultChain(descs []source.Descriptor) []string {
	var names []string
	for _, d := range sortedSources(descs) {
		names = append(names, d.Name)
	}
	return names
}

// Key describes one setting, for documentation and `credchain config`-style
// listings.
type Key struct {
	Name    string // dotted key, e.g. "store.backend"
	Env     string // its environment variable, e.g. CREDCHAIN_STORE_BACKEND
	Alias   string // the Claude Code setting name, if any
	Type    string // string, duration, list, boolean, integer, map
	Default string // the default, formatted
	Help    string
	// Sources are the sources that read the key (none for credchain's own).
	Sources []string
}

// EnvPrefix starts the environment variable of every setting.
const EnvPrefix = "CREDCHAIN_"

// EnvName is the variable of setting key: CREDCHAIN_<SECTION>_<KEY>.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every setting, in documentation order, of credchain and of the
// given sources.
func Keys(sources ...source.Descriptor) ([]Key, error) {
	defs, err := buildSchema(sources)
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, k := range defs {
		def := k.def
		if k.name == "chain" {
			def = defaultChain(sources)
		}
		out = append(out, Key{
			Name: k.name, Env: EnvName(k.name), Alias: k.alias, Type: k.typ.String(),
			Default: formatValue(def), Help: k.help, Sources: slices.Clone(k.owners),
		})
	}
	return out, nil
}

// ClaudeCodeIgnoredKeys are the top-level keys of a Claude Code
// settings.json that credchain ignores (they configure Claude Code itself),
// so such a file can be passed with --config. Any other unknown key is an
// error.
func ClaudeCodeIgnoredKeys() []string {
	return []string{
		"$schema", "env", "permissions", "model", "hooks", "disableAllHooks",
		"statusLine", "outputStyle", "includeCoAuthoredBy", "cleanupPeriodDays",
		"forceLoginMethod", "forceLoginOrgUUID", "enableAllProjectMcpServers",
		"enabledMcpjsonServers", "disabledMcpjsonServers", "otelHeadersHelper",
		"proxyAuthHelper", "spinnerTipsEnabled", "alwaysThinkingEnabled", "theme",
		"companyAnnouncements", "sandbox", "enabledPlugins", "extraKnownMarketplaces",
		"feedbackSurveyState", "verbose",
	}
}

// aliases maps a lower-cased Claude Code setting name to its key.
func aliases(defs []keyDef) map[string]string {
	m := map[string]string{}
	for _, k := range defs {
		if k.alias != "" {
			m[strings.ToLower(k.alias)] = k.name
		}
	}
	return m
}
