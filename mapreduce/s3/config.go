package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Defaults of Config.
const (
	// DefaultPartSize is the size of the parts of a multipart upload.
	DefaultPartSize = 8 << 20
	// MinPartSize is the smallest part S3 accepts, but for the last.
	MinPartSize = 5 << 20
	// DefaultReadAhead is how much an open file fetches at once.
	DefaultReadAhead = 8 << 20
	// DefaultUploadConcurrency is how many parts of one file upload at once.
	DefaultUploadConcurrency = 2
	// DefaultRetryMaxAttempts is how many times a request is tried.
	DefaultRetryMaxAttempts = 8
	// DefaultRetryBaseDelay is the first backoff between tries.
	DefaultRetryBaseDelay = 200 * time.Millisecond
	// DefaultRetryMaxBackoff caps the backoff between tries.
	DefaultRetryMaxBackoff = 20 * time.Second
	// DefaultRegion is used when neither Config nor the environment name one.
	DefaultRegion = "us-east-1"
)

// ChecksumPolicy says whether uploads carry CRC32C checksums the server
// verifies and keeps (S3's full-object CRC32C checksums).
type ChecksumPolicy int

const (
	// ChecksumsAuto turns checksums on for AWS and off for other
	// endpoints, whose support varies.
	ChecksumsAuto ChecksumPolicy = iota
	// ChecksumsOn creates every upload with a full-object CRC32C
	// checksum, sends each part's CRC32C and the file's at completion.
	ChecksumsOn
	// ChecksumsOff sends no checksum the protocol does not require.
	ChecksumsOff
)

// Config says where the store is and how to reach it. Everything is
// optional: the zero Config talks to AWS with the standard AWS settings
// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, the
// credentials chain of environment, shared files and instance roles).
//
// A Config holds a secret: its String, GoString and LogValue redact it,
// and no error of this package contains it.
type Config struct {
	// Endpoint is the URL of an S3-compatible server
	// ("http://127.0.0.1:7070"); it wins over the environment. Requests to
	// an endpoint that is not AWS's use path-style addressing and send
	// checksums only where the protocol requires them.
	Endpoint string
	// Region of the bucket; else the environment's or DefaultRegion.
	Region string
	// PathStyle forces path-style addressing (s3.example/bucket/key) on
	// AWS too.
	PathStyle bool
	// Profile is the shared config profile to use (else AWS_PROFILE).
	Profile string
	// AccessKey and SecretKey, when set, are the credentials; else the
	// standard AWS credentials chain finds them.
	AccessKey, SecretKey string
	// HTTPClient sends the requests (default: the SDK's).
	HTTPClient *http.Client
	// Logger receives the package's log lines (default slog.Default()).
	Logger *slog.Logger
	// PartSize is the size of multipart upload parts (default
	// DefaultPartSize, at least MinPartSize).
	PartSize int64
	// ReadAhead is how much an open file fetches per request (default
	// DefaultReadAhead).
	ReadAhead int64
	// UploadConcurrency is how many parts of one file are uploaded at
	// once (default DefaultUploadConcurrency); memory per open file is
	// about PartSize × (UploadConcurrency+1).
	UploadConcurrency int
	// RetryMaxAttempts is how many times a request, or a read whose body
	// broke, is tried (default DefaultRetryMaxAttempts).
	RetryMaxAttempts int
	// RetryBaseDelay and RetryMaxBackoff shape the exponential backoff
	// with jitter between tries (defaults DefaultRetryBaseDelay,
	// DefaultRetryMaxBackoff). Throttling (503 SlowDown) is retried the
	// same way.
	RetryBaseDelay, RetryMaxBackoff time.Duration
	// Checksums says whether uploads carry server-verified CRC32C
	// checksums (default ChecksumsAuto).
	Checksums ChecksumPolicy
}

