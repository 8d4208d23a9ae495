package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Config is the S3 driver's configuration, with the keys of
// distribution's storage.s3 section.
type S3Config struct {
	Bucket string `json:"bucket"`
	Region string `json:"region"`
	// RegionEndpoint is the server's URL (http://host:port for MinIO,
	// versitygw, Ceph...); empty for AWS.
	RegionEndpoint string `json:"regionendpoint"`
	ForcePathStyle bool   `json:"forcepathstyle"`
	// AccessKey and SecretKey; both empty: the SDK's default credential
	// chain (environment, shared files, instance roles).
	AccessKey     string `json:"accesskey"`
	SecretKey     string `json:"secretkey"`
	RootDirectory string `json:"rootdirectory"`
	// ChunkSize is the multipart part size (at least 5 MiB; default 10 MiB).
	ChunkSize int64 `json:"chunksize"`
	// Secure: https when the endpoint has no scheme (default true).
	Secure *bool `json:"secure,omitempty"`
	// SkipVerify skips TLS certificate verification.
	SkipVerify bool `json:"skipverify"`
	// Redirect answers blob GETs with a 307 to a presigned URL of the
	// object, so blob bytes go from the bucket to the client directly
	// (the clients must reach the endpoint).
	Redirect bool `json:"redirect"`
}

// Default and minimum multipart part sizes.
const (
	DefaultS3ChunkSize = 10 << 20
	MinS3ChunkSize     = 5 << 20
)

// endpoint is the server URL with a scheme ("" for AWS).
func (c *S3Config) endpoint() string {
	e := c.RegionEndpoint
	if e == "" || strings.Contains(e, "://") {
		return e
	}
	if c.Secure != nil && !*c.Secure {
		return "http://" + e
	}
	return "https://" + e
}

func (c *S3Config) where() string {
	e := c.endpoint()
	if e == "" {
		e = "AWS S3 (region " + c.Region + ")"
	}
	return fmt.Sprintf("s3 bucket %q at %s", c.Bucket, e)
}

// caBundle loads the PEM bundle AWS_CA_BUNDLE names, if set. The error
// says what is wrong with it.
func caBundle() (*x509.CertPool, error) {
	p := os.Getenv("AWS_CA_BUNDLE")
	if p == "" {
		return nil, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("AWS_CA_BUNDLE=%s cannot be used: %v (unset it, or point it at a PEM certificate bundle)", p, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("AWS_CA_BUNDLE=%s cannot be used: it holds no PEM certificate (unset it, or point it at a PEM certificate bundle)", p)
	}
	return pool, nil
}

// newS3Client builds the client. hoist makes its own HTTP transport (the
// SDK cannot apply AWS_CA_BUNDLE to a client it did not build, which is
// what makes registry:2 fail when the variable is set): the bundle is
// loaded here, used for https endpoints, and a bundle that cannot be read
// is an error naming it (ignored for an http endpoint, which never uses
// it).
func newS3Client(ctx context.Context, c *S3Config) (*s3.Client, error) {
	if c.Bucket == "" {
		return nil, errors.New("s3 storage: no bucket configured (storage.s3.bucket)")
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return nil, fmt.Errorf("%s: accesskey and secretkey go together", c.where())
	}
	ep := c.endpoint()
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("s3 storage: invalid regionendpoint %q: want http(s)://host[:port]", c.RegionEndpoint)
		}
	}
	insecureEndpoint := strings.HasPrefix(ep, "http://")
	pool, err := caBundle()
	if err != nil && !insecureEndpoint {
		return nil, fmt.Errorf("%s: %w", c.where(), err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, InsecureSkipVerify: c.SkipVerify}
	httpClient := &http.Client{Transport: tr}

	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	var cfg aws.Config
	if c.AccessKey != "" {
		cfg = aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")}
	} else {
		// The default chain reads AWS_CA_BUNDLE itself; it was checked above.
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.where(), err)
		}
		cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("%s: loading AWS credentials: %w", c.where(), err)
		}
	}
	cfg.HTTPClient = httpClient
	cfg.RetryMaxAttempts = 3
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		o.UsePathStyle = c.ForcePathStyle
		// S3-compatible servers vary in their support of the newer
		// checksums; the registry verifies digests itself.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		// Part bodies are not hashed twice (SigV4 signs UNSIGNED-PAYLOAD).
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}), nil
}
