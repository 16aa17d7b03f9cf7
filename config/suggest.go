package config

import (
	"reflect"
	"strings"
)

// knownKeys lists every key goavail reads, as dotted paths ("interval",
// "Members.peers", "Records.Checks.port"), from the toml tags of Config.
func knownKeys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			ft := f.Type
			if f.Anonymous && tag == "" && ft.Kind() == reflect.Struct {
				walk(ft, prefix) // promoted fields
				continue
			}
			if tag == "" {
				continue
			}
			out = append(out, prefix+tag)
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() && ft.Name() != "Duration" {
				walk(ft, prefix+tag+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// suggestKey returns the known key closest to the unknown dotted key name
// (the same block first), and "" when none is close enough to be a typo:
// at most 2 edits, and fewer than half the name's length.
func suggestKey(name string) string {
	parent, last := "", name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		parent, last = name[:i+1], name[i+1:]
	}
	best, bestD := "", 3
	for _, k := range knownKeys() {
		kp, kl := "", k
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			kp, kl = k[:i+1], k[i+1:]
		}
		d := editDistance(strings.ToLower(last), strings.ToLower(kl))
		if kp != parent {
			if d != 0 {
				continue // another block: only the very name, misplaced
			}
			d = 2 // the right name in the wrong block ranks after close typos
		}
		if d < bestD && 2*d < len(last) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, with a swap of
// two neighbours counted as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
