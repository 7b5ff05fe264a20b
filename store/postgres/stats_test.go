package postgres

import (
	"testing"

	"github.com/extdir/extdir/store/conformance"
)

func TestStats(t *testing.T) {
	conformance.RunStats(t, openTest(t, schemaURL(t)))
}
