package graph_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/graph"
)

// The CSDL XML elements the tests read (OData CSDL XML 4.0). Unmarshalling
// by local name matches the elements in the edm namespace.
type csdlDocument struct {
	XMLName    xml.Name `xml:"http://docs.oasis-open.org/odata/ns/edmx Edmx"`
	Version    string   `xml:"Version,attr"`
	References []struct {
		URI      string `xml:"Uri,attr"`
		Includes []struct {
			Namespace string `xml:"Namespace,attr"`
			Alias     string `xml:"Alias,attr"`
		} `xml:"Include"`
	} `xml:"Reference"`
	Schemas []csdlSchema `xml:"DataServices>Schema"`
}

type csdlSchema struct {
	XMLName      xml.Name          `xml:"http://docs.oasis-open.org/odata/ns/edm Schema"`
	Namespace    string            `xml:"Namespace,attr"`
	Alias        string            `xml:"Alias,attr"`
	EntityTypes  []csdlType        `xml:"EntityType"`
	ComplexTypes []csdlType        `xml:"ComplexType"`
	Actions      []csdlAction      `xml:"Action"`
	Container    csdlContainer     `xml:"EntityContainer"`
	Annotations  []csdlAnnotations `xml:"Annotations"`
}

type csdlType struct {
	Name       string         `xml:"Name,attr"`
	BaseType   string         `xml:"BaseType,attr"`
	Abstract   string         `xml:"Abstract,attr"`
	OpenType   string         `xml:"OpenType,attr"`
	Key        []csdlName     `xml:"Key>PropertyRef"`
	Properties []csdlProperty `xml:"Property"`
	Navigation []csdlProperty `xml:"NavigationProperty"`
}

type csdlName struct {
	Name string `xml:"Name,attr"`
}

type csdlProperty struct {
	Name           string           `xml:"Name,attr"`
	Type           string           `xml:"Type,attr"`
	Nullable       string           `xml:"Nullable,attr"`
	MaxLength      string           `xml:"MaxLength,attr"`
	ContainsTarget string           `xml:"ContainsTarget,attr"`
	Annotations    []csdlAnnotation `xml:"Annotation"`
}

type csdlAnnotation struct {
	Term string `xml:"Term,attr"`
	Bool string `xml:"Bool,attr"`
	// Restriction records: a record of property values, each a bool or a
	// collection of property paths.
	Record []struct {
		Property string   `xml:"Property,attr"`
		Bool     string   `xml:"Bool,attr"`
		Paths    []string `xml:"Collection>PropertyPath"`
	} `xml:"Record>PropertyValue"`
}

type csdlAction struct {
	Name       string         `xml:"Name,attr"`
	IsBound    string         `xml:"IsBound,attr"`
	Parameters []csdlProperty `xml:"Parameter"`
	ReturnType csdlProperty   `xml:"ReturnType"`
}

