package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/extdir/extdir/auth"
)

// The configuration file (extdir serve --config extdir.toml). Its keys are
// the names of serve's flags, read off the flag set, so that a flag is a key
// the moment it is defined and no list can fall behind. One precedence for
// every setting: the command line, then the EXTDIR_* variable, then the
// file, then the default (loadFlags).
//
// Registrations (external issuers, clients of the built-in token endpoint,
// test users) may live in the file too, under [auth]: arrays of tables
// named and shaped as the members of --auth-config's JSON (auth.Config),
// key for key, so that one page (docs/authentication.md) describes both and
// a JSON file turns into TOML line for line:
//
//	[[auth.clients]]
//	client_id = "11111111-2222-3333-4444-555555555555"
//	tenant = "00000000-0000-0000-0000-0000000000e1"
//	roles = ["PendingExternalUserProfile.ReadWrite.All"]
//	secret_sha256 = "…"
//
// Every mistake names the key and its line: an unknown key with the valid
// key nearest to it, a value of the wrong type with the type wanted.

// configFlag is the flag of a command that reads a configuration file.
const configFlag = "config"

// settings says where the flags of a command got their values.
type settings struct {
	// source maps a flag that does not have its default to "flag", to the
	// name of its environment variable, or to the file and line.
	source map[string]string
	// file is the configuration file, nil without one.
	file *configFile
}

// applyConfigFile reads the --config file of fs, if the command has one and
// it is given, and sets every flag that the command line and the
// environment left alone.
func (st *settings) applyConfigFile(fs *flag.FlagSet) error {
	f := fs.Lookup(configFlag)
	if f == nil || f.Value.String() == "" {
		return nil
	}
	cf, err := readConfigFile(f.Value.String(), fs)
	if err != nil {
		return err
	}
	st.file = cf
	return cf.apply(fs, st.source)
}

// configFile is a configuration file read and checked against a flag set.
type configFile struct {
	path string
	// values holds each flag's value as its flag.Value parses it.
	values map[string]configValue
	// auth holds the registrations of [auth], nil when there is none.
	auth *auth.Config
}

type configValue struct {
	text string
	line int
}

// apply sets the flags of the file whose source is still empty, and
// records the file as their source.
func (cf *configFile) apply(fs *flag.FlagSet, source map[string]string) error {
	var errs configErrors
	for _, name := range cf.keys() {
		v := cf.values[name]
		if source[name] != "" {
			continue
		}
		if err := fs.Set(name, v.text); err != nil {
			errs.add(v.line, "%s: invalid value %q: %v", name, v.text, err)
			continue
		}
		source[name] = fmt.Sprintf("%s:%d", cf.path, v.line)
	}
	return errs.err(cf.path)
}

// keys lists the flags the file sets, in the order of its lines.
func (cf *configFile) keys() []string {
	keys := make([]string, 0, len(cf.values))
	for k := range cf.values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cf.values[a].line - cf.values[b].line })
	return keys
}

// readConfigFile parses the TOML file at path and checks every key against
// the flags of fs and the registrations of auth.Config.
func readConfigFile(path string, fs *flag.FlagSet) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &usageError{msg: "config: " + err.Error()}
	}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, &usageError{msg: fmt.Sprintf("%s:%d:%d: %s", path, row, col, strings.TrimPrefix(de.Error(), "toml: "))}
		}
		return nil, &usageError{msg: fmt.Sprintf("%s: %v", path, err)}
	}
	lines := keyLines(data)
	cf := &configFile{path: path, values: map[string]configValue{}}
	var errs configErrors
	for key, v := range doc {
		line := lines[key]
		switch fl := fs.Lookup(key); {
		case key == authKey:
			cf.auth = readAuth(v, lines, &errs)
		case key == configFlag:
			errs.add(line, "%s: a configuration file cannot name another one", key)
		case fl == nil:
			errs.add(line, "unknown key %q (did you mean %q?)", key, nearest(key, fileKeys(fs)))
		default:
			text, msg := flagText(fl, v)
			if msg != "" {
				errs.add(line, "%s: %s", key, msg)
				continue
			}
			cf.values[key] = configValue{text: text, line: line}
		}
	}
	if err := errs.err(path); err != nil {
		return nil, err
	}
	return cf, nil
}

// authKey is the table of registrations.
const authKey = "auth"

// fileKeys is every key a file may have at its top level.
func fileKeys(fs *flag.FlagSet) []string {
	keys := []string{authKey}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlag {
			keys = append(keys, f.Name)
		}
	})
	return keys
}

