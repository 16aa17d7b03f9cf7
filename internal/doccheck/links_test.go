package doccheck

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"unicode"
)

// docFiles lists the Markdown files whose links are checked: README.md and
// every page under docs/.
func docFiles(fsys fs.FS) ([]string, error) {
	files := []string{"README.md"}
	pages, err := fs.Glob(fsys, "docs/*.md")
	if err != nil {
		return nil, fmt.Errorf("list docs/*.md: %w", err)
	}
	return append(files, pages...), nil
}

var (
	reHeading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	reLink    = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	reCode    = regexp.MustCompile("`+[^`]*`+")
	reLinkTxt = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// slug is the anchor GitHub gives a heading: the text as rendered (inline
// code and emphasis marks dropped, a link reduced to its text), lower case,
// every character that is not a letter, a digit, a space, '-' or '_'
// removed, and spaces turned into '-'.
func slug(heading string) string {
	s := reLinkTxt.ReplaceAllString(heading, "$1")
	s = strings.NewReplacer("`", "", "*", "").Replace(s)
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// line is one line of a Markdown file outside fenced code blocks.
type line struct {
	n    int // 1-based
	text string
}

// prose returns the lines of md that are not inside a fenced code block
// (``` or ~~~), where a '#' starts a comment, not a heading.
func prose(md string) []line {
	var out []line
	fence := ""
	for i, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		out = append(out, line{i + 1, l})
	}
	return out
}

// anchors returns every anchor the headings of md define. A heading whose
// slug is taken already gets -1, -2, … as GitHub numbers duplicates.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range prose(md) {
		m := reHeading.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		s := slug(m[2])
		a := s
		if n := seen[s]; n > 0 {
			a = fmt.Sprintf("%s-%d", s, n)
		}
		seen[s]++
		out[a] = true
	}
	return out
}

// links returns the target of every inline link and image in md, with its
// line, leaving out code (fenced blocks and `spans`).
func links(md string) []line {
	var out []line
	for _, l := range prose(md) {
		text := reCode.ReplaceAllString(l.text, "")
		for _, m := range reLink.FindAllStringSubmatch(text, -1) {
			out = append(out, line{l.n, m[1]})
		}
	}
	return out
}

// external reports whether a link target leaves the repository (a URL or
// an e-mail address); those are not checked.
func external(target string) bool {
	if strings.HasPrefix(target, "//") {
		return true
	}
	if i := strings.Index(target, ":"); i > 0 {
		scheme := target[:i]
		return !strings.ContainsAny(scheme, "/#.")
	}
	return false
}

// brokenLinks checks every relative link and #anchor of the Markdown files
// in fsys, and returns one "file:line: …" problem per broken link.
func brokenLinks(fsys fs.FS, files []string) ([]string, error) {
	texts := map[string]string{}
	read := func(name string) (string, error) {
		if t, ok := texts[name]; ok {
			return t, nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", err
		}
		texts[name] = string(b)
		return string(b), nil
	}
	var problems []string
	for _, f := range files {
		md, err := read(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		for _, l := range links(md) {
			target := l.text
			if external(target) {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := f
			if file != "" {
				dest = path.Clean(path.Join(path.Dir(f), file))
				if dest == ".." || strings.HasPrefix(dest, "../") || path.IsAbs(file) {
					problems = append(problems, fmt.Sprintf("%s:%d: link %q leaves the repository", f, l.n, target))
					continue
				}
				if _, err := fs.Stat(fsys, dest); err != nil {
					problems = append(problems, fmt.Sprintf("%s:%d: link %q: no file %s", f, l.n, target, dest))
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				problems = append(problems, fmt.Sprintf("%s:%d: link %q: an anchor into %s, which is not Markdown", f, l.n, target, dest))
				continue
			}
			text, err := read(dest)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", dest, err)
			}
			if !anchors(text)[anchor] {
				problems = append(problems, fmt.Sprintf("%s:%d: link %q: %s has no heading with the anchor #%s", f, l.n, target, dest, anchor))
			}
		}
	}
	return problems, nil
}
