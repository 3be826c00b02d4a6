package s3

import (
	"context"
	"crypto/subtle"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxClockSkew is how far a request's X-Amz-Date may be from the
// server's clock, as S3 allows.
const maxClockSkew = 15 * time.Minute

// RequireSignature wraps an S3 server's handler (an in-process fake, the
// embedded endpoint of a local cluster) so that it serves only requests
// signed with AWS Signature Version 4 in the Authorization header by the
// given key pair; the others get S3's 403 errors (AccessDenied,
// InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed). It
// checks the signature over the method, path, query and signed headers,
// by signing the same request again; the payload is trusted to match the
// x-amz-content-sha256 it was signed with (the handler is meant for
// loopback). Presigned URLs are refused.
func RequireSignature(next http.Handler, accessKey, secretKey string) http.Handler {
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, msg := verify(r, creds, signer); code != "" {
			deny(w, r, code, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authHeader is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuth(h string) (authHeader, bool) {
	var a authHeader
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, false
	}
	for _, f := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			parts := strings.Split(v, "/")
			if len(parts) != 5 || parts[4] != "aws4_request" {
				return a, false
			}
			a.accessKey, a.date, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a, a.accessKey != "" && a.signature != "" && len(a.signedHeaders) > 0
}

// verify returns the S3 error code and message of a request that is not
// properly signed, or "".
func verify(r *http.Request, creds aws.Credentials, signer *v4.Signer) (string, string) {
	if r.URL.Query().Has("X-Amz-Signature") {
		return "AccessDenied", "Presigned requests are not accepted here."
	}
	a, ok := parseAuth(r.Header.Get("Authorization"))
	if !ok {
		return "AccessDenied", "A request signed with AWS Signature Version 4 is required."
	}
	if subtle.ConstantTimeCompare([]byte(a.accessKey), []byte(creds.AccessKeyID)) != 1 {
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	if a.service != "s3" {
		return "SignatureDoesNotMatch", "The credential scope is not for s3."
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || when.Format("20060102") != a.date {
		return "AccessDenied", "The request has no valid X-Amz-Date header."
	}
	if d := time.Since(when); d > maxClockSkew || d < -maxClockSkew {
		return "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."
	}
	// Sign the same request again, with exactly the signed headers.
	path := r.RequestURI
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.IsAbs() {
		path = u.RequestURI()
	}
	path, _, _ = strings.Cut(path, "?")
	again := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Opaque: "//" + r.Host + path, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	for _, h := range a.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil && r.ContentLength >= 0 {
				n = r.ContentLength
			}
			again.ContentLength = n
		default:
			vs := r.Header.Values(h)
			if len(vs) == 0 {
				return "SignatureDoesNotMatch", "A signed header is missing."
			}
			again.Header[http.CanonicalHeaderKey(h)] = vs
		}
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return "AccessDenied", "The request has no x-amz-content-sha256 header."
	}
	if err := signer.SignHTTP(context.Background(), creds, again, payload, a.service, a.region, when); err != nil {
		return "SignatureDoesNotMatch", "The request could not be signed again."
	}
	b, ok := parseAuth(again.Header.Get("Authorization"))
	if !ok || strings.Join(b.signedHeaders, ";") != strings.Join(a.signedHeaders, ";") ||
		subtle.ConstantTimeCompare([]byte(a.signature), []byte(b.signature)) != 1 {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return "", ""
}

func deny(w http.ResponseWriter, r *http.Request, code, msg string) {
	type s3Error struct {
		XMLName  xml.Name `xml:"Error"`
		Code     string   `xml:"Code"`
		Message  string   `xml:"Message"`
		Resource string   `xml:"Resource"`
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(s3Error{Code: code, Message: msg, Resource: r.URL.Path})
}
