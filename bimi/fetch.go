package bimi

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/testerd/testerd/internal/netguard"
)

// Bounds of the fetches.
const (
	// FetchTimeout bounds one fetch, connection included.
	FetchTimeout = 10 * time.Second
	// MaxLogo is the SVG Tiny PS profile's recommended largest logo.
	MaxLogo = 32 << 10
	// MaxCertificate bounds the PEM chain at a=.
	MaxCertificate = 64 << 10
)

// errNotPublic is the dial error for a non-public address.
var errNotPublic = errors.New("is not a public address: testerd fetches BIMI files only from the public Internet")

// errTooBig says a file passed its bound.
var errTooBig = errors.New("too big")

// defaultClient dials public addresses only, verifies certificates with
// the system's roots and follows no redirect (a receiver fetching a logo
// does not either).
var defaultClient = netguard.Client(FetchTimeout, false, errNotPublic, nil)

// fetch GETs u and returns at most max bytes of its body, decompressed
// when it is gzip (Content-Encoding, or a .svgz file), or an error that
// says what went wrong in words for the finding.
func (c *Checker) fetch(ctx context.Context, u string, max int64) ([]byte, error) {
	client := c.Client
	if client == nil {
		client = defaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "testerd BIMI check")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("answered %s, a redirect to %q: receivers do not follow redirects", resp.Status, resp.Header.Get("Location"))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooBig, max)
	}
	return gunzip(b, max)
}

// gunzip decompresses b when it is gzip (a .svgz file, or the logo a
// certificate carries), within max bytes; other bytes are returned as
// they are.
func gunzip(b []byte, max int64) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, max+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if int64(len(out)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes once decompressed", errTooBig, max)
	}
	return out, nil
}
