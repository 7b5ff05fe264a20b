// Command genschema writes the web console's schema.js (go generate
// ./console); see package schemagen.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/extdir/extdir/console/internal/schemagen"
)

func main() {
	out := flag.String("o", "web/schema.js", "file to write")
	flag.Parse()
	b, err := schemagen.Generate()
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}
