package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// addS3Flags adds the options of the s3:// file system. Credentials are
// never options: they come from the standard AWS chain (AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, instance
// roles), as for the aws CLI.
func addS3Flags(f *pflag.FlagSet) {
	f.String("s3-endpoint", "", "URL of an S3-compatible server for s3:// paths; unset, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS S3")
	f.String("s3-region", "", "region of the s3:// buckets; unset, AWS_REGION or the profile's, else "+s3.DefaultRegion)
	f.String("s3-profile", "", "AWS shared config profile for s3:// credentials; unset, AWS_PROFILE")
	f.Bool("s3-path-style", false, "address buckets as ENDPOINT/BUCKET/KEY also on AWS (servers other than AWS always are)")
}

// s3Config reads the options addS3Flags added.
func s3Config(v *viper.Viper, log *slog.Logger) s3.Config {
	return s3.Config{
		Endpoint:  v.GetString("s3-endpoint"),
		Region:    v.GetString("s3-region"),
		Profile:   v.GetString("s3-profile"),
		PathStyle: v.GetBool("s3-path-style"),
		Logger:    log,
	}
}

// nodeFileSystems is what a primary or a worker reads and writes: local
// paths and s3:// (the node adds hdfs:// itself).
func nodeFileSystems(ctx context.Context, v *viper.Viper, log *slog.Logger) (*mapreduce.FileSystems, error) {
	fs, err := s3.New(ctx, s3Config(v, log))
	if err != nil {
		return nil, fmt.Errorf("s3:// file system: %w", err)
	}
	return mapreduce.LocalFileSystems().With("s3", fs), nil
}
