package reports

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/testerd/testerd/internal/shared"
	"github.com/testerd/testerd/reports/dmarcrpt"
)

// TestSamples reads every file of ../shared/testdata/dmarc-rua/parsedmarc
// and checks it parses, or fails, as that folder's README says.
func TestSamples(t *testing.T) {
	dir := shared.Dir(t, "testdata", "dmarc-rua")
	rows := readmeTable(t, filepath.Join(dir, "README.md"))
	if len(rows) < 20 {
		t.Fatalf("only %d rows in the README table", len(rows))
	}
	for name, want := range rows {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "parsedmarc", "aggregate", name)
			if strings.HasPrefix(name, "aggregate_invalid/") {
				path = filepath.Join(dir, "parsedmarc", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var doc []byte
			if strings.HasSuffix(name, ".eml") {
				files, errs := Extract(data)
				if len(files) != 1 || len(errs) != 0 {
					t.Fatalf("%d reports, errors %v", len(files), errs)
				}
				if files[0].Container != want.container {
					t.Errorf("container %s, want %s", files[0].Container, want.container)
				}
				doc = files[0].Data
			} else {
				var kind string
				doc, kind, err = FromFile(name, data)
				if err != nil {
					t.Fatal(err)
				}
				if kind != want.container {
					t.Errorf("container %s, want %s", kind, want.container)
				}
			}
			f, err := dmarcrpt.Parse(doc)
			switch {
			case want.records < 0 && want.lenient:
				t.Logf("accepted leniently or refused: %v", err)
			case want.records < 0:
				if err == nil {
					t.Fatalf("parsed, want an error (%s)", want.note)
				}
			case err != nil:
				t.Fatalf("%v (%s)", err, want.note)
			case len(f.Records) != want.records:
				t.Fatalf("%d records, want %d", len(f.Records), want.records)
			default:
				if f.Metadata.ReportID == "" || f.Policy.Domain == "" || f.Metadata.End.Before(f.Metadata.Begin) {
					t.Errorf("metadata %+v, policy %+v", f.Metadata, f.Policy)
				}
				for _, r := range f.Records {
					for _, v := range []string{r.DKIM, r.SPF, r.Disposition} {
						if v != strings.ToLower(v) {
							t.Errorf("value %q not normalized", v)
						}
					}
				}
			}
		})
	}
}

type sample struct {
	container string
	records   int // -1: an error is expected
	lenient   bool
	note      string
}

// readmeTable reads "| file | container | records | note |" rows.
func readmeTable(t *testing.T, path string) map[string]sample {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows := map[string]sample{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 6 || !strings.Contains(cells[1], ".") {
			continue
		}
		name := strings.TrimSpace(cells[1])
		s := sample{container: strings.TrimSpace(cells[2]), note: strings.TrimSpace(cells[4])}
		if s.container == "MIME mail + zip" {
			s.container = "zip"
		} else if strings.Contains(s.container, "gzip") {
			s.container = "gzip"
		}
		if n, err := strconv.Atoi(strings.TrimSpace(cells[3])); err == nil {
			s.records = n
		} else {
			s.records = -1
			s.lenient = strings.Contains(s.note, "lenient")
		}
		rows[name] = s
	}
	return rows
}
