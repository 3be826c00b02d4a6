package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
	if err := v.MergeConfigMap(fv.AllSettings()); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	return v, nil
}

// parseSize parses a byte size: a plain number of bytes or a number with a
// unit (KB, MB, GB are powers of 1000; KiB, MiB, GiB powers of 1024; K, M,
// G are taken as binary, like Hadoop's "64m").
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with KiB, MiB, GiB, KB, MB or GB", s)
	}
	return int64(n * float64(mult)), nil
}

// sizeOpt reads a size option from the merged settings.
func sizeOpt(v *viper.Viper, key string) (int64, error) {
	n, err := parseSize(v.GetString(key))
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", key, err)
	}
	return n, nil
}