type csdlContainer struct {
	Name       string `xml:"Name,attr"`
	EntitySets []struct {
		Name       string `xml:"Name,attr"`
		EntityType string `xml:"EntityType,attr"`
	} `xml:"EntitySet"`
	Singletons []struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"Type,attr"`
	} `xml:"Singleton"`
}

type csdlAnnotations struct {
	Target      string           `xml:"Target,attr"`
	Annotations []csdlAnnotation `xml:"Annotation"`
}

func fetchMetadata(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	srv := &graph.Server{}
	w := httptest.NewRecorder()
	// No Authorization header: $metadata is public, as Graph's is.
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/beta/$metadata", nil))
	return w.Result(), w.Body.Bytes()
}

func parseCSDL(t *testing.T, raw []byte) (*csdlDocument, *csdlSchema) {
	t.Helper()
	var doc csdlDocument
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("$metadata is not well-formed CSDL XML: %v\n%s", err, raw)
	}
	if doc.Version != "4.0" {
		t.Errorf("Edmx Version = %q, want 4.0", doc.Version)
	}
	if len(doc.Schemas) != 1 {
		t.Fatalf("%d schemas, want 1", len(doc.Schemas))
	}
	return &doc, &doc.Schemas[0]
}

// csdlModel resolves names in one schema: qualified by namespace or alias.
type csdlModel struct {
	schema   *csdlSchema
	entities map[string]*csdlType
	complex  map[string]*csdlType
	vocab    map[string]bool // namespaces of the included vocabularies
}

func newModel(doc *csdlDocument, s *csdlSchema) *csdlModel {
	m := &csdlModel{schema: s, entities: map[string]*csdlType{}, complex: map[string]*csdlType{}, vocab: map[string]bool{}}
	for i := range s.EntityTypes {
		m.entities[s.EntityTypes[i].Name] = &s.EntityTypes[i]
	}
	for i := range s.ComplexTypes {
		m.complex[s.ComplexTypes[i].Name] = &s.ComplexTypes[i]
	}
	for _, ref := range doc.References {
		for _, inc := range ref.Includes {
			m.vocab[inc.Namespace] = true
		}
	}
	return m
}

// local strips the namespace or alias of a type in this schema; ok is false
// for a name from elsewhere.
func (m *csdlModel) local(qualified string) (string, bool) {
	for _, prefix := range []string{m.schema.Namespace + ".", m.schema.Alias + "."} {
		if name, ok := strings.CutPrefix(qualified, prefix); ok {
			return name, true
		}
	}
	return "", false
}

var edmPrimitives = []string{"Edm.String", "Edm.Boolean", "Edm.Int32", "Edm.Int64", "Edm.DateTimeOffset", "Edm.Guid", "Edm.Double"}

// resolves reports whether a type reference names a primitive or a type the
// schema declares.
func (m *csdlModel) resolves(ref string) bool {
	if inner, ok := strings.CutPrefix(ref, "Collection("); ok {
		ref = strings.TrimSuffix(inner, ")")
	}
	if slices.Contains(edmPrimitives, ref) {
		return true
	}
	name, ok := m.local(ref)
	return ok && (m.entities[name] != nil || m.complex[name] != nil)
}

// chain is the type and its bases, most derived first.
func (m *csdlModel) chain(t *testing.T, name string) []*csdlType {
	t.Helper()
	var out []*csdlType
	for name != "" {
		et := m.entities[name]
		if et == nil {
			t.Fatalf("entity type %q is not declared", name)
		}
		out = append(out, et)
		if len(out) > 10 {
			t.Fatalf("base types of %q loop", name)
		}
		name = ""
		if et.BaseType != "" {
			base, ok := m.local(et.BaseType)
			if !ok {
				t.Fatalf("base type %q of %q is not in the schema", et.BaseType, et.Name)
			}
			name = base
		}
	}
	return out
}

// properties collects the structural properties of a type and its bases,
// failing on a name declared twice.
func (m *csdlModel) properties(t *testing.T, name string) map[string]csdlProperty {
	t.Helper()
	props := map[string]csdlProperty{}
	for _, et := range m.chain(t, name) {
		for _, p := range et.Properties {
			if _, dup := props[p.Name]; dup {
				t.Errorf("property %s of %s is declared twice along its base types", p.Name, name)
			}
			props[p.Name] = p
		}
	}
	return props
}

func TestMetadataIsPublicCSDLXML(t *testing.T) {
	res, raw := fetchMetadata(t)
	if res.StatusCode != 200 {
		t.Fatalf("GET /beta/$metadata without a token: %d %s", res.StatusCode, raw)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type = %q, want application/xml", ct)
	}
	if v := res.Header.Get("OData-Version"); v != "4.0" {
		t.Errorf("OData-Version = %q", v)
	}
	if n, _ := strconv.Atoi(res.Header.Get("Content-Length")); n != len(raw) {
		t.Errorf("Content-Length %d for %d bytes", n, len(raw))
	}
}

// TestMetadataIsValidCSDL checks the rules of CSDL a consumer relies on:
// every type reference resolves, every entity type has one key along its
// bases, bound actions bind to declared types, annotations use included
// vocabularies and target declared elements.
func TestMetadataIsValidCSDL(t *testing.T) {
	_, raw := fetchMetadata(t)
	doc, s := parseCSDL(t, raw)
	m := newModel(doc, s)
	if s.Namespace != "microsoft.graph" || s.Alias != "graph" {
		t.Errorf("schema %s alias %s, want Graph's microsoft.graph alias graph", s.Namespace, s.Alias)
	}
	check := func(where, ref string) {
		if !m.resolves(ref) {
			t.Errorf("%s: type %q does not resolve", where, ref)
		}
	}
	for _, et := range append(slices.Clone(s.EntityTypes), s.ComplexTypes...) {
		for _, p := range et.Properties {
			check(et.Name+"/"+p.Name, p.Type)
			for _, a := range p.Annotations {
				if ns := a.Term[:strings.LastIndex(a.Term, ".")]; !m.vocab[ns] {
					t.Errorf("%s/%s: annotation term %s is from a vocabulary the document does not include", et.Name, p.Name, a.Term)
				}
			}
		}
		for _, n := range et.Navigation {
			check(et.Name+"/"+n.Name, n.Type)
		}
	}
	for _, et := range s.EntityTypes {
		props := m.properties(t, et.Name)
		var keys []csdlName
		for _, base := range m.chain(t, et.Name) {
			keys = append(keys, base.Key...)
		}
		if len(keys) != 1 {
			t.Errorf("entity type %s has %d key properties along its bases, want 1", et.Name, len(keys))
			continue
		}
		if p, ok := props[keys[0].Name]; !ok || p.Nullable != "false" {
			t.Errorf("key %s of %s is not a declared non-nullable property", keys[0].Name, et.Name)
		}
	}
	for _, a := range s.Actions {
		if a.IsBound != "true" || len(a.Parameters) == 0 {
			t.Errorf("action %s is not bound", a.Name)
			continue
		}
		check("action "+a.Name+" binding", a.Parameters[0].Type)
		check("action "+a.Name+" return", a.ReturnType.Type)
	}
	for _, es := range s.Container.EntitySets {
		check("entity set "+es.Name, es.EntityType)
	}
	for _, sg := range s.Container.Singletons {
		check("singleton "+sg.Name, sg.Type)
	}
	for _, group := range s.Annotations {
		typ, nav, _ := strings.Cut(group.Target, "/")
		name, ok := m.local(typ)
		if !ok || m.entities[name] == nil || !slices.ContainsFunc(m.entities[name].Navigation, func(p csdlProperty) bool { return p.Name == nav }) {
			t.Errorf("annotations target %q does not name a navigation property", group.Target)
		}
	}
}

// TestMetadataMatchesThePropertyTable compares the CSDL with the table that
// drives validation and rendering, so that the two cannot drift apart.
func TestMetadataMatchesThePropertyTable(t *testing.T) {
	_, raw := fetchMetadata(t)
	doc, s := parseCSDL(t, raw)
	m := newModel(doc, s)

	for _, k := range extdir.Kinds {
		chain := m.chain(t, k.TypeName())
		names := make([]string, len(chain))
		for i, et := range chain {
			names[i] = et.Name
		}
		if want := []string{k.TypeName(), "externalProfile", "directoryObject", "entity"}; !slices.Equal(names, want) {
			t.Errorf("%s derives from %v, want %v", k.TypeName(), names, want)
		}
		props := m.properties(t, k.TypeName())
		if len(props) != len(extdir.Properties) {
			t.Errorf("%s declares %d properties, the table has %d", k.TypeName(), len(props), len(extdir.Properties))
		}
		for _, p := range extdir.Properties {
			got, ok := props[p.Name]
			if !ok {
				t.Errorf("%s lacks property %s", k.TypeName(), p.Name)
				continue
			}
			compareProperty(t, k.TypeName(), p, got)
		}
	}

	addr, _ := extdir.PropertyByName("address")
	name, _ := m.local(addr.Type.EDMName())
	ct := m.complex[name]
	if ct == nil {
		t.Fatalf("complex type %s is not declared", addr.Type.EDMName())
	}
	if len(ct.Properties) != len(addr.Fields) {
		t.Errorf("%s has %d properties, the table %d", name, len(ct.Properties), len(addr.Fields))
	}
	for i, f := range addr.Fields {
		if i < len(ct.Properties) {
			compareProperty(t, name, f, ct.Properties[i])
		}
	}

	// The paths extdir serves under /directory.
	dir := m.entities["directory"]
	if dir == nil {
		t.Fatal("entity type directory is not declared")
	}
	nav := map[string]string{}
	for _, n := range dir.Navigation {
		nav[n.Name] = n.Type
	}
	want := map[string]string{"deletedItems": "Collection(graph.directoryObject)"}
	for _, k := range extdir.Kinds {
		want[k.Collection()] = "Collection(graph." + k.TypeName() + ")"
	}
	if len(nav) != len(want) {
		t.Errorf("directory navigation = %v, want %v", nav, want)
	}
	for n, typ := range want {
		if nav[n] != typ {
			t.Errorf("directory/%s is %q, want %q", n, nav[n], typ)
		}
	}
	if !slices.ContainsFunc(s.Container.Singletons, func(sg struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"Type,attr"`
	}) bool {
		return sg.Name == "directory"
	}) {
		t.Error("the container has no directory singleton")
	}

	// The redeem action turns a pending profile into an external one.
	var redeem *csdlAction
	for i := range s.Actions {
		if s.Actions[i].Name == "redeem" {
			redeem = &s.Actions[i]
		}
	}
	if redeem == nil {
		t.Fatal("no redeem action")
	}
	if redeem.Parameters[0].Type != "graph."+extdir.KindPending.TypeName() || redeem.ReturnType.Type != "graph."+extdir.KindExternal.TypeName() {
		t.Errorf("redeem binds %s and returns %s", redeem.Parameters[0].Type, redeem.ReturnType.Type)
	}

	// Filter and sort restrictions come from the same table.
	seen := 0
	for _, group := range s.Annotations {
		for _, a := range group.Annotations {
			for _, pv := range a.Record {
				var want []string
				switch pv.Property {
				case "NonFilterableProperties":
					for _, p := range extdir.Properties {
						if p.Filter == 0 {
							want = append(want, p.Name)
						}
					}
				case "NonSortableProperties":
					for _, p := range extdir.Properties {
						if !p.Sortable {
							want = append(want, p.Name)
						}
					}
				default:
					continue
				}
				seen++
				if !slices.Equal(pv.Paths, want) {
					t.Errorf("%s %s = %v, want %v", group.Target, pv.Property, pv.Paths, want)
				}
			}
		}
	}
	if want := 2 * len(extdir.Kinds); seen != want {
		t.Errorf("%d filter and sort restrictions, want %d (two per collection)", seen, want)
	}
}

