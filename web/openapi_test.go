package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/bounce"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/webhook"
)

var update = flag.Bool("update", false, "rewrite openapi.json's generated schemas from the Go types")

// apiTypes are the response bodies openapi.json names, by schema name.
// Their schemas, and those of every named type inside them, are generated
// from the Go types; the rest of the document (paths, the list wrapper)
// is written by hand.
var apiTypes = map[string]any{
	"Error":             errorBody{},
	"Result":            apiResult{},
	"ResultDetail":      resultDetail{},
	"PublicResult":      publicResult{},
	"TestCreated":       testCreated{},
	"TestResults":       testResults{},
	"OperatorMail":      operatorMail{},
	"Reanalysis":        reanalysis{},
	"ReportList":        reportList{},
	"DomainReports":     domainReports{},
	"DomainCheck":       lint.Report{},
	"VerdictEvent":      webhook.Event{},
	"TLSReports":        reports.TLSSummary{},
	"PostedReport":      postedReport{},
	"BounceExplanation": bounce.Said{},
}

// handWritten are the schemas openapi.json keeps as written.
var handWritten = map[string]bool{"ResultList": true}

// schemaGen turns Go types into JSON Schema 2020-12 as encoding/json
// writes them: every field its json tag names, required unless
// omitempty or omitzero, nothing else allowed; a nil slice, map or
// pointer without omitempty may be null.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

var (
	timeType = reflect.TypeFor[time.Time]()
	addrType = reflect.TypeFor[netip.Addr]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) named(name string, t reflect.Type) {
	g.names[t] = name
	g.defs[name] = nil // reserved: recursion refers to it
	g.defs[name] = g.object(t)
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func nullable(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case addrType:
		return map[string]any{"type": "string"}
	case rawType:
		return map[string]any{} // the verdict JSON: overridden where it is one
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name, ok := g.names[t]
		if !ok {
			name = t.PkgPath()[strings.LastIndexByte(t.PkgPath(), '/')+1:] + "." + t.Name()
			g.named(name, t)
		}
		return ref(name)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return nullable(map[string]any{"type": "array", "items": g.schema(t.Elem())})
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return nullable(map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())})
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Interface:
		return map[string]any{}
	}
	panic("openapi: no schema for " + t.String())
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	sort.Strings(required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.fields(ft, props, required) // embedded: its fields are ours
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		if f.Type == rawType && name == "verdict" {
			s = nullable(g.schema(reflect.TypeFor[verdictType]()))
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if optional {
			if a, ok := s["anyOf"]; ok { // absent rather than null
				s = a.([]any)[0].(map[string]any)
			}
		} else {
			*required = append(*required, name)
		}
		props[name] = s
	}
}

// generated returns the schemas the Go types give.
func generated() map[string]any {
	g := &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
	names := make([]string, 0, len(apiTypes))
	for n := range apiTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names { // named first, so nesting cannot rename them
		g.names[reflect.TypeOf(apiTypes[n])] = n
	}
	for _, n := range names {
		g.named(n, reflect.TypeOf(apiTypes[n]))
	}
	return g.defs
}

func readOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesTypes: the schemas in openapi.json are the ones the Go
// types give (go test ./web -run OpenAPI -update rewrites them), and the
// document names every /api/ route the server has.
func TestOpenAPIMatchesTypes(t *testing.T) {
	doc := readOpenAPI(t)
	comps, _ := doc["components"].(map[string]any)
	if comps == nil {
		comps = map[string]any{}
		doc["components"] = comps
	}
	schemas, _ := comps["schemas"].(map[string]any)
	want := generated()
	for n, s := range schemas {
		if handWritten[n] {
			want[n] = s
		}
	}
	if *update {
		comps["schemas"] = want
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("openapi.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for n := range want {
		if _, ok := schemas[n]; !ok {
			t.Errorf("openapi.json lacks the schema %s (run go test ./web -run OpenAPI -update)", n)
		}
	}
	for n, s := range schemas {
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(want[n])
		if !bytes.Equal(a, b) {
			t.Errorf("schema %s differs from its Go type (run go test ./web -run OpenAPI -update):\n file %s\n type %s", n, a, b)
		}
	}

	src, err := os.ReadFile("web.go")
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := doc["paths"].(map[string]any)
	routes := regexp.MustCompile(`HandleFunc\("(GET|POST) (/api/[^"]*|/healthz)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 8 {
		t.Fatalf("found only %d routes in web.go", len(routes))
	}
	seen := map[string]bool{}
	for _, r := range routes {
		method, path := strings.ToLower(r[1]), r[2]
		seen[method+" "+path] = true
		ops, _ := paths[path].(map[string]any)
		if _, ok := ops[method]; !ok {
			t.Errorf("openapi.json does not document %s %s", r[1], path)
		}
	}
	for path, ops := range paths {
		for method := range ops.(map[string]any) {
			if !seen[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the server does not have", method, path)
			}
		}
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", v)
	}
}

type verdictType = verify.Verdict
