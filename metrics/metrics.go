// Package metrics exposes what testerd does to Prometheus: the SMTP
// replies it gives by command and code, probes judged by kind and by tag
// with the time judging took, the judging queue, the DNS questions verdicts
// ask by type and outcome with their latency, replies by state and
// delivery attempts by outcome, DMARC report mail read and the reports in
// it, the store writer's batches and commit time, and build info. The
// other packages know nothing of it: they offer hooks (smtpd.Config.Observe,
// worker.Pool.Done, outbound.Queue.Done, reports.Ingester.Done) and
// counts (store.Stats, store.OutboxStates, worker.Pool.Queued), and
// cmd/testerd wires them here. Metrics has a registry of its own, so
// nothing registers into it by accident.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/store"
)

// Sources are the counts read at each scrape. Any may be nil.
type Sources struct {
	// Queued is the number of probes accepted and not yet judged.
	Queued func() int
	// Batches are the store writer's counts.
	Batches func() store.BatchCounts
	// Outbox counts the replies by state.
	Outbox func(ctx context.Context) (map[store.State]int64, error)
	// Nodes are the live nodes on the database.
	Nodes func(ctx context.Context) ([]store.NodeRecord, error)
}

// Metrics holds testerd's collectors. A nil *Metrics records nothing, so
// the hooks need not ask whether metrics are on.
type Metrics struct {
	reg      *prometheus.Registry
	smtp     *prometheus.CounterVec
	probes   *prometheus.CounterVec
	tags     *prometheus.CounterVec
	judging  prometheus.Histogram
	dns      *prometheus.CounterVec
	dnsTime  *prometheus.HistogramVec
	attempts *prometheus.CounterVec
	hooks    *prometheus.CounterVec
	rptMail  prometheus.Counter
	reports  *prometheus.CounterVec
	resumed  *prometheus.CounterVec
}

// New makes the collectors and registers them with those of src, the Go
// runtime and the process.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		smtp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_smtp_replies_total",
			Help: "SMTP replies testerd gave, by command (connect, ehlo, mail, rcpt, data) and reply code."}, []string{"command", "code"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_probes_judged_total",
			Help: "Probes judged, by kind (spf, dkim, check, postmaster)."}, []string{"kind"}),
		tags: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_verdict_tags_total",
			Help: "Tags given in verdicts, by kind and tag."}, []string{"kind", "tag"}),
		judging: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "testerd_judging_seconds",
			Help:    "Time one verdict took, from the start of judging to the verdict stored.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20}}),
		dns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_dns_questions_total",
			Help: "DNS questions verdicts asked, by type and outcome (ok, NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout, resolver unreachable, bad name, error)."}, []string{"type", "outcome"}),
		dnsTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "testerd_dns_question_seconds",
			Help:    "Time a DNS question took, answers from the cache included.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"type"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_reply_attempts_total",
			Help: "Reply delivery attempts, by the state they left the reply in (sent, deferred, failed)."}, []string{"state"}),
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_webhook_attempts_total",
			Help: "Webhook delivery attempts, by the state they left the request in (sent, deferred, failed)."}, []string{"state"}),
		rptMail: prometheus.NewCounter(prometheus.CounterOpts{Name: "testerd_report_messages_read_total",
			Help: "Report messages (mail to rua@ and the report addresses) read."}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_dmarc_reports_total",
			Help: "DMARC aggregate reports found in report mail, by outcome (stored, failed: could not be read)."}, []string{"outcome"}),
		resumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "testerd_outbox_resumed_total",
			Help: "Deliveries begun again after an attempt that recorded no outcome (its node was killed or stopped during it), by channel (mail, webhook): each may reach its recipient twice."}, []string{"channel"}),
	}
	// The label values known in advance start at 0, so dashboards and
	// rate() see them before the first event.
	for _, st := range []store.State{store.Sent, store.Deferred, store.Failed} {
		m.attempts.WithLabelValues(string(st))
		m.hooks.WithLabelValues(string(st))
	}
	m.resumed.WithLabelValues("mail")
	m.resumed.WithLabelValues(store.Webhook)
	for _, o := range []string{"stored", "failed"} {
		m.reports.WithLabelValues(o)
	}
	m.reg.MustRegister(m.smtp, m.probes, m.tags, m.judging, m.dns, m.dnsTime, m.attempts, m.hooks, m.rptMail, m.reports, m.resumed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	if src.Queued != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "testerd_judging_queue",
			Help: "Probes accepted and not yet judged."}, func() float64 { return float64(src.Queued()) }))
	}
	if src.Batches != nil {
		m.reg.MustRegister(&batchCollector{src.Batches})
	}
	if src.Outbox != nil {
		m.reg.MustRegister(&outboxCollector{src.Outbox})
	}
	if src.Nodes != nil {
		m.reg.MustRegister(&nodesCollector{src.Nodes})
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// SMTP counts one SMTP reply (smtpd.Config.Observe).
func (m *Metrics) SMTP(command string, code int) {
	if m == nil {
		return
	}
	m.smtp.WithLabelValues(command, strconv.Itoa(code)).Inc()
}

// Judged counts one stored verdict (worker.Pool.Done). Tags come from
// testerd's own fixed set, so they make a bounded label.
func (m *Metrics) Judged(k kind.Kind, tags []string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.probes.WithLabelValues(string(k)).Inc()
	for _, t := range tags {
		m.tags.WithLabelValues(string(k), t).Inc()
	}
	m.judging.Observe(elapsed.Seconds())
}

// Attempt counts one delivery attempt of a reply (outbound.Queue.Done).
func (m *Metrics) Attempt(o *store.Outgoing) {
	if m == nil {
		return
	}
	if o.Channel == store.Webhook {
		m.hooks.WithLabelValues(string(o.State)).Inc()
		return
	}
	m.attempts.WithLabelValues(string(o.State)).Inc()
}

// Resumed counts a delivery begun again after an attempt cut short
// (outbound.Queue.Resumed).
func (m *Metrics) Resumed(o *store.Outgoing) {
	if m == nil {
		return
	}
	ch := o.Channel
	if ch == store.Mail {
		ch = "mail"
	}
	m.resumed.WithLabelValues(ch).Inc()
}

// ReportMail counts one report message read and its reports
// (reports.Ingester.Done).
func (m *Metrics) ReportMail(reports []*store.DMARCReport) {
	if m == nil {
		return
	}
	m.rptMail.Inc()
	for _, r := range reports {
		outcome := "stored"
		if r.Error != "" {
			outcome = "failed"
		}
		m.reports.WithLabelValues(outcome).Inc()
	}
}

// Resolver returns r counting each question and its time (r itself for
// a nil Metrics).
func (m *Metrics) Resolver(r dnsx.Resolver) dnsx.Resolver {
	if m == nil {
		return r
	}
	return &resolver{r: r, m: m}
}

type resolver struct {
	r dnsx.Resolver
	m *Metrics
}

func (r *resolver) note(typ string, start time.Time, err error) {
	outcome := "ok"
	var de *dnsx.Error
	switch {
	case err == nil:
	case errors.As(err, &de):
		outcome = de.Kind.String()
	default:
		outcome = "error"
	}
	r.m.dns.WithLabelValues(typ, outcome).Inc()
	r.m.dnsTime.WithLabelValues(typ).Observe(time.Since(start).Seconds())
}

func (r *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	start := time.Now()
	txt, err := r.r.LookupTXT(ctx, name)
	r.note("TXT", start, err)
	return txt, err
}

func (r *resolver) LookupIP(ctx context.Context, network, name string) ([]netip.Addr, error) {
	start := time.Now()
	ips, err := r.r.LookupIP(ctx, network, name)
	typ := "A"
	if network == "ip6" {
		typ = "AAAA"
	}
	r.note(typ, start, err)
	return ips, err
}

func (r *resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	start := time.Now()
	mx, err := r.r.LookupMX(ctx, name)
	r.note("MX", start, err)
	return mx, err
}

func (r *resolver) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	start := time.Now()
	names, err := r.r.LookupAddr(ctx, addr)
	r.note("PTR", start, err)
	return names, err
}

