package dmarcrpt

import "testing"

func FuzzParse(f *testing.F) {
	f.Add([]byte(tiny))
	f.Add([]byte(`<x><feedback><report_metadata><report_id>1</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata><policy_published><domain>a</domain></policy_published></feedback>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		fb, err := Parse(doc)
		if err == nil && (fb.Metadata.ReportID == "" || fb.Policy.Domain == "" || fb.Metadata.End.Before(fb.Metadata.Begin)) {
			t.Fatalf("accepted %+v", fb)
		}
	})
}
