package doccheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// key is one TOML key goavail reads: its dotted path (for messages) and
// whether it names a table ([Members], [[Records]]) rather than a value.
type key struct {
	path  string
	table bool
}

// name is the key as written in the file: the last part of its path.
func (k key) name() string {
	return k.path[strings.LastIndex(k.path, ".")+1:]
}

// tomlKeys walks a config struct type as BurntSushi/toml decodes it: a
// field's key is its toml tag (or its name), "-" and unexported fields are
// skipped, an embedded struct without a tag lends its keys to the parent,
// and a struct, a pointer to one or a slice of them is a table whose keys
// follow.
func tomlKeys(t reflect.Type, prefix string) []key {
	var out []key
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array {
			ft = ft.Elem()
		}
		isStruct := ft.Kind() == reflect.Struct && !isLeaf(ft)
		if f.Anonymous && tag == "" && isStruct {
			out = append(out, tomlKeys(ft, prefix)...)
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		p := prefix + tag
		out = append(out, key{path: p, table: isStruct})
		if isStruct {
			out = append(out, tomlKeys(ft, p+".")...)
		}
	}
	return out
}

// isLeaf reports whether a struct type is decoded as one value (it reads
// TOML text itself, like time.Time) rather than as a table.
func isLeaf(t reflect.Type) bool {
	type textUnmarshaler interface{ UnmarshalText([]byte) error }
	type tomlUnmarshaler interface{ UnmarshalTOML(any) error }
	pt := reflect.PointerTo(t)
	return pt.Implements(reflect.TypeFor[textUnmarshaler]()) || pt.Implements(reflect.TypeFor[tomlUnmarshaler]())
}

// handKeys finds the keys goavail knows without decoding them: the
// original goavail's keys that unknownKey (in package config) answers with
// a hint of their own, by the string literals it compares a key with.
func handKeys(fsys fs.FS, dir, fn string) ([]key, error) {
	names, err := fs.Glob(fsys, dir+"/*.go")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	fset := token.NewFileSet()
	var out []key
	found := false
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		file, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != fn || fd.Recv != nil {
				continue
			}
			found = true
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				be, ok := n.(*ast.BinaryExpr)
				if !ok || be.Op != token.EQL {
					return true
				}
				for _, side := range []ast.Expr{be.X, be.Y} {
					lit, ok := side.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						continue
					}
					// k[0] == "Route53" compares a table's name.
					_, indexed := be.X.(*ast.IndexExpr)
					out = append(out, key{path: s, table: indexed})
				}
				return true
			})
		}
	}
	if !found {
		return nil, fmt.Errorf("no function %s in %s: it answers the original goavail's keys; update this test to where it went", fn, dir)
	}
	return out, nil
}

var reSpan = regexp.MustCompile("`([^`]+)`")

// undocumented returns the keys that page does not name in a code span:
// a key as `key`, a table as `Name`, `[Name]`, `[[Name]]` or with its
// parents, `[[Records.Checks]]`. Fenced code blocks do not count.
func undocumented(page string, keys []key) []string {
	spans := map[string]bool{}
	for _, l := range prose(page) {
		for _, m := range reSpan.FindAllStringSubmatch(l.text, -1) {
			spans[m[1]] = true
		}
	}
	var missing []string
	for _, k := range keys {
		n := k.name()
		ok := spans[n]
		if k.table {
			for s := range spans {
				inner := strings.Trim(s, "[]")
				if s != inner && (inner == n || strings.HasSuffix(inner, "."+n)) {
					ok = true
					break
				}
			}
		}
		if !ok {
			missing = append(missing, k.path)
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}
