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

func FuzzExtract(f *testing.F) {
	f.Add(reportMessage("application/gzip", gz([]byte(tiny))))
	f.Add(reportMessage("application/zip", zipOf(map[string][]byte{"r.xml": []byte(tiny)})))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\n\r\n<feedback/>\r\n--y--\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		files, _ := Extract(raw)
		for _, fl := range files {
			if len(fl.XML) > MaxXML {
				t.Fatalf("%d octets extracted", len(fl.XML))
			}
		}
	})
}
