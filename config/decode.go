package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// decode reads TOML text into c. A syntax error stops it, with the line of
// the real cause. A value of the wrong type is reported in words that name
// the key and what it must be, and decoding goes on without that key, so
// one type error never hides the file's other problems. Dropped names the
// keys so reported (as errors name them), so that their own later checks
// stay quiet.
func decode(text string, c *Config) (md toml.MetaData, problems []error, dropped []string, err error) {
	raw := map[string]any{}
	if _, err := toml.Decode(text, &raw); err != nil {
		return toml.MetaData{}, nil, nil, syntaxError(text, err)
	}
	cur := text
	var lines []int // of each problem, to report them in file order (decoding order is a map's)
	for range 100 { // each round drops one key; a file has fewer bad keys than this
		*c = Config{}
		md, err = toml.Decode(cur, c)
		if err == nil {
			sortByLine(problems, lines)
			return md, problems, dropped, nil
		}
		key, msg := decodeProblem(err)
		next, where, val, ok := dropBad(cur, key, msg)
		if !ok {
			return toml.MetaData{}, problems, dropped, err // not a problem of one key: say it as the library does
		}
		line, n := "", lineOf(text, where)
		if n > 0 {
			line = fmt.Sprintf("line %d: ", n)
		}
		lines = append(lines, n)
		problems = append(problems, fmt.Errorf("%s%s = %s: %s", line, where, showValue(val), msg))
		dropped = append(dropped, where)
		cur = next
	}
	return toml.MetaData{}, problems, dropped, errors.New("too many values of the wrong type")
}

// dropBad removes the value the decoding error (key, msg) is about from the
// document cur, and returns the document without it. In an array of tables
// the key is in several elements: it drops each in turn until the error
// goes away, so that a good value is never blamed for a bad one.
func dropBad(cur, key, msg string) (next, where string, val any, ok bool) {
	first := ""
	var firstWhere string
	var firstVal any
	for n := 0; ; n++ {
		doc := map[string]any{}
		if _, err := toml.Decode(cur, &doc); err != nil {
			return "", "", nil, false
		}
		w, v, found := dropKey(doc, key, n)
		if !found {
			break
		}
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(doc); err != nil {
			return "", "", nil, false
		}
		if n == 0 {
			first, firstWhere, firstVal = b.String(), w, v
		}
		_, err := toml.Decode(b.String(), &Config{})
		if err == nil {
			return b.String(), w, v, true
		}
		if k2, m2 := decodeProblem(err); k2 != key || m2 != msg {
			return b.String(), w, v, true
		}
	}
	if firstWhere == "" {
		return "", "", nil, false
	}
	return first, firstWhere, firstVal, true // the same problem elsewhere too: the next round reports it
}

var (
	reLastKey  = regexp.MustCompile(`\(last key "([^"]*)"\): (.*)$`)
	reBadType  = regexp.MustCompile(`incompatible types: TOML value has type ([^;]+); destination has type (.+)$`)
	reOutRange = regexp.MustCompile(`^(-?\d+) is out of range for (\w+)$`)
)

// decodeProblem names the key a decoding error is about and says what is
// wrong in an operator's words.
func decodeProblem(err error) (key, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key, msg = pe.LastKey, pe.Message
	} else if m := reLastKey.FindStringSubmatch(err.Error()); m != nil {
		key, msg = m[1], m[2]
	} else {
		return "", err.Error()
	}
	if m := reBadType.FindStringSubmatch(msg); m != nil {
		return key, fmt.Sprintf("must be %s, not %s", typeWords(m[2]), typeWords(m[1]))
	}
	if m := reOutRange.FindStringSubmatch(msg); m != nil {
		return key, "out of range"
	}
	return key, msg
}

// typeWords turns a Go or TOML type name from the decoder into words.
func typeWords(t string) string {
	switch {
	case t == "integer" || strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "float":
		return "a number"
	case strings.HasPrefix(t, "float"):
		return "a number with a fraction"
	case t == "string" || strings.HasPrefix(t, "primitive"):
		return "a string"
	case t == "bool":
		return "true or false"
	case t == "slice" || t == "array" || strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "struct" || t == "map" || strings.HasPrefix(t, "map["):
		return "a table"
	case strings.Contains(t, "time"):
		return "a date or time"
	}
	return t
}

