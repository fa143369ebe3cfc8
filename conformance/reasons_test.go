package conformance

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

const reasonsFile = "reasons.txt"

// A reasonKind says whose behaviour a failing script shows.
type reasonKind string

const (
	// kindBug: tundra does what the RFC does not allow; fix it in the
	// TCP work.
	kindBug reasonKind = "bug"
	// kindMissing: tundra lacks the feature the script uses (ECN, a socket
	// option); nothing it does is wrong.
	kindMissing reasonKind = "missing"
	// kindRunner: the runner or its stack adapter cannot express what the
	// script does (TCP MD5, FreeBSD's UDP encapsulation).
	kindRunner reasonKind = "runner"
	// kindFreeBSD: FreeBSD's own choice where the RFCs allow tundra's too;
	// the reason quotes the text that allows both.
	kindFreeBSD reasonKind = "freebsd"
)

// kindOrder is the order kinds are listed in docs/conformance.md, with
// what each means there.
var kindOrder = []struct {
	kind    reasonKind
	meaning string
}{
	{kindBug, "tundra is wrong: to be fixed in the TCP work"},
	{kindMissing, "tundra lacks the feature the script uses"},
	{kindRunner, "the runner or its adapter cannot express the script"},
	{kindFreeBSD, "FreeBSD's own choice; the RFCs allow tundra's too"},
}

// A reason explains a group of failing scripts: those whose path matches
// one of its globs and, if first is set, whose first difference matches
// that regular expression. The first reason in the file that matches a
// script is its reason.
type reason struct {
	line  int            // where the block starts in reasons.txt
	globs []string       // path.Match patterns on the script's path
	first *regexp.Regexp // on the first difference, or nil
	title string         // a line that names the difference
	kind  reasonKind
	why   string
}

func (r *reason) matches(script, firstDifference string) bool {
	if r.first != nil && !r.first.MatchString(firstDifference) {
		return false
	}
	return r.matchesPath(script)
}

// matchesPath reports whether one of the globs matches script.
func (r *reason) matchesPath(script string) bool {
	for _, g := range r.globs {
		if ok, _ := path.Match(g, script); ok {
			return true
		}
	}
	return false
}

// parseReasons reads reasons.txt: blocks separated by blank lines, each
// with the keys match (globs), first (optional, a regular expression),
// title, kind and why; a line starting with white space continues a match or a
// why; "#" starts a comment line.
func parseReasons(text string) ([]*reason, error) {
	var out []*reason
	var cur *reason
	var lastKey string
	finish := func() error {
		if cur == nil {
			return nil
		}
		switch {
		case len(cur.globs) == 0:
			return fmt.Errorf("%s:%d: block without match", reasonsFile, cur.line)
		case cur.title == "":
			return fmt.Errorf("%s:%d: block without title", reasonsFile, cur.line)
		case cur.why == "":
			return fmt.Errorf("%s:%d: block without why", reasonsFile, cur.line)
		}
		known := false
		for _, k := range kindOrder {
			known = known || k.kind == cur.kind
		}
		if !known {
			return fmt.Errorf("%s:%d: kind %q is not one of bug, missing, runner, freebsd", reasonsFile, cur.line, cur.kind)
		}
		for _, g := range cur.globs {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("%s:%d: pattern %q: %v", reasonsFile, cur.line, g, err)
			}
		}
		out = append(out, cur)
		cur = nil
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			continue
		case trimmed == "":
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil || lastKey == "" {
				return nil, fmt.Errorf("%s:%d: continuation line outside a block", reasonsFile, n)
			}
			switch lastKey {
			case "why":
				cur.why += " " + trimmed
			case "match":
				cur.globs = append(cur.globs, strings.Fields(trimmed)...)
			default:
				return nil, fmt.Errorf("%s:%d: %s takes one line", reasonsFile, n, lastKey)
			}
			continue
		}
		key, value, _ := strings.Cut(trimmed, " ")
		value = strings.TrimSpace(value)
		if cur == nil {
			cur = &reason{line: n}
		}
		switch key {
		case "match":
			cur.globs = append(cur.globs, strings.Fields(value)...)
		case "first":
			re, err := regexp.Compile(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: first: %v", reasonsFile, n, err)
			}
			cur.first = re
		case "title":
			cur.title = value
		case "kind":
			cur.kind = reasonKind(value)
		case "why":
			cur.why = value
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q (match, first, title, kind, why)", reasonsFile, n, key)
		}
		lastKey = key
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}

func readReasons(t *testing.T) []*reason {
	t.Helper()
	b, err := os.ReadFile(reasonsFile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := parseReasons(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// reasonFor returns the first reason matching a failing script, or nil.
func reasonFor(rs []*reason, script, firstDifference string) *reason {
	for _, r := range rs {
		if r.matches(script, firstDifference) {
			return r
		}
	}
	return nil
}

func TestParseReasons(t *testing.T) {
	rs, err := parseReasons(`# a comment
match a/*.pkt
      b/x.pkt
first SO_ERROR is \d
title A
kind  bug
why   one
      two

match c/*
title C
kind freebsd
why three
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].why != "one two" || rs[0].line != 2 || rs[0].title != "A" || rs[1].kind != kindFreeBSD || len(rs[0].globs) != 2 {
		t.Fatalf("parsed %+v %+v", rs[0], rs[1])
	}
	for _, c := range []struct {
		script, first string
		want          *reason
	}{
		{"a/1.pkt", "line 3: SO_ERROR is 0", rs[0]},
		{"b/x.pkt", "SO_ERROR is 1", rs[0]},
		{"b/x.pkt", "SO_ERROR is x", nil},
		{"a/1.pkt", "flags", nil},
		{"a/b/1.pkt", "SO_ERROR is 0", nil}, // * stays in one path element
		{"c/d", "anything", rs[1]},
	} {
		if got := reasonFor(rs, c.script, c.first); got != c.want {
			t.Errorf("reasonFor(%q, %q) = %+v, want %+v", c.script, c.first, got, c.want)
		}
	}
	for name, bad := range map[string]string{
		"no match":     "title t\nkind bug\nwhy x\n",
		"no title":     "match a\nkind bug\nwhy x\n",
		"no why":       "match a\ntitle t\nkind bug\n",
		"unknown kind": "match a\ntitle t\nkind odd\nwhy x\n",
		"unknown key":  "match a\ntitle t\nkind bug\nwhy x\nwho y\n",
		"bad glob":     "match [\ntitle t\nkind bug\nwhy x\n",
		"bad regexp":   "match a\nfirst (\ntitle t\nkind bug\nwhy x\n",
		"stray indent": "  x\n",
	} {
		if _, err := parseReasons(bad); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
