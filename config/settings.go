package config

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/resolver"
	"github.com/credchain/credchain/source"
)

// Settings is the validated result of Load. Fields are read-only after Load;
// Build turns them into a resolver.Config. The sources' own settings are
// read with Value, or decoded by the sources themselves when built.
type Settings struct {
	// Refresh is section refresh.
	Refresh RefreshSettings
	// Store is section store: the shared credential store.
	Store StoreSettings
	// Git is section git (credchain git-credential).
	Git GitSettings
	// Docker is section docker (credchain docker-credential).
	Docker DockerSettings

	sources     []source.Descriptor // default chain order
	defs        []keyDef
	values      map[string]any // every key's value, defaults included
	chain       []string
	file        string
	origins     map[string]string
	getenv      func(string) string
	interactive bool
	prompt      func(prompt string) (string, error)
	output      io.Writer
}

// RefreshSettings is section refresh.
type RefreshSettings struct {
	// Window is how long before expiry a credential is refreshed.
	Window time.Duration
}

// StoreSettings is section store.
type StoreSettings struct {
	// Backend is one of cache.Backends() ("auto" picks the first that works).
	Backend string
	// Dir holds the file backends, lock files and the plaintext file; empty
	// means the store's default directory.
	Dir string
	// Service is the keychain service (collection item prefix) name.
	Service string
	// Timeout bounds every store call.
	Timeout time.Duration
	// KeyCtlScope is the kernel keyring of the keyctl backend.
	KeyCtlScope string
	// LockWait bounds the wait for the store lock another process holds.
	LockWait time.Duration
}

// GitSettings is section git.
type GitSettings struct {
	Hosts []string // hosts credchain git-credential answers for
}

// DockerSettings is section docker.
type DockerSettings struct {
	Servers []string // registries credchain docker-credential answers for
}

// File is the settings file that was read, or "" when there was none.
func (s *Settings) File() string { return s.file }

// Origin says where the value of key came from: "--flag", "$VARIABLE", the
// file path, or "default".
func (s *Settings) Origin(key string) string {
	if o, ok := s.origins[key]; ok {
		return o
	}
	return "default"
}

// Chain returns the source names in order (key chain; a copy).
func (s *Settings) Chain() []string { return slices.Clone(s.chain) }

// DefaultChain returns the name of every source Load was given, in default
// chain order (each descriptor's Order).
func (s *Settings) DefaultChain() []string { return defaultChain(s.sources) }

// Value returns the value of setting key (e.g. "oauth.login_timeout"), of
// the type its declaration gives it, or nil for a key no source declared.
func (s *Settings) Value(key string) any { return s.values[key] }

// Interactive reports whether the settings were loaded for a session that
// may prompt (LoadOptions.Interactive).
func (s *Settings) Interactive() bool { return s.interactive }

// Getenv reads the environment the settings were loaded with.
func (s *Settings) Getenv(name string) string { return s.getenv(name) }

