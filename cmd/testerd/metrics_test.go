package main

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetrics scrapes /metrics after a probe and a refused recipient, and
// reads it with Prometheus' own text parser.
func TestMetrics(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver = probeDNS(t)
	c.MetricsAddr = "127.0.0.1:0"
	metricsAddr := make(chan string, 1)
	smtpAddr, httpAddr := startServeHooked(t, c, func(flag, addr string) {
		if flag == "metrics-addr" {
			metricsAddr <- addr
		}
	})
	addr := <-metricsAddr
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "metrics", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	if err := sendProbe(smtpAddr, "nobody@"+probeDomain, probeMessage(t, "metrics", "Joe <joe@abc.it>"), false); err == nil {
		t.Fatal("nobody@ was accepted")
	}
	waitJudged(t, httpAddr, "spf", 1)
	// The verdict can show before the hook that counts it has run.
	waitFor(t, httpAddr, func() bool {
		_, body := call(t, "GET", "http://"+addr+"/metrics", "")
		return strings.Contains(body, "testerd_probes_judged_total{")
	}, func() string { return "the verdict was never counted" })

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("no %s in /metrics", name)
		}
		sum, found := 0.0, false
	next:
		for _, m := range f.Metric {
			for k, v := range labels {
				if label(m, k) != v {
					continue next
				}
			}
			found = true
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
		if !found {
			t.Fatalf("no %s with %v in /metrics", name, labels)
		}
		return sum
	}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"testerd_probes_judged_total", map[string]string{"kind": "spf"}, 1, 1},
		{"testerd_verdict_tags_total", map[string]string{"kind": "spf", "tag": "|OK| spf-pass"}, 1, 1},
		{"testerd_judging_seconds", nil, 1, 1},
		{"testerd_smtp_replies_total", map[string]string{"command": "data", "code": "250"}, 1, 1},
		{"testerd_smtp_replies_total", map[string]string{"command": "rcpt", "code": "550"}, 1, 1},
		{"testerd_smtp_replies_total", map[string]string{"command": "connect", "code": "220"}, 2, 2},
		{"testerd_dns_questions_total", map[string]string{"type": "TXT", "outcome": "ok"}, 1, 1e9},
		{"testerd_dns_question_seconds", map[string]string{"type": "TXT"}, 1, 1e9},
		{"testerd_store_batches_total", nil, 2, 1e9}, // the probe, then its verdict
		{"testerd_store_batch_writes_total", nil, 2, 1e9},
		{"testerd_store_batch_failures_total", nil, 0, 0},
		{"testerd_replies", map[string]string{"state": "queued"}, 0, 1e9},
		{"testerd_replies_scrape_error", nil, 0, 0},
		{"testerd_judging_queue", nil, 0, 0},
		{"go_build_info", nil, 1, 1},
	} {
		if v := value(tt.name, tt.labels); v < tt.min || v > tt.max {
			t.Errorf("%s%v = %v, want %v to %v", tt.name, tt.labels, v, tt.min, tt.max)
		}
	}

	// The Grafana dashboard asks only for metrics that exist.
	dash, err := os.ReadFile("../../deploy/grafana-testerd.json")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`testerd_[a-z_]+`).FindAllString(string(dash), -1)
	if len(names) < 10 {
		t.Fatalf("the dashboard names %d metrics", len(names))
	}
	for _, n := range names {
		if families[strings.TrimSuffix(n, "_bucket")] == nil {
			t.Errorf("deploy/grafana-testerd.json asks for %s, which /metrics does not have", n)
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestMetricsLoopbackOnly: --metrics-addr refuses an address others can
// reach.
func TestMetricsLoopbackOnly(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver = probeDNS(t)
	c.MetricsAddr = "0.0.0.0:0"
	if err := c.resolve(); err != nil {
		t.Fatal(err)
	}
	err := serve(context.Background(), c, testLogger(t), serveHooks{})
	if err == nil || !strings.Contains(err.Error(), "--metrics-addr") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("serve with --metrics-addr 0.0.0.0:0: %v", err)
	}
}

// TestMetricsToken: with --metrics-token every scrape needs a token with
// the metrics scope.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.MetricsAddr, c.MetricsToken = probeDNS(t), "127.0.0.1:0", true
	_, scraper, _ := addToken(t, c.DataDir, "--scopes", "metrics")
	_, reader, _ := addToken(t, c.DataDir, "--scopes", "results")
	metricsAddr := make(chan string, 1)
	startServeHooked(t, c, func(flag, addr string) {
		if flag == "metrics-addr" {
			metricsAddr <- addr
		}
	})
	u := "http://" + <-metricsAddr + "/metrics"
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {reader, http.StatusForbidden}, {scraper, http.StatusOK}} {
		if code, body := call(t, "GET", u, tc.token); code != tc.want || (code == 200 && !strings.Contains(body, "go_goroutines")) {
			t.Errorf("scrape with %q: %d, want %d", tc.token, code, tc.want)
		}
	}
}