// batchCollector reads the store writer's counts at each scrape.
type batchCollector struct{ counts func() store.BatchCounts }

var (
	batchCommits = prometheus.NewDesc("testerd_store_batches_total", "Transactions the store writer committed (or tried to), each a batch of probes and verdicts.", nil, nil)
	batchWrites  = prometheus.NewDesc("testerd_store_batch_writes_total", "Probes and verdicts written in those batches (divided by batches: the mean batch size).", nil, nil)
	batchFailed  = prometheus.NewDesc("testerd_store_batch_failures_total", "Batches whose commit failed (each write is then tried on its own).", nil, nil)
	batchSeconds = prometheus.NewDesc("testerd_store_commit_seconds_total", "Time the batch commits took (divided by batches: the mean commit latency).", nil, nil)
	batchLargest = prometheus.NewDesc("testerd_store_batch_largest", "The largest batch so far.", nil, nil)
	outboxDesc   = prometheus.NewDesc("testerd_replies", "Replies in the outbox, by state (queued, deferred, sent, failed, suppressed).", []string{"state"}, nil)
	outboxErr    = prometheus.NewDesc("testerd_replies_scrape_error", "1 when the outbox could not be counted at this scrape.", nil, nil)
)

func (c *batchCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- batchCommits
	ch <- batchWrites
	ch <- batchFailed
	ch <- batchSeconds
	ch <- batchLargest
}

func (c *batchCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.counts()
	ch <- prometheus.MustNewConstMetric(batchCommits, prometheus.CounterValue, float64(b.Commits))
	ch <- prometheus.MustNewConstMetric(batchWrites, prometheus.CounterValue, float64(b.Writes))
	ch <- prometheus.MustNewConstMetric(batchFailed, prometheus.CounterValue, float64(b.Failed))
	ch <- prometheus.MustNewConstMetric(batchSeconds, prometheus.CounterValue, b.CommitTime.Seconds())
	ch <- prometheus.MustNewConstMetric(batchLargest, prometheus.GaugeValue, float64(b.Largest))
}

// outboxCollector counts the outbox by state at each scrape, within 5 s.
type outboxCollector struct {
	count func(ctx context.Context) (map[store.State]int64, error)
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDesc
	ch <- outboxErr
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.count(ctx)
	failed := 0.0
	if err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(outboxErr, prometheus.GaugeValue, failed)
	for _, st := range []store.State{store.Queued, store.Deferred, store.Sent, store.Failed, store.Suppressed} {
		if err == nil {
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n[st]), string(st))
		}
	}
}

var nodesDesc = prometheus.NewDesc("testerd_node_heartbeat_age_seconds",
	"The live nodes on this database (heartbeat within the lease), by node name and instance: seconds since each one's last heartbeat.",
	[]string{"node", "instance"}, nil)

// nodesCollector reads the live nodes at each scrape.
type nodesCollector struct {
	live func(ctx context.Context) ([]store.NodeRecord, error)
}

func (c *nodesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- nodesDesc }

func (c *nodesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodes, err := c.live(ctx)
	if err != nil {
		return
	}
	for _, n := range nodes {
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, time.Since(n.Heartbeat).Seconds(), n.Name, n.Instance)
	}
}
