package web

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/testerd/testerd/rcpt"

	"golang.org/x/time/rate"

	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/store"
)

// ReportKeeper stores report mail before it is read (reports.Ingester).
type ReportKeeper interface {
	Keep(ctx context.Context, p *store.Probe) error
}

// Bounds of TLS reports posted over HTTPS.
const (
	// MaxPostedReport bounds a posted report as sent (gzip or plain).
	MaxPostedReport = 4 << 20
	// postsPerMinute is what one client network may post.
	postsPerMinute = 30
)

// apiPostTLSReport is POST /api/tlsrpt: an SMTP TLS report submitted over
// HTTPS (RFC 8460 §5.4, for rua=https:), stored like report mail before
// the answer and read after it.
func (s *Server) apiPostTLSReport(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/tlsrpt+json" && mt != "application/tlsrpt+gzip" {
		apiError(w, http.StatusUnsupportedMediaType, "send the report as application/tlsrpt+json or application/tlsrpt+gzip (RFC 8460 §5.4)")
		return
	}
	client := s.clientIP(r)
	if !s.posts.allow(netguard.ClientNet(client)) {
		w.Header().Set("Retry-After", "60")
		apiError(w, http.StatusTooManyRequests, "too many reports from your network: try again in a minute")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPostedReport))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "a report is at most 4 MB as sent")
		return
	}
	raw := append([]byte("Content-Type: "+mt+"\r\nContent-Disposition: attachment; filename=posted-report\r\n\r\n"), body...)
	p := &store.Probe{Address: rcpt.Address{Kind: kind.Report}, ID: store.NewID(), Received: time.Now().UTC(), Recipient: "POST /api/tlsrpt",
		ClientIP: client, Raw: raw, Size: len(raw)}
	if err := s.TLSReports.Keep(r.Context(), p); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, postedReport{ID: p.ID})
}

// posters limits posted reports per client network.
type posters struct {
	mu sync.Mutex
	m  map[netip.Prefix]*rate.Limiter
}

func (p *posters) allow(n netip.Prefix) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) > 10000 {
		p.m = map[netip.Prefix]*rate.Limiter{}
	}
	l := p.m[n]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(postsPerMinute)/60, postsPerMinute)
		p.m[n] = l
	}
	return l.Allow()
}