// SecretVariables returns the names of every variable that carries a
// credential or points at one (tokens, keys, descriptors), as the sources
// declare them (Variable.Secret) — the configured name and the default one
// when renamed —, the CREDCHAIN_ variables of settings that may hold a
// secret (Setting.Secret), and the encrypted store's password
// (cache.FilePasswordEnv). It is the one list of what children of credchain
// must not inherit: credchain exec, --serve and $BROWSER remove it from
// their child's environment, and the sources get it (source.Input) for the
// commands they run (api_key_helper, aws.auth_refresh,
// aws.credential_export, gcp.auth_refresh).
func (s *Settings) SecretVariables() []string {
	var out []string
	add := func(name string) {
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, d := range s.sources {
		for _, v := range d.Variables {
			if v.Secret {
				add(v.Name)
				if v.Key != "" {
					add(s.variable(v.Key))
				}
			}
		}
	}
	for _, k := range s.defs {
		if k.secret {
			add(EnvName(k.name))
		}
	}
	add(cache.FilePasswordEnv)
	return out
}

// variable is the configured name of the variable declared with key.
func (s *Settings) variable(key string) string {
	name, _ := s.values[variablesSection+"."+key].(string)
	return name
}

// EnabledSources returns the sources of the chain that are turned on, as
// their descriptors' Enabled tells without building them (a source without
// Enabled counts as on), highest first.
func (s *Settings) EnabledSources() []string {
	var on []string
	for _, name := range s.chain {
		d := s.descriptor(name)
		if d.Enabled == nil || d.Enabled(s.input(d)) {
			on = append(on, name)
		}
	}
	return on
}

func (s *Settings) descriptor(name string) *source.Descriptor {
	for i := range s.sources {
		if s.sources[i].Name == name {
			return &s.sources[i]
		}
	}
	return nil
}

// applyCore copies the core keys' values into the typed fields.
func (s *Settings) applyCore() {
	v := s.values
	s.chain = v["chain"].([]string)
	s.Refresh.Window = v["refresh.window"].(time.Duration)
	s.Store = StoreSettings{
		Backend: v["store.backend"].(string), Dir: v["store.dir"].(string), Service: v["store.service"].(string),
		Timeout: v["store.timeout"].(time.Duration), KeyCtlScope: v["store.keyctl_scope"].(string),
		LockWait: v["store.lock_wait"].(time.Duration),
	}
	s.Git.Hosts = v["git.hosts"].([]string)
	s.Docker.Servers = v["docker.servers"].([]string)
}

func defaultSettings() Settings {
	return Settings{
		Refresh: RefreshSettings{Window: resolver.DefaultRefreshWindow},
		Store:   StoreSettings{Backend: "auto", Service: cache.DefaultService, Timeout: cache.DefaultTimeout, KeyCtlScope: "user", LockWait: cache.DefaultLockWait},
	}
}

// input is what one source is built from: a source.Input over the settings.
type input struct {
	s *Settings
	d *source.Descriptor
}

func (s *Settings) input(d *source.Descriptor) input { return input{s: s, d: d} }

// Decode implements source.Input with mapstructure: the values are already
// of their declared types, so it only places them in the tagged fields.
func (in input) Decode(into any) error {
	m := make(map[string]any, len(in.d.Settings))
	for _, st := range in.d.Settings {
		key := st.Key
		if in.d.Section != "" {
			key = in.d.Section + "." + st.Key
		}
		m[st.Key] = cloneValue(in.s.values[key])
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: into, TagName: "mapstructure"})
	if err != nil {
		return fmt.Errorf("config: source %s: %w", in.d.Name, err)
	}
	if err := dec.Decode(m); err != nil {
		return fmt.Errorf("config: source %s: decoding its settings: %w", in.d.Name, err)
	}
	return nil
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case []string:
		return slices.Clone(v)
	case map[string]string:
		return maps.Clone(v)
	}
	return v
}

// Variable implements source.Input.
func (in input) Variable(key string) string {
	if name := in.s.variable(key); name != "" {
		return name
	}
	for _, v := range in.d.Variables {
		if v.Key == key {
			return v.Name
		}
	}
	return ""
}

// Getenv implements source.Input.
func (in input) Getenv(name string) string { return in.s.getenv(name) }

// Interactive implements source.Input.
func (in input) Interactive() bool { return in.s.interactive }

// Output implements source.Input: the terminal in an interactive session,
// else nil (the source puts a command's output in its error).
func (in input) Output() io.Writer {
	if in.s.interactive {
		return in.s.output
	}
	return nil
}

// SecretVariables implements source.Input: Settings.SecretVariables, the
// list credchain exec scrubs too.
func (in input) SecretVariables() []string { return in.s.SecretVariables() }

// sectionOf is the section of a dotted key ("" for a top-level one).
func sectionOf(key string) string {
	section, _, ok := strings.Cut(key, ".")
	if !ok {
		return ""
	}
	return section
}
