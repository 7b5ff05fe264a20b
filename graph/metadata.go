package graph

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/extdir/extdir"
)

// The service's CSDL follows Graph's own: namespace microsoft.graph (alias
// graph), an abstract entity holding the key, directoryObject on it, and
// the container GraphService.
const (
	csdlNamespace = "microsoft.graph"
	csdlAlias     = "graph"
)

// inheritedProperties says which base type declares a property of the
// table; every other property belongs to externalProfile. As in Graph, the
// key is entity's and deletedDateTime is directoryObject's.
var inheritedProperties = map[string]string{
	"id":              "entity",
	"deletedDateTime": "directoryObject",
}

// metadataDocument is rendered once: it depends only on the property table
// and the kinds, which do not change while the program runs.
var metadataDocument = buildMetadata()

// metadata serves GET /beta/$metadata without a token, as Graph does.
func (s *Server) metadata(c *call) error {
	h := c.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(metadataDocument)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(metadataDocument)
	return nil
}

// xmlWriter builds the document: an element at a time, attributes escaped.
type xmlWriter struct {
	b     bytes.Buffer
	depth int
}

func (w *xmlWriter) indent() {
	for range w.depth {
		w.b.WriteString("  ")
	}
}

// open writes <name a="v" ...>, or <name .../> when empty is set; attrs
// come in name, value pairs.
func (w *xmlWriter) open(name string, empty bool, attrs ...string) {
	w.indent()
	w.b.WriteByte('<')
	w.b.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.b.WriteByte(' ')
		w.b.WriteString(attrs[i])
		w.b.WriteString(`="`)
		_ = xml.EscapeText(&w.b, []byte(attrs[i+1]))
		w.b.WriteByte('"')
	}
	if empty {
		w.b.WriteString("/>\n")
		return
	}
	w.b.WriteString(">\n")
	w.depth++
}

func (w *xmlWriter) close(name string) {
	w.depth--
	w.indent()
	w.b.WriteString("</" + name + ">\n")
}

func qualified(name string) string { return csdlAlias + "." + name }

// buildMetadata renders the CSDL (OData 4.0 XML) of what extdir serves, from
// the property table: every property with its type, nullability, maximum
// length and whether a client may write it; the filter and sort
// restrictions of the two collections; the directory's navigation paths;
// the restore and redeem actions.
func buildMetadata() []byte {
	w := &xmlWriter{}
	w.b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	w.open("edmx:Edmx", false, "Version", "4.0", "xmlns:edmx", "http://docs.oasis-open.org/odata/ns/edmx")
	w.open("edmx:Reference", false, "Uri", "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml")
	w.open("edmx:Include", true, "Namespace", "Org.OData.Core.V1", "Alias", "Core")
	w.close("edmx:Reference")
	w.open("edmx:Reference", false, "Uri", "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml")
	w.open("edmx:Include", true, "Namespace", "Org.OData.Capabilities.V1", "Alias", "Capabilities")
	w.close("edmx:Reference")
	w.open("edmx:DataServices", false)
	w.open("Schema", false, "Namespace", csdlNamespace, "Alias", csdlAlias, "xmlns", "http://docs.oasis-open.org/odata/ns/edm")

	// entity and directoryObject carry the inherited properties.
	w.open("EntityType", false, "Name", "entity", "Abstract", "true")
	w.open("Key", false)
	w.open("PropertyRef", true, "Name", "id")
	w.close("Key")
	writeProperties(w, "entity")
	w.close("EntityType")
	w.open("EntityType", false, "Name", "directoryObject", "BaseType", qualified("entity"))
	writeProperties(w, "directoryObject")
	w.close("EntityType")

	// Graph declares these types open; extdir refuses properties outside
	// the table, so it does not.
	w.open("EntityType", false, "Name", "externalProfile", "BaseType", qualified("directoryObject"))
	writeProperties(w, "externalProfile")
	w.close("EntityType")
	for _, k := range extdir.Kinds {
		w.open("EntityType", true, "Name", k.TypeName(), "BaseType", qualified("externalProfile"))
	}

	for _, p := range extdir.Properties {
		if p.Type != extdir.TypeAddress {
			continue
		}
		w.open("ComplexType", false, "Name", typeLocalName(p.Type))
		for _, f := range p.Fields {
			writeProperty(w, f)
		}
		w.close("ComplexType")
	}

	w.open("EntityType", false, "Name", "directory", "BaseType", qualified("entity"))
	w.open("NavigationProperty", true, "Name", "deletedItems", "Type", "Collection("+qualified("directoryObject")+")", "ContainsTarget", "true")
	for _, k := range extdir.Kinds {
		w.open("NavigationProperty", true, "Name", k.Collection(), "Type", "Collection("+qualified(k.TypeName())+")", "ContainsTarget", "true")
	}
	w.close("EntityType")

	w.open("Action", false, "Name", "restore", "IsBound", "true")
	w.open("Parameter", true, "Name", "bindingParameter", "Type", qualified("directoryObject"), "Nullable", "false")
	w.open("ReturnType", true, "Type", qualified("directoryObject"))
	w.close("Action")
	// redeem is extdir's own: it turns a pending profile into an external one.
	w.open("Action", false, "Name", "redeem", "IsBound", "true")
	w.open("Parameter", true, "Name", "bindingParameter", "Type", qualified(extdir.KindPending.TypeName()), "Nullable", "false")
	w.open("ReturnType", true, "Type", qualified(extdir.KindExternal.TypeName()), "Nullable", "false")
	w.close("Action")

	w.open("EntityContainer", false, "Name", "GraphService")
	// directoryObjects is the entity set named by the context URLs of
	// deleted items.
	w.open("EntitySet", true, "Name", "directoryObjects", "EntityType", qualified("directoryObject"))
	w.open("Singleton", true, "Name", "directory", "Type", qualified("directory"))
	w.close("EntityContainer")

	for _, k := range extdir.Kinds {
		writeRestrictions(w, k)
	}

	w.close("Schema")
	w.close("edmx:DataServices")
	w.close("edmx:Edmx")
	return w.b.Bytes()
}

