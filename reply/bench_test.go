package reply

import "testing"

// BenchmarkPlan: the rules and the reply message for one judged probe
// (the verdict itself is verify's BenchmarkJudge).
func BenchmarkPlan(b *testing.B) {
	r, v := probe{mailFrom: "joe@abc.it", sign: true}.judge(b)
	b.ReportAllocs()
	for b.Loop() {
		if o := cfg.Plan(r, v); o.State != "queued" {
			b.Fatal(o.Reason)
		}
	}
}
