package graph

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/extdir/extdir"
)

// jsonContentType is what Graph sends with every JSON body.
const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// timeLayout renders DateTimeOffset values as Graph does: UTC, whole seconds.
const timeLayout = "2006-01-02T15:04:05Z"

// jsonContentTypes is the Content-Type header value, shared by every
// response: net/http only reads it.
var jsonContentTypes = []string{jsonContentType}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentTypes
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bodyBuffers recycles the buffers responses are rendered into: a page of
// a hundred profiles is some 70 KB, garbage after every list request
// otherwise. A buffer goes back once written: ResponseWriter.Write has
// copied or sent it by the time it returns.
var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 2048)
	return &b
}}

// maxPooledBody bounds what goes back to the pool, so that one huge page
// (999 profiles with long values) does not stay in memory for good.
const maxPooledBody = 256 << 10

func getBody() *[]byte { return bodyBuffers.Get().(*[]byte) }

// writePooledJSON writes the body rendered into *buf, then recycles buf.
func writePooledJSON(w http.ResponseWriter, status int, buf *[]byte, body []byte) {
	writeJSON(w, status, body)
	if cap(body) <= maxPooledBody {
		*buf = body[:0]
		bodyBuffers.Put(buf)
	}
}

// selection is the set of properties a response renders: all of them, or
// those of $select plus id.
type selection []*extdir.Property

func newSelection(sel []*extdir.Property) selection {
	if sel == nil {
		return selection(extdir.Properties)
	}
	// Render in table order, whatever order $select named them in, and
	// always with id.
	out := make(selection, 0, len(sel)+1)
	for _, p := range extdir.Properties {
		if p.Name == "id" {
			out = append(out, p)
			continue
		}
		for _, s := range sel {
			if s == p {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// contextSuffix is the "(a,b)" of a context URL under $select.
func contextSuffix(sel []*extdir.Property) string {
	if sel == nil {
		return ""
	}
	names := make([]string, len(sel))
	for i, p := range sel {
		names[i] = p.Name
	}
	return "(" + strings.Join(names, ",") + ")"
}

// appendProfile renders p as one whole JSON object of a collection's value
// array: its @odata.type first when withType (deleted items are directory
// objects), then what appendMembers writes.
func appendProfile(b []byte, p *extdir.Profile, sel selection, withType bool) []byte {
	b = append(b, '{')
	if withType {
		b = append(b, `"@odata.type":`...)
		b = appendString(b, p.Kind.ODataType())
		b = append(b, ',')
	}
	return appendMembers(b, p, sel)
}

// appendMembers writes the etag and the selected properties, then closes the
// object.
func appendMembers(b []byte, p *extdir.Profile, sel selection) []byte {
	b = append(b, `"@odata.etag":`...)
	b = appendString(b, p.ETag())
	for _, prop := range sel {
		b = append(b, ',', '"')
		b = append(b, prop.Name...)
		b = append(b, '"', ':')
		if prop.Type == extdir.TypeAddress {
			b = append(b, '{')
			for i, f := range prop.Fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = append(b, f.Name...)
				b = append(b, '"', ':')
				b = appendValue(b, f.Type, f.Get(p))
			}
			b = append(b, '}')
			continue
		}
		b = appendValue(b, prop.Type, prop.Get(p))
	}
	return append(b, '}')
}

func appendValue(b []byte, t extdir.Type, v extdir.Value) []byte {
	if v.Null {
		return append(b, "null"...)
	}
	switch t {
	case extdir.TypeString:
		return appendString(b, v.Str)
	case extdir.TypeBoolean:
		return strconv.AppendBool(b, v.Bool)
	case extdir.TypeInt32:
		return strconv.AppendInt(b, v.Int, 10)
	case extdir.TypeDateTimeOffset:
		b = append(b, '"')
		b = appendTimestamp(b, v.Time)
		return append(b, '"')
	}
	return append(b, "null"...)
}

// appendTimestamp is t.UTC().AppendFormat(b, timeLayout) without the
// layout interpreter, which is most of the time a list page spends on dates.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, second := t.Clock()
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+second/10), byte('0'+second%10), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes what JSON requires,
// plus U+2028 and U+2029 so that the output is also safe JavaScript, and
// replaces invalid UTF-8 with U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