// typeLocalName is a type's name without its namespace.
func typeLocalName(t extdir.Type) string {
	name := t.EDMName()
	if len(name) > len(csdlNamespace)+1 && name[:len(csdlNamespace)+1] == csdlNamespace+"." {
		return name[len(csdlNamespace)+1:]
	}
	return name
}

func writeProperties(w *xmlWriter, owner string) {
	for _, p := range extdir.Properties {
		declaredBy, ok := inheritedProperties[p.Name]
		if !ok {
			declaredBy = "externalProfile"
		}
		if declaredBy == owner {
			writeProperty(w, p)
		}
	}
}

// writeProperty declares one property: Core.Computed when no client may
// write it, Core.Immutable when only a create may.
func writeProperty(w *xmlWriter, p *extdir.Property) {
	attrs := []string{"Name", p.Name, "Type", p.Type.EDMName()}
	if !p.Nullable {
		attrs = append(attrs, "Nullable", "false")
	}
	if p.MaxLength > 0 {
		attrs = append(attrs, "MaxLength", strconv.Itoa(p.MaxLength))
	}
	var term string
	switch {
	case p.ReadOnly():
		term = "Org.OData.Core.V1.Computed"
	case p.OnCreate && !p.OnUpdate:
		term = "Org.OData.Core.V1.Immutable"
	}
	if term == "" {
		w.open("Property", true, attrs...)
		return
	}
	w.open("Property", false, attrs...)
	w.open("Annotation", true, "Term", term, "Bool", "true")
	w.close("Property")
}

// writeRestrictions states what the collection of k supports: which
// properties $filter and $orderby refuse, and, for the collection that only
// redemption fills, that it takes no POST.
func writeRestrictions(w *xmlWriter, k extdir.Kind) {
	w.open("Annotations", false, "Target", csdlNamespace+".directory/"+k.Collection())
	if k == extdir.KindExternal {
		w.open("Annotation", false, "Term", "Org.OData.Capabilities.V1.InsertRestrictions")
		w.open("Record", false)
		w.open("PropertyValue", true, "Property", "Insertable", "Bool", "false")
		w.close("Record")
		w.close("Annotation")
	}
	writePathList(w, "Org.OData.Capabilities.V1.FilterRestrictions", "NonFilterableProperties",
		func(p *extdir.Property) bool { return p.Filter == 0 })
	writePathList(w, "Org.OData.Capabilities.V1.SortRestrictions", "NonSortableProperties",
		func(p *extdir.Property) bool { return !p.Sortable })
	w.close("Annotations")
}

func writePathList(w *xmlWriter, term, member string, refused func(*extdir.Property) bool) {
	w.open("Annotation", false, "Term", term)
	w.open("Record", false)
	w.open("PropertyValue", false, "Property", member)
	w.open("Collection", false)
	for _, p := range extdir.Properties {
		if refused(p) {
			w.indent()
			w.b.WriteString("<PropertyPath>" + p.Name + "</PropertyPath>\n")
		}
	}
	w.close("Collection")
	w.close("PropertyValue")
	w.close("Record")
	w.close("Annotation")
}
