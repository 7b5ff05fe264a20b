package graph

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// A $skiptoken is the keyset cursor of the last row of a page, written so
// that any node can continue the listing with no memory of the first page:
// base64url of a small JSON document holding the sort order it belongs to,
// the last row's sort keys and its sequence number.
type skipToken struct {
	Order string            `json:"o,omitempty"`
	Seq   int64             `json:"s"`
	Keys  []json.RawMessage `json:"k,omitempty"`
}

var errBadSkipToken = &extdir.Error{Code: extdir.EBadRequest, Message: "The $skiptoken is not valid: it was not issued for this query. Start again from the first page."}

// orderFingerprint names an order so a token issued for one order is not
// accepted for another.
func orderFingerprint(order []store.Order) string {
	var sb strings.Builder
	for i, o := range order {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(o.Prop.Name)
		if o.Desc {
			sb.WriteString(" desc")
		}
	}
	return sb.String()
}

func encodeSkipToken(c *store.Cursor, order []store.Order) string {
	t := skipToken{Order: orderFingerprint(order), Seq: c.Seq}
	for i, v := range c.Keys {
		var raw []byte
		switch {
		case v.Null:
			raw = []byte("null")
		case order[i].Prop.Type == extdir.TypeDateTimeOffset:
			raw, _ = json.Marshal(v.Time.Unix())
		case order[i].Prop.Type == extdir.TypeBoolean:
			raw, _ = json.Marshal(v.Bool)
		default:
			raw, _ = json.Marshal(v.Str)
		}
		t.Keys = append(t.Keys, raw)
	}
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeSkipToken(s string, order []store.Order) (*store.Cursor, error) {
	if len(s) > 4096 {
		return nil, errBadSkipToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadSkipToken
	}
	var t skipToken
	if err := json.Unmarshal(raw, &t); err != nil || t.Order != orderFingerprint(order) || len(t.Keys) != len(order) || t.Seq < 0 {
		return nil, errBadSkipToken
	}
	c := &store.Cursor{Seq: t.Seq}
	for i, k := range t.Keys {
		var v extdir.Value
		if string(k) == "null" {
			v.Null = true
		} else {
			var err error
			switch order[i].Prop.Type {
			case extdir.TypeDateTimeOffset:
				var unix int64
				err = json.Unmarshal(k, &unix)
				v.Time = time.Unix(unix, 0).UTC()
			case extdir.TypeBoolean:
				err = json.Unmarshal(k, &v.Bool)
			default:
				err = json.Unmarshal(k, &v.Str)
			}
			if err != nil {
				return nil, errBadSkipToken
			}
		}
		c.Keys = append(c.Keys, v)
	}
	return c, nil
}

// nextLink is the request URL with every option kept and the $skiptoken
// replaced.
func nextLink(base, path, rawQuery, token string) string {
	var sb strings.Builder
	sb.WriteString(base)
	sb.WriteString(path)
	sep := byte('?')
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k := strings.ToLower(strings.TrimPrefix(key, "$")); k == "skiptoken" || k == "%24skiptoken" {
			continue
		}
		sb.WriteByte(sep)
		sb.WriteString(part)
		sep = '&'
	}
	sb.WriteByte(sep)
	sb.WriteString("$skiptoken=")
	sb.WriteString(token)
	return sb.String()
}
