// Package config turns a settings file, CREDCHAIN_* environment variables
// and command-line flags into typed Settings, and Settings into a
// resolver.Config: it is credchain's composition root. It knows no source:
// it is handed the descriptors (source.Descriptor) of the sources the
// program links (LoadOptions.Sources; source/all has every one), validates
// the settings against credchain's own keys and the union of the keys they
// declare, and builds the chain from them, in their default order or the
// one the chain setting gives.
//
// Layers, highest first: flags, environment (CREDCHAIN_<SECTION>_<KEY>), the
// settings file ($XDG_CONFIG_HOME/credchain/config.yaml, --config or
// CREDCHAIN_CONFIG; YAML or JSON by extension), built-in defaults. spf13/viper
// does the layering; the validation is strict and done here, so an unknown
// key, a value of the wrong type, a bad duration or a bad chain entry is an
// error that names where the value came from (file, variable or flag), the
// key, and what is allowed.
//
// Claude Code's setting names are accepted as aliases (apiKeyHelper,
// awsAuthRefresh, awsCredentialExport, gcpAuthRefresh), and the other
// top-level keys of a Claude Code settings.json (env, permissions, model,
// hooks, ...; see ClaudeCodeIgnoredKeys) are ignored, so such a file can be
// used as it is.
package config
