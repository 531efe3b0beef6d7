package main

import (
	"fmt"
	"os"
	"strings"
)

// rewrite replaces the text between <!-- begin NAME --> and <!-- end NAME -->
// for every NAME in sections. A section without its markers is an error, so
// a renamed marker cannot silently leave stale numbers on the page.
func rewrite(path string, sections map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	page := string(data)
	for name, text := range sections {
		begin := "<!-- begin " + name + " -->\n"
		end := "<!-- end " + name + " -->"
		i := strings.Index(page, begin)
		j := strings.Index(page, end)
		if i < 0 || j < i {
			return fmt.Errorf("%s: markers for section %q not found", path, name)
		}
		page = page[:i+len(begin)] + text + "\n" + page[j:]
	}
	return os.WriteFile(path, []byte(page), 0o644)
}
