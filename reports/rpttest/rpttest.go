// Package rpttest makes DMARC aggregate reports and the mail that carries
// them, for tests.
package rpttest

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
)

// Tiny is a one-record report for example.com, 2023-11-14/15.
const Tiny = `<?xml version="1.0"?><feedback><report_metadata><org_name>x</org_name><report_id>r1</report_id>` +
	`<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>` +
	`<policy_published><domain>Example.COM</domain><p>Reject</p></policy_published>` +
	`<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated><disposition>none</disposition>` +
	`<dkim>PASS</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>` +
	`<auth_results><dkim><domain>example.com</domain><result>pass</result></dkim><dkim><domain>esp.example</domain><result>fail</result></dkim>` +
	`<spf><domain>bounce.example.com</domain><result>softfail</result></spf></auth_results></record></feedback>`

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// Zip packs files.
func Zip(files map[string][]byte) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, b := range files {
		f, _ := w.Create(name)
		f.Write(b)
	}
	w.Close()
	return buf.Bytes()
}

// Message is a report mail with body attached as content type ct.
func Message(ct string, body []byte) []byte {
	return []byte("From: r@reporter.example\r\nSubject: Report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n--b\r\nContent-Type: " + ct + "\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"r.bin\"\r\n\r\n" + base64.StdEncoding.EncodeToString(body) + "\r\n--b--\r\n")
}