func compareProperty(t *testing.T, owner string, p *extdir.Property, got csdlProperty) {
	t.Helper()
	where := owner + "/" + p.Name
	if got.Type != p.Type.EDMName() {
		t.Errorf("%s: Type %q, table %q", where, got.Type, p.Type.EDMName())
	}
	if nullable := got.Nullable != "false"; nullable != p.Nullable {
		t.Errorf("%s: nullable %v, table %v", where, nullable, p.Nullable)
	}
	maxLen := 0
	if got.MaxLength != "" {
		var err error
		if maxLen, err = strconv.Atoi(got.MaxLength); err != nil {
			t.Errorf("%s: MaxLength %q: %v", where, got.MaxLength, err)
		}
	}
	if maxLen != p.MaxLength {
		t.Errorf("%s: MaxLength %d, table %d", where, maxLen, p.MaxLength)
	}
	var terms []string
	for _, a := range got.Annotations {
		if a.Bool == "true" {
			terms = append(terms, a.Term)
		}
	}
	var want []string
	switch {
	case p.ReadOnly():
		want = []string{"Org.OData.Core.V1.Computed"}
	case p.OnCreate && !p.OnUpdate:
		want = []string{"Org.OData.Core.V1.Immutable"}
	}
	if !slices.Equal(terms, want) {
		t.Errorf("%s: annotations %v, want %v (the table's write rules)", where, terms, want)
	}
}
