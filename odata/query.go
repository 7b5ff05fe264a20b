package odata

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/extdir/extdir"
)

// DefaultTop is the page size when $top is not given.
const DefaultTop = 100

// MaxTop is the largest $top Graph's directory accepts.
const MaxTop = 999

// Options are the system query options of one request, parsed and checked
// against the property table; nothing here has touched storage yet.
type Options struct {
	// Select lists the properties asked for, in request order; nil means all.
	Select []*extdir.Property
	// Top is the page size (DefaultTop when not given).
	Top int
	// SkipToken is the opaque continuation token of a nextLink, as given.
	SkipToken string
	// Filter is the checked $filter tree, ready for store/sqlfilter; nil
	// when absent or blank.
	Filter Expr
	// OrderBy is the resolved $orderby; nil when absent or blank.
	OrderBy []Order
	// Search is the parsed $search; nil when absent or blank.
	Search *Search
	// Count is $count=true.
	Count bool
}

// systemOptions are the options Graph knows; on beta the "$" is optional, so
// a parameter named like one of these is that option.
var systemOptions = map[string]bool{
	"select": true, "top": true, "skiptoken": true, "filter": true, "orderby": true,
	"count": true, "search": true, "skip": true, "expand": true, "format": true,
	"levels": true, "apply": true, "compute": true, "index": true, "schemaversion": true,
	"deltatoken": true, "id": true,
}

// OptionName returns the canonical name of a query parameter when it is a
// system query option ("$Top", "top" → "top"), or "" for a custom parameter.
func OptionName(param string) string {
	name := strings.ToLower(strings.TrimPrefix(param, "$"))
	if systemOptions[name] {
		return name
	}
	return ""
}

// EachOption calls fn with each system query option of a raw query string,
// by its canonical name, in order; custom parameters are skipped, as OData
// lets services do. A malformed or repeated option is an EBadRequest, and
// fn's first error is returned.
func EachOption(rawQuery string, fn func(name, value string) error) error {
	seen := make(map[string]bool, 4)
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(rawKey)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			return extdir.Errorf(extdir.EBadRequest, "The query string '%s' is not valid: it is not properly percent-encoded.", part)
		}
		name := OptionName(key)
		if name == "" {
			continue
		}
		if seen[name] {
			return extdir.Errorf(extdir.EBadRequest, "Query option '$%s' was specified more than once, but it must be specified at most once.", name)
		}
		seen[name] = true
		if err := fn(name, value); err != nil {
			return err
		}
	}
	return nil
}

// ParseOptions parses the raw query string of a request. Errors are
// *extdir.Error: EBadRequest for a malformed or repeated option or an
// unknown property in $select, EInvalid for options the directory refuses
// ($skip, $expand).
//
// $filter, $orderby and $search come back as trees, parsed in that order
// whatever their order in the query string, so that a request with several
// bad options always gets the same error. An option whose value is blank is
// no option, as clients that build URLs from empty settings expect.
func ParseOptions(rawQuery string, k extdir.Kind) (*Options, error) {
	o := &Options{Top: DefaultTop}
	if rawQuery == "" {
		return o, nil
	}
	var filter, orderBy, search string
	err := EachOption(rawQuery, func(name, value string) error {
		switch name {
		case "filter":
			filter = value
		case "orderby":
			orderBy = value
		case "search":
			search = value
		default:
			return o.set(name, value, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(filter) != "" {
		if o.Filter, err = Filter(filter, k); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(orderBy) != "" {
		if o.OrderBy, err = ParseOrderBy(orderBy, k); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(search) != "" {
		if o.Search, err = ParseSearch(search, k); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *Options) set(name, value string, k extdir.Kind) error {
	switch name {
	case "select":
		return o.parseSelect(value, k)
	case "top":
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n < 1 || n > MaxTop {
			return extdir.Errorf(extdir.EBadRequest, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", value, MaxTop)
		}
		o.Top = n
	case "skiptoken":
		o.SkipToken = value
	case "count":
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true":
			o.Count = true
		case "false":
			o.Count = false
		default:
			return extdir.Errorf(extdir.EBadRequest, "Invalid value '%s' for query option '$count': it must be true or false.", value)
		}
	case "skip", "expand":
		// Directory objects support neither, and these types have no
		// navigation properties to expand.
		return extdir.Errorf(extdir.EInvalid, "'$%s' is not supported by the service.", name)
	case "format":
		if v := strings.ToLower(strings.TrimSpace(value)); v != "json" && v != "application/json" {
			return extdir.Errorf(extdir.EBadRequest, "The format '%s' is not supported: only json is.", value)
		}
	default:
		return extdir.Errorf(extdir.EBadRequest, "Query option '$%s' is not supported for this resource.", name)
	}
	return nil
}

func (o *Options) parseSelect(value string, k extdir.Kind) error {
	seen := map[*extdir.Property]bool{}
	var list []*extdir.Property
	for item := range strings.SplitSeq(value, ",") {
		name := strings.TrimSpace(item)
		if name == "*" {
			o.Select = nil
			return nil
		}
		p, ok := extdir.PropertyByName(name)
		if !ok {
			if name == "" {
				return extdir.Errorf(extdir.EBadRequest, "Syntax error: an empty property name in '$select=%s'.", value)
			}
			return extdir.Errorf(extdir.EBadRequest, "Could not find a property named '%s' on type '%s'.", name, k.QualifiedName())
		}
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	o.Select = list
	return nil
}
