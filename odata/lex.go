package odata

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/extdir/extdir"
)

// tokenKind classifies a token of a $filter or $orderby expression.
type tokenKind uint8

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokInt
	tokGUID
	tokDateTime
	tokLParen
	tokRParen
	tokComma
	tokSlash
	tokColon
)

// token is one lexeme. pos is its byte offset in the expression; errors turn
// it into a character offset.
type token struct {
	kind tokenKind
	pos  int
	text string // the source text, as written
	lit  Literal
}

// describe names the token for an error message.
func (t token) describe() string {
	if t.kind == tokEOF {
		return "the end of the expression"
	}
	text := t.text
	if utf8.RuneCountInString(text) > 40 {
		r := []rune(text)
		text = string(r[:40]) + "…"
	}
	if t.kind == tokString {
		return "the string " + text
	}
	return "'" + text + "'"
}

// is reports whether t is the keyword kw. OData 4.01 (URL Conventions
// §5.1.1) has services accept operators and built-in function names in any
// case, and Graph does (its own documentation writes startsWith and
// endsWith), so keywords compare case-insensitively. Property names do not:
// the property table matches them exactly.
func (t token) is(kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

// lexError is a syntax error found while scanning, before it is dressed
// with the expression.
type lexError struct {
	pos int
	msg string
}

// tokenize splits s into tokens, ending with tokEOF.
func tokenize(s string) ([]token, *lexError) {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return append(toks, token{kind: tokEOF, pos: i}), nil
		}
		start := i
		c := s[i]
		switch {
		case c == '(':
			toks = append(toks, token{kind: tokLParen, pos: i, text: "("})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen, pos: i, text: ")"})
			i++
		case c == ',':
			toks = append(toks, token{kind: tokComma, pos: i, text: ","})
			i++
		case c == '/':
			toks = append(toks, token{kind: tokSlash, pos: i, text: "/"})
			i++
		case c == ':':
			// Only a lambda's range variable is followed by one; the colons
			// of a DateTimeOffset are inside its value token.
			toks = append(toks, token{kind: tokColon, pos: i, text: ":"})
			i++
		case c == '\'':
			str, end, err := scanString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, pos: start, text: s[start:end], lit: Literal{Kind: LitString, Str: str}})
			i = end
		case isGUIDAt(s, i):
			text := s[i : i+36]
			toks = append(toks, token{kind: tokGUID, pos: start, text: text, lit: Literal{Kind: LitGUID, Str: strings.ToLower(text)}})
			i += 36
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && isValueChar(s[i]) {
				i++
			}
			tok, err := numberOrDate(s[start:i], start)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
		case isIdentStart(c):
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
			toks = append(toks, token{kind: tokIdent, pos: start, text: s[start:i]})
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			what := "'" + string(r) + "'"
			if r < 0x20 || r == 0x7f {
				what = "U+" + strings.ToUpper(strconv.FormatInt(int64(r), 16))
			}
			return nil, &lexError{pos: i, msg: "unexpected character " + what}
		}
	}
}

// scanString reads the string literal whose opening quote is at s[i] and
// returns its value and the offset just after the closing quote. Inside, a
// quote is written as two quotes in a row, as OData escapes it.
func scanString(s string, i int) (string, int, *lexError) {
	var b strings.Builder
	j := i + 1
	for {
		k := strings.IndexAny(s[j:], "'\x00")
		if k < 0 {
			return "", 0, &lexError{pos: i, msg: "unterminated string literal"}
		}
		b.WriteString(s[j : j+k])
		j += k
		if s[j] == 0 {
			// PostgreSQL text cannot hold NUL; refusing it here keeps every
			// backend's answer the same.
			return "", 0, &lexError{pos: j, msg: "a string literal cannot contain the character U+0000"}
		}
		if j+1 < len(s) && s[j+1] == '\'' {
			b.WriteByte('\'')
			j += 2
			continue
		}
		return b.String(), j + 1, nil
	}
}

// numberOrDate classifies a run that starts like a number: an integer or a
// DateTimeOffset.
func numberOrDate(text string, pos int) (token, *lexError) {
	digits := strings.TrimPrefix(text, "-")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return token{}, &lexError{pos: pos, msg: "the integer " + text + " is out of range"}
		}
		return token{kind: tokInt, pos: pos, text: text, lit: Literal{Kind: LitInt, Int: n}}, nil
	}
	if strings.ContainsAny(text, "Tt") {
		t, ok := parseDateTimeOffset(text)
		if !ok {
			return token{}, &lexError{pos: pos, msg: "'" + text + "' is not a valid DateTimeOffset; expected a value such as 2024-01-01T00:00:00Z or 2024-01-01T00:00:00+02:00 (in a URL, write + as %2B)"}
		}
		return token{kind: tokDateTime, pos: pos, text: text, lit: Literal{Kind: LitDateTimeOffset, Time: t}}, nil
	}
	return token{}, &lexError{pos: pos, msg: "'" + text + "' is not a valid literal; expected an integer or a DateTimeOffset such as 2024-01-01T00:00:00Z"}
}

// parseDateTimeOffset accepts OData's dateTimeOffsetValue: seconds and their
// fraction are optional, the offset is Z or ±hh:mm. The value is kept in UTC,
// which is what makes the printed form canonical; instants outside years
// 1..9999 in UTC are refused because they could not be printed back as a
// four-digit year.
func parseDateTimeOffset(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04Z07:00", s)
		if err != nil {
			return time.Time{}, false
		}
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// isGUIDAt reports whether a GUID literal (8-4-4-4-12 hex digits) starts at
// s[i] and is not the beginning of a longer word.
func isGUIDAt(s string, i int) bool {
	if len(s)-i < 36 {
		return false
	}
	for k := 0; k < 36; k++ {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return i+36 == len(s) || !isValueChar(s[i+36])
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

// isValueChar is a character that may continue a number, GUID or
// DateTimeOffset literal.
func isValueChar(c byte) bool {
	return isIdentChar(c) || c == '-' || c == '+' || c == ':' || c == '.'
}

// syntaxError is the EBadRequest answer to a malformed option value. The
// position is a character (not byte) offset from 0, as Graph reports it.
func syntaxError(expr string, bytePos int, msg string) *extdir.Error {
	if bytePos > len(expr) {
		bytePos = len(expr)
	}
	pos := utf8.RuneCountInString(expr[:bytePos])
	return extdir.Errorf(extdir.EBadRequest, "Syntax error at position %d in '%s': %s.", pos, expr, msg)
}

// checkInput applies the limits every option value shares: bounded length
// and valid UTF-8 (which PostgreSQL would otherwise refuse at bind time).
func checkInput(option, s string, limit int) *extdir.Error {
	if limit > 0 && len(s) > limit {
		return extdir.Errorf(extdir.EBadRequest, "The %s expression is %d bytes long; the limit is %d.", option, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return extdir.Errorf(extdir.EBadRequest, "The %s expression is not valid UTF-8.", option)
	}
	return nil
}