// flagKind is what a flag's values are: bool, int, uint, float, duration
// or string (every other flag.Value parses a string).
func flagKind(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "bool"
		case int, int64:
			return "int"
		case uint, uint64:
			return "uint"
		case float64:
			return "float"
		case time.Duration:
			return "duration"
		}
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "bool"
	}
	return "string"
}

// isList reports a flag that takes a comma-separated list, which the file
// may give as an array of strings.
func isList(f *flag.Flag) bool { return strings.Contains(f.Usage, "comma-separated") }

// flagText turns a TOML value into the text the flag parses, or says what
// the flag wants instead.
func flagText(f *flag.Flag, v any) (text, problem string) {
	switch kind := flagKind(f); kind {
	case "bool":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), ""
		}
		return "", "want true or false, not " + describe(v)
	case "int", "uint":
		if n, ok := v.(int64); ok && (kind == "int" || n >= 0) {
			return strconv.FormatInt(n, 10), ""
		}
		return "", "want a whole number, not " + describe(v)
	case "float":
		switch n := v.(type) {
		case float64:
			return strconv.FormatFloat(n, 'g', -1, 64), ""
		case int64:
			return strconv.FormatInt(n, 10), ""
		}
		return "", "want a number, not " + describe(v)
	case "duration":
		if s, ok := v.(string); ok {
			return s, ""
		}
		return "", fmt.Sprintf("want a duration as a string, such as %q, not %s", f.DefValue, describe(v))
	}
	switch s := v.(type) {
	case string:
		return s, ""
	case []any:
		if isList(f) {
			items := make([]string, len(s))
			for i, item := range s {
				str, ok := item.(string)
				if !ok {
					return "", "want an array of strings, not one holding " + describe(item)
				}
				items[i] = str
			}
			return strings.Join(items, ","), ""
		}
	}
	if isList(f) {
		return "", "want a string or an array of strings, not " + describe(v)
	}
	return "", "want a string, not " + describe(v)
}

// describe names the TOML type of a decoded value, and shows a scalar.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %g", x)
	case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		return "a date or time"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// authType is the shape of [auth]: auth.Config, member for member.
var authType = reflect.TypeFor[auth.Config]()

// entryRef finds the entry that an error of auth.Config.Check names.
var entryRef = regexp.MustCompile(`^(issuers|clients|users)\[(\d+)\]`)

// readAuth checks the [auth] table against auth.Config, then decodes and
// checks it as --auth-config's JSON is (auth.ParseConfig), so that the two
// accept the same registrations.
func readAuth(v any, lines map[string]int, errs *configErrors) *auth.Config {
	line := lines[authKey]
	tbl, ok := v.(map[string]any)
	if !ok {
		errs.add(line, "%s: want a table of issuers, clients and users, such as [[auth.clients]], not %s", authKey, describe(v))
		return nil
	}
	before := len(*errs)
	for name, list := range tbl {
		path := authKey + "." + name
		field, ok := jsonField(authType, name)
		if !ok {
			errs.add(lines[path], "unknown key %q (did you mean %q?)", path, authKey+"."+nearest(name, jsonNames(authType)))
			continue
		}
		items, ok := list.([]any)
		if !ok {
			errs.add(lines[path], "%s: want an array of tables, [[%s]], not %s", path, path, describe(list))
			continue
		}
		elem := field.Type.Elem()
		for i, item := range items {
			entry := fmt.Sprintf("%s[%d]", path, i)
			m, ok := item.(map[string]any)
			if !ok {
				errs.add(lines[path], "%s: want a table, not %s", entry, describe(item))
				continue
			}
			for key, value := range m {
				f, ok := jsonField(elem, key)
				if !ok {
					errs.add(lines[entry+"."+key], "unknown key %q in [[%s]] (did you mean %q?)", key, path, nearest(key, jsonNames(elem)))
					continue
				}
				if problem := authValueProblem(f.Type, value); problem != "" {
					errs.add(lines[entry+"."+key], "%s.%s: %s", entry, key, problem)
				}
			}
		}
	}
	if len(*errs) > before {
		return nil
	}
	raw, err := json.Marshal(tbl)
	if err != nil {
		errs.add(line, "%s: %v", authKey, err)
		return nil
	}
	conf, err := auth.ParseConfig(raw)
	if err != nil {
		l := line
		if m := entryRef.FindStringSubmatch(err.Error()); m != nil {
			if n, ok := lines[authKey+"."+m[1]+"["+m[2]+"]"]; ok {
				l = n
			}
		}
		if entryRef.MatchString(err.Error()) {
			errs.add(l, "%s.%v", authKey, err)
		} else {
			errs.add(l, "%s: %v", authKey, err)
		}
		return nil
	}
	return conf
}