// String describes the configuration without its secret.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("s3{")
	if c.Endpoint != "" {
		fmt.Fprintf(&b, "endpoint=%s ", redactURL(c.Endpoint))
	} else {
		b.WriteString("endpoint=aws ")
	}
	if c.Region != "" {
		fmt.Fprintf(&b, "region=%s ", c.Region)
	}
	if c.PathStyle {
		b.WriteString("path-style ")
	}
	if c.Profile != "" {
		fmt.Fprintf(&b, "profile=%s ", c.Profile)
	}
	if c.AccessKey != "" {
		fmt.Fprintf(&b, "access-key=%s ", maskAccessKey(c.AccessKey))
	} else {
		b.WriteString("credentials=chain ")
	}
	if c.SecretKey != "" {
		b.WriteString("secret-key=REDACTED")
	}
	return strings.TrimSpace(b.String()) + "}"
}

// GoString is String, so that %#v does not print the secret.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// maskAccessKey keeps the last four characters of an access key id (the
// id is not secret, but there is no need to print it whole).
func maskAccessKey(k string) string {
	if len(k) <= 4 {
		return "****"
	}
	return "****" + k[len(k)-4:]
}

// redactURL drops a password from a URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable endpoint)"
	}
	return u.Redacted()
}

// isAWSEndpoint reports whether an endpoint URL is one of AWS's.
func isAWSEndpoint(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn")
}

func (c Config) withDefaults() (Config, error) {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.PartSize < MinPartSize || c.PartSize > 5<<30 {
		return c, fmt.Errorf("s3: part size %d is outside [%d, %d]", c.PartSize, MinPartSize, int64(5<<30))
	}
	if c.ReadAhead <= 0 {
		c.ReadAhead = DefaultReadAhead
	}
	if c.UploadConcurrency <= 0 {
		c.UploadConcurrency = DefaultUploadConcurrency
	}
	if c.RetryMaxAttempts <= 0 {
		c.RetryMaxAttempts = DefaultRetryMaxAttempts
	}
	if c.RetryBaseDelay <= 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if c.RetryMaxBackoff <= 0 {
		c.RetryMaxBackoff = DefaultRetryMaxBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return c, errors.New("s3: an access key needs its secret key and the other way round")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("s3: endpoint %s is not an http:// or https:// URL", redactURL(c.Endpoint))
		}
	}
	return c, nil
}

// backoff is an exponential backoff with full jitter.
func backoff(base, ceiling time.Duration, attempt int) time.Duration {
	d := base << min(max(attempt, 0), 20)
	if d <= 0 || d > ceiling {
		d = ceiling
	}
	return d/2 + rand.N(d/2+1)
}

// New returns the file system of the store a Config describes. It sends
// no request: wrong credentials or a missing bucket show in the first
// operation's error.
func New(ctx context.Context, c Config) (*FS, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.RetryMaxAttempts
				o.MaxBackoff = c.RetryMaxBackoff
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
					return backoff(c.RetryBaseDelay, c.RetryMaxBackoff, attempt-1), nil
				})
			})
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK's configuration errors name files and profiles, never
		// a key.
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if c.HTTPClient != nil {
		// Set after loading: the SDK would otherwise try to fit an
		// AWS_CA_BUNDLE into a client it cannot change. A caller's client
		// brings its own TLS settings.
		awsCfg.HTTPClient = c.HTTPClient
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	fs := &FS{cfg: c, log: c.Logger}
	fs.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		custom := o.BaseEndpoint != nil && !isAWSEndpoint(*o.BaseEndpoint)
		fs.custom = custom
		if custom {
			fs.endpoint = redactURL(*o.BaseEndpoint)
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		} else if o.BaseEndpoint != nil {
			fs.endpoint = redactURL(*o.BaseEndpoint)
		} else {
			fs.endpoint = "AWS S3 (" + o.Region + ")"
		}
		o.UsePathStyle = custom || c.PathStyle
		switch c.Checksums {
		case ChecksumsOn:
			fs.checksums = true
		case ChecksumsOff:
			fs.checksums = false
		default:
			fs.checksums = !custom
		}
	})
	fs.log.Debug("s3 file system", "config", c, "endpoint", fs.endpoint, "checksums", fs.checksums)
	return fs, nil
}
