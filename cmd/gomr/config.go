package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/primary/pki"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// loadConfig merges a command's settings from its flags, GOMR_*
// environment variables and the --config YAML file (in that order of
// precedence) into a fresh viper instance. A key in the file that is not
// one of the command's flags is an error, so a typo never passes silently.
func loadConfig(cmd *cobra.Command) (*viper.Viper, error) {
	v := viper.New()
	v.SetEnvPrefix("GOMR")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return nil, fmt.Errorf("bind flags: %w", err)
	}
	if err := v.BindPFlags(cmd.InheritedFlags()); err != nil {
		return nil, fmt.Errorf("bind flags: %w", err)
	}
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		return v, nil
	}
	fv := viper.New()
	fv.SetConfigFile(file)
	fv.SetConfigType("yaml")
	if err := fv.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	var known []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) { known = append(known, f.Name) })
	cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) { known = append(known, f.Name) })
	for _, k := range fv.AllKeys() {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("config file %s: unknown option %q for %q (options: see %s --help)", file, k, cmd.CommandPath(), cmd.CommandPath())
		}
	}
	for _, k := range secretKeys {
		if fv.IsSet(k) {
			if err := pki.CheckSecretFile(file); err != nil {
				return nil, fmt.Errorf("config file %s: it holds %s: %w", file, k, err)
			}
		}
	}
	if err := v.MergeConfigMap(fv.AllSettings()); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	return v, nil
}

// secretKeys are the options whose values are secrets: a config file
// holding one must not be readable by every user.
var secretKeys = []string{"token", "gossip-key"}

// sizeUnits is how every size option is written, for error messages.
const sizeUnits = "a number of bytes with an optional unit, case-insensitive: B, KiB, MiB, GiB, TiB, PiB (powers of 1024; also Ki, Mi, ...) or kB, MB, GB, TB, PB (powers of 1000; also k, M, ...), e.g. 64MiB or 1.5GB"

// parseSize parses a byte size with humanize's rule, the one rule of every
// size option: a unit with an "i" is a power of 1024, one without a power
// of 1000. It refuses sizes below minimum and sizes that overflow.
func parseSize(s string, minimum int64) (int64, error) {
	n, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil {
		if strings.Contains(err.Error(), "too large") {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return 0, fmt.Errorf("bad size %q: want %s", s, sizeUnits)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if int64(n) < minimum {
		if minimum == 1 {
			return 0, fmt.Errorf("size %q must be at least 1 byte", s)
		}
		return 0, fmt.Errorf("size %q is below the minimum of %s", s, humanize.IBytes(uint64(minimum)))
	}
	return int64(n), nil
}

// sizeOpt reads a size option from the merged settings; it must be at
// least minimum bytes (0 allows 0).
func sizeOpt(v *viper.Viper, key string, minimum int64) (int64, error) {
	n, err := parseSize(v.GetString(key), minimum)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", key, err)
	}
	return n, nil
}
