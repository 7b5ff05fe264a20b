// Package dump is the line format of extdir's export and import: one JSON
// object per profile, in the API's shape with every stored property (ids,
// timestamps, the epoch behind the ETag, deletion) and the profile's tenant,
// so that a directory moves between stores, or machines, with nothing
// changed. Encoding the profiles a decode returned gives the same bytes.
package dump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir"
)

// timeLayout is how Graph writes a whole-second DateTimeOffset.
const timeLayout = "2006-01-02T15:04:05Z"

// Append writes p as one line, without the newline.
func Append(b []byte, p *extdir.Profile) []byte {
	b = append(b, `{"tenant":`...)
	b = appendString(b, p.Tenant)
	b = append(b, `,"@odata.type":`...)
	b = appendString(b, p.Kind.ODataType())
	b = append(b, `,"@odata.etag":`...)
	b = appendString(b, p.ETag())
	for _, prop := range extdir.Properties {
		b = append(b, ',')
		b = appendString(b, prop.Name)
		b = append(b, ':')
		if prop.Type != extdir.TypeAddress {
			b = appendValue(b, prop.Type, prop.Get(p))
			continue
		}
		b = append(b, '{')
		for i, f := range prop.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Name)
			b = append(b, ':')
			b = appendValue(b, f.Type, f.Get(p))
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendValue(b []byte, t extdir.Type, v extdir.Value) []byte {
	if v.Null {
		return append(b, "null"...)
	}
	switch t {
	case extdir.TypeBoolean:
		return strconv.AppendBool(b, v.Bool)
	case extdir.TypeInt32:
		return strconv.AppendInt(b, v.Int, 10)
	case extdir.TypeDateTimeOffset:
		return appendString(b, v.Time.UTC().Format(timeLayout))
	}
	return appendString(b, v.Str)
}

func appendString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}

// Decode parses one line. Every member Append writes must be there (null
// where the property is nullable), and nothing else; the ETag, when given,
// must agree with the epoch. The value rules are the caller's next step
// (extdir.Directory.Import runs Profile.Check).
func Decode(line []byte) (*extdir.Profile, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("not a JSON object: %v", jsonError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value on the line")
	}
	p := &extdir.Profile{}
	if err := str(m, "tenant", &p.Tenant); err != nil {
		return nil, err
	}
	var typ string
	if err := str(m, "@odata.type", &typ); err != nil {
		return nil, err
	}
	k, ok := extdir.KindByQualifiedName(strings.TrimPrefix(typ, "#"))
	if !ok {
		return nil, fmt.Errorf("@odata.type %q is not %s or %s", typ, extdir.KindPending.ODataType(), extdir.KindExternal.ODataType())
	}
	p.Kind = k
	etag, hasETag := m["@odata.etag"]
	delete(m, "tenant")
	delete(m, "@odata.type")
	delete(m, "@odata.etag")
	for _, prop := range extdir.Properties {
		raw, ok := m[prop.Name]
		if !ok {
			return nil, fmt.Errorf("member %q is missing", prop.Name)
		}
		delete(m, prop.Name)
		if prop.Type != extdir.TypeAddress {
			if err := set(p, prop, prop.Name, raw); err != nil {
				return nil, err
			}
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, fmt.Errorf("member %q must be an object", prop.Name)
		}
		for _, f := range prop.Fields {
			fraw, ok := fields[f.Name]
			if !ok {
				fraw = json.RawMessage("null")
			}
			delete(fields, f.Name)
			if err := set(p, f, prop.Name+"/"+f.Name, fraw); err != nil {
				return nil, err
			}
		}
		for name := range fields {
			return nil, fmt.Errorf("unknown member %q of %q", name, prop.Name)
		}
	}
	for name := range m {
		return nil, fmt.Errorf("unknown member %q", name)
	}
	if hasETag {
		var got string
		if json.Unmarshal(etag, &got) != nil || got != p.ETag() {
			return nil, fmt.Errorf("@odata.etag %s does not match epoch %d", etag, p.Epoch)
		}
	}
	return p, nil
}

func str(m map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := m[name]
	if !ok {
		return fmt.Errorf("member %q is missing", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil || string(raw) == "null" {
		return fmt.Errorf("member %q must be a string", name)
	}
	return nil
}

// set parses raw into the property's type and writes it onto p.
func set(p *extdir.Profile, prop *extdir.Property, path string, raw json.RawMessage) error {
	if string(raw) == "null" {
		if !prop.Nullable {
			return fmt.Errorf("member %q cannot be null", path)
		}
		prop.Set(p, extdir.Value{Null: true})
		return nil
	}
	var v extdir.Value
	var err error
	switch prop.Type {
	case extdir.TypeBoolean:
		err = json.Unmarshal(raw, &v.Bool)
	case extdir.TypeInt32:
		err = json.Unmarshal(raw, &v.Int)
	case extdir.TypeDateTimeOffset:
		var s string
		if err = json.Unmarshal(raw, &s); err == nil {
			var t time.Time
			if t, err = time.Parse(time.RFC3339, s); err == nil {
				v.Time = extdir.Timestamp(t)
			}
		}
	default:
		err = json.Unmarshal(raw, &v.Str)
	}
	if err != nil {
		return fmt.Errorf("member %q must be a %s: %v", path, prop.Type.EDMName(), jsonError(err))
	}
	prop.Set(p, v)
	return nil
}

// jsonError shortens encoding/json's messages, which name Go types.
func jsonError(err error) string {
	if err == nil {
		return "null"
	}
	msg := err.Error()
	if i := strings.Index(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}
