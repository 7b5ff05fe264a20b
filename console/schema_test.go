package console_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/extdir/extdir/console/internal/schemagen"
)

func TestSchemaIsGenerated(t *testing.T) {
	want, err := schemagen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("web", "schema.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("web/schema.js is not what the property table, the roles and the phone metadata give: run go generate ./console")
	}
}