// dropKey removes the nth occurrence (counting through arrays of tables)
// of the dotted key from the raw document, and returns where it was (with
// the index of an array of tables) and its value.
func dropKey(raw map[string]any, key string, nth int) (string, any, bool) {
	parts := strings.Split(key, ".")
	seen := 0
	var walk func(m map[string]any, i int, where string) (string, any, bool)
	walk = func(m map[string]any, i int, where string) (string, any, bool) {
		name := parts[i]
		if where != "" {
			where += "."
		}
		where += name
		v, ok := m[name]
		if !ok {
			return "", nil, false
		}
		if i == len(parts)-1 {
			if seen < nth {
				seen++
				return "", nil, false
			}
			delete(m, name)
			return where, v, true
		}
		switch v := v.(type) {
		case map[string]any:
			return walk(v, i+1, where)
		case []map[string]any:
			for j, e := range v {
				if w, val, ok := walk(e, i+1, fmt.Sprintf("%s[%d]", where, j)); ok {
					return w, val, true
				}
			}
		}
		return "", nil, false
	}
	return walk(raw, 0, "")
}

func showValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = showValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{…}"
	}
	return fmt.Sprint(v)
}

// lineOf finds the line that sets a key as errors name it
// ("Members.peers", "Records[1].ttl"), looking only inside the table (and
// the element of an array of tables) the key belongs to.
func lineOf(text, where string) int {
	table, name := "", where
	if i := strings.LastIndex(where, "."); i >= 0 {
		table, name = where[:i], where[i+1:]
	}
	index := 0
	if i := strings.Index(table, "["); i >= 0 && strings.HasSuffix(table, "]") {
		index, _ = strconv.Atoi(table[i+1 : len(table)-1])
		table = table[:i]
	}
	cur, count := "", map[string]int{}
	for n, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") {
			cur = strings.TrimSpace(strings.Trim(strings.SplitN(l, "#", 2)[0], "[] \t"))
			count[cur]++
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if ok && cur == table && (table == "" || count[cur] == index+1) && strings.Trim(strings.TrimSpace(k), `"'`) == name {
			return n + 1
		}
	}
	return 0
}

// syntaxError words a TOML syntax error with its line and column, naming
// the key where the library does not: the line where an unclosed list
// began, and the key of a number out of range.
func syntaxError(text string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	line, col, msg := pe.Position.Line, column(text, pe.Position), pe.Message
	lines := strings.Split(text, "\n")
	if strings.Contains(msg, "array terminator") {
		if start, key := openList(lines, line); start > 0 {
			return fmt.Errorf("line %d: the list of %s is not closed: add ']' after its last value (the parser stopped at line %d, column %d: %s)", start, key, line, col, msg)
		}
	}
	if m := reOutRange.FindStringSubmatch(msg); m != nil && line >= 1 && line <= len(lines) {
		if k, _, ok := strings.Cut(lines[line-1], "="); ok {
			return fmt.Errorf("line %d, column %d: %s = %s: out of range", line, col, strings.TrimSpace(k), m[1])
		}
	}
	return fmt.Errorf("line %d, column %d: %s", line, col, msg)
}

// column is the 1-based column of a parse error, counted from its byte
// offset: the library's own Col counts from the start of the previous line
// when the error follows a newline inside a list (column 29 of the
// 9-character line "[Members]").
func column(text string, p toml.Position) int {
	if p.Start < 0 || p.Start > len(text) {
		return p.Col
	}
	return p.Start - strings.LastIndexByte(text[:p.Start], '\n')
}

// openList finds, before line stop (1-based), the line of the last
// "key = [" whose list was still open, and its key.
func openList(lines []string, stop int) (int, string) {
	depth, start, key := 0, 0, ""
	for n := 0; n < stop-1 && n < len(lines); n++ {
		l := lines[n]
		inStr := rune(0)
		for i, r := range l {
			switch {
			case inStr != 0:
				if r == inStr {
					inStr = 0
				}
			case r == '"' || r == '\'':
				inStr = r
			case r == '#':
				goto next
			case r == '[':
				if depth == 0 {
					if k, _, ok := strings.Cut(l[:i], "="); ok {
						start, key = n+1, strings.TrimSpace(k)
					} else {
						break // a table header, not a list
					}
				}
				if start > 0 {
					depth++
				}
			case r == ']':
				if depth > 0 {
					depth--
				}
			}
		}
	next:
	}
	if depth > 0 {
		return start, key
	}
	return 0, ""
}

// plural writes a count with its noun: "1 configured peer", "2 configured peers".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// aboutDropped reports whether a validation error is about a key already
// reported as the wrong type (its default would only repeat the problem).
func aboutDropped(err error, dropped []string) bool {
	msg := err.Error()
	for _, d := range dropped {
		if strings.HasPrefix(msg, d+" ") || strings.HasPrefix(msg, d+":") {
			return true
		}
	}
	return false
}

// sortByLine orders problems by the line each is on.
func sortByLine(problems []error, lines []int) {
	idx := make([]int, len(problems))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return lines[a] - lines[b] })
	sorted := make([]error, len(problems))
	for i, j := range idx {
		sorted[i] = problems[j]
	}
	copy(problems, sorted)
}