// jsonName is the member name of a struct field, "" for none.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range fieldsOf(t) {
		if jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range fieldsOf(t) {
		names = append(names, jsonName(f))
	}
	return names
}

// fieldsOf yields the exported fields of t that have a JSON member name.
func fieldsOf(t reflect.Type) func(func(reflect.StructField) bool) {
	return func(yield func(reflect.StructField) bool) {
		for f := range t.Fields() {
			if f.IsExported() && jsonName(f) != "" && !yield(f) {
				return
			}
		}
	}
}

var (
	durationType = reflect.TypeFor[auth.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// authValueProblem says why a TOML value does not fit a registration's
// field of type t, or "".
func authValueProblem(t reflect.Type, v any) string {
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			return `want a duration as a string, such as "1h", not ` + describe(v)
		}
		if _, err := time.ParseDuration(s); err != nil {
			return err.Error()
		}
	case t == timeType:
		switch x := v.(type) {
		case time.Time:
		case string:
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				return "want a date-time with its offset, such as 2026-01-02T03:04:05Z"
			}
		default:
			return "want a date-time with its offset, such as 2026-01-02T03:04:05Z, not " + describe(v)
		}
	case t.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			return "want a string, not " + describe(v)
		}
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			return "want true or false, not " + describe(v)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		items, ok := v.([]any)
		if !ok {
			return "want an array of strings, not " + describe(v)
		}
		for _, item := range items {
			if _, ok := item.(string); !ok {
				return "want an array of strings, not one holding " + describe(item)
			}
		}
	}
	return ""
}

// keyLines maps every key path of a TOML document to the line that
// defines it: "listen", "auth.clients", "auth.clients[1]",
// "auth.clients[1].client_id". The document has been decoded already, so it
// parses.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset(data)
	record := func(path string, line int) {
		if _, ok := lines[path]; !ok {
			lines[path] = line
		}
	}
	table := ""
	tables := map[string]int{} // entries of each array of tables so far
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path, line := recordKey(&p, e, "", record)
			if e.Kind == unstable.ArrayTable {
				n := tables[path]
				tables[path]++
				path = fmt.Sprintf("%s[%d]", path, n)
				record(path, line)
			}
			table = path
		case unstable.KeyValue:
			recordKeyValue(&p, e, table, record)
		}
	}
	return lines
}

// recordKey records every prefix of the (dotted) key of e under prefix,
// and returns the whole path and its line.
func recordKey(p *unstable.Parser, e *unstable.Node, prefix string, record func(string, int)) (string, int) {
	path, line := prefix, 0
	it := e.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = p.Shape(k.Raw).Start.Line
		}
		if path != "" {
			path += "."
		}
		path += string(k.Data)
		record(path, line)
	}
	return path, line
}

// recordKeyValue records a key/value and the keys of inline tables in its
// value.
func recordKeyValue(p *unstable.Parser, e *unstable.Node, prefix string, record func(string, int)) {
	path, _ := recordKey(p, e, prefix, record)
	v := e.Value()
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			recordKeyValue(p, it.Node(), path, record)
		}
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); i++ {
			if item := it.Node(); item.Kind == unstable.InlineTable {
				inner := item.Children()
				for inner.Next() {
					recordKeyValue(p, inner.Node(), fmt.Sprintf("%s[%d]", path, i), record)
				}
			}
		}
	}
}

// nearest is the candidate closest to s in edit distance; ties go to the
// first in sorted order.
func nearest(s string, candidates []string) string {
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	best, bestDist := "", -1
	for _, c := range sorted {
		if d := editDistance(s, c); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configErrors collects the mistakes of a file, to report them all at once.
type configErrors []configError

type configError struct {
	line int
	msg  string
}

func (e *configErrors) add(line int, format string, args ...any) {
	*e = append(*e, configError{line: line, msg: fmt.Sprintf(format, args...)})
}

// err is the mistakes as one usage error, a line each, in file order.
func (e configErrors) err(path string) error {
	if len(e) == 0 {
		return nil
	}
	slices.SortStableFunc(e, func(a, b configError) int { return a.line - b.line })
	msgs := make([]string, len(e))
	for i, ce := range e {
		if ce.line > 0 {
			msgs[i] = fmt.Sprintf("%s:%d: %s", path, ce.line, ce.msg)
		} else {
			msgs[i] = fmt.Sprintf("%s: %s", path, ce.msg)
		}
	}
	return &usageError{msg: strings.Join(msgs, "\n")}
}
