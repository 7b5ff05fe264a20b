package odata

// ParseFilterUnbounded parses like ParseFilter without the length limit. The
// canonical form of an expression close to the limit may be longer than the
// expression (it adds spaces and doubles quotes), and the round-trip tests
// must still read it back.
func ParseFilterUnbounded(s string) (Expr, error) { return parseFilter(s, 0) }
