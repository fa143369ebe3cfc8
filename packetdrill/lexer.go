package packetdrill

import (
	"fmt"
	"strconv"
	"strings"
)

// Pos is a position in a script: a 1-based line and a 1-based column
// counted in bytes.
type Pos struct {
	Line, Col int
}

// String formats the position as "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a lexical, syntax or semantic error in a script, with the file
// name and the position it was found at.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

// Error formats the error as "file:line:col: message", the form editors and
// compilers use.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// tokenKind classifies a token. Punctuation is a tokPunct token whose text
// is the single character.
type tokenKind int

const (
	tokEOF       tokenKind = iota
	tokInt                 // 42, -1
	tokHex                 // 0x1f
	tokFloat               // 0.100, .5
	tokWord                // socket, SOCK_STREAM, S, sackOK
	tokString              // "text" (text holds the unquoted contents)
	tokBackquote           // `shell command` (text holds the command)
	tokCode                // %{ python }% (text holds the trimmed code)
	tokOption              // --name (text holds name without the dashes)
	tokIPv4                // 192.0.2.1
	tokEllipsis            // ...
	tokPunct               // one of < > ( ) [ ] { } , = + * ~ ! : . | / - % ;
)

func (k tokenKind) String() string {
	switch k {
	case tokEOF:
		return "end of file"
	case tokInt:
		return "integer"
	case tokHex:
		return "hex integer"
	case tokFloat:
		return "number"
	case tokWord:
		return "word"
	case tokString:
		return "string"
	case tokBackquote:
		return "backquoted command"
	case tokCode:
		return "code block"
	case tokOption:
		return "option"
	case tokIPv4:
		return "IPv4 address"
	case tokEllipsis:
		return "'...'"
	case tokPunct:
		return "punctuation"
	}
	return "token"
}

// token is one lexical unit with its position. For numbers, num holds the
// integer value (tokInt, tokHex) and fnum the value of a tokFloat.
type token struct {
	kind tokenKind
	text string
	pos  Pos
	num  int64
	fnum float64
	// spaceBefore reports whether whitespace or a comment separated this
	// token from the previous one; "S." and "S ." both mean SYN|ACK, but
	// the parser uses this to keep "0:0(0)!" apart from a stray "!".
	spaceBefore bool
}

// describe renders a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return strconv.Quote(t.text)
	case tokBackquote:
		return "`" + abbreviate(t.text) + "`"
	case tokCode:
		return "%{ " + abbreviate(t.text) + " }%"
	case tokOption:
		return "--" + t.text
	}
	return "'" + t.text + "'"
}

func abbreviate(s string) string {
	if len(s) > 30 {
		return s[:27] + "..."
	}
	return s
}

// lexer turns script text into tokens. It also implements the small
// preprocessor the FreeBSD suite uses: lines "#ifdef NAME", "#ifndef NAME",
// "#else" and "#endif" keep or drop the lines between them depending on
// whether NAME is in defines.
type lexer struct {
	file    string
	src     string
	off     int
	line    int
	col     int
	defines map[string]bool

	// conditional stack: one entry per open #ifdef; active says whether the
	// lines inside are kept, seenElse catches a second #else.
	conds []condFrame
}

type condFrame struct {
	pos      Pos
	active   bool
	parent   bool
	seenElse bool
}

func newLexer(file, src string, defines map[string]bool) *lexer {
	return &lexer{file: file, src: src, line: 1, col: 1, defines: defines}
}

func (lx *lexer) errorf(pos Pos, format string, args ...any) *Error {
	return &Error{File: lx.file, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (lx *lexer) pos() Pos { return Pos{lx.line, lx.col} }

func (lx *lexer) peekByte(ahead int) byte {
	if lx.off+ahead < len(lx.src) {
		return lx.src[lx.off+ahead]
	}
	return 0
}

// advance moves over n bytes, keeping line and column up to date.
func (lx *lexer) advance(n int) {
	for i := 0; i < n && lx.off < len(lx.src); i++ {
		if lx.src[lx.off] == '\n' {
			lx.line++
			lx.col = 1
		} else {
			lx.col++
		}
		lx.off++
	}
}

// active reports whether the current lines are kept by the preprocessor.
func (lx *lexer) active() bool {
	return len(lx.conds) == 0 || lx.conds[len(lx.conds)-1].active
}

// atLineStart reports whether only blanks precede the current offset on
// its line.
func (lx *lexer) atLineStart() bool {
	for i := lx.off - 1; i >= 0; i-- {
		switch lx.src[i] {
		case ' ', '\t', '\r':
			continue
		case '\n':
			return true
		default:
			return false
		}
	}
	return true
}

// directive handles a preprocessor line starting at '#'.
func (lx *lexer) directive() error {
	start := lx.pos()
	end := strings.IndexByte(lx.src[lx.off:], '\n')
	if end < 0 {
		end = len(lx.src) - lx.off
	}
	line := strings.TrimSpace(lx.src[lx.off : lx.off+end])
	lx.advance(end)
	fields := strings.Fields(line)
	switch fields[0] {
	case "#ifdef", "#ifndef":
		if len(fields) != 2 {
			return lx.errorf(start, "%s needs exactly one name", fields[0])
		}
		cond := lx.defines[fields[1]]
		if fields[0] == "#ifndef" {
			cond = !cond
		}
		parent := lx.active()
		lx.conds = append(lx.conds, condFrame{pos: start, active: parent && cond, parent: parent})
	case "#else":
		if len(fields) != 1 {
			return lx.errorf(start, "#else takes no arguments")
		}
		if len(lx.conds) == 0 {
			return lx.errorf(start, "#else without #ifdef")
		}
		top := &lx.conds[len(lx.conds)-1]
		if top.seenElse {
			return lx.errorf(start, "second #else for the #ifdef at line %d", top.pos.Line)
		}
		top.seenElse = true
		top.active = top.parent && !top.active
	case "#endif":
		if len(fields) != 1 {
			return lx.errorf(start, "#endif takes no arguments")
		}
		if len(lx.conds) == 0 {
			return lx.errorf(start, "#endif without #ifdef")
		}
		lx.conds = lx.conds[:len(lx.conds)-1]
	default:
		return lx.errorf(start, "unknown preprocessor directive %q", fields[0])
	}
	return nil
}

// skipInactiveLine drops the rest of a line that the preprocessor removed.
func (lx *lexer) skipInactiveLine() {
	end := strings.IndexByte(lx.src[lx.off:], '\n')
	if end < 0 {
		end = len(lx.src) - lx.off
	}
	lx.advance(end)
}

// skipSpace skips blanks, comments and preprocessor lines. It reports
// whether anything was skipped.
func (lx *lexer) skipSpace() (bool, error) {
	skipped := false
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case c == '#' && lx.atLineStart():
			if err := lx.directive(); err != nil {
				return skipped, err
			}
		case !lx.active() && c != '\n':
			lx.skipInactiveLine()
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			lx.advance(1)
		case c == '/' && lx.peekByte(1) == '/':
			lx.skipInactiveLine()
		case c == '/' && lx.peekByte(1) == '*':
			start := lx.pos()
			end := strings.Index(lx.src[lx.off+2:], "*/")
			if end < 0 {
				return skipped, lx.errorf(start, "unterminated /* comment")
			}
			lx.advance(end + 4)
		default:
			return skipped, nil
		}
		skipped = true
	}
	return skipped, nil
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isWordByte(c byte) bool {
	return isDigit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isPunctByte(c byte) bool { return strings.IndexByte("<>()[]{},=+*~!:.|/-%;", c) >= 0 }

// next returns the next token.
func (lx *lexer) next() (token, error) {
	space, err := lx.skipSpace()
	if err != nil {
		return token{}, err
	}
	if lx.off >= len(lx.src) {
		if len(lx.conds) > 0 {
			return token{}, lx.errorf(lx.conds[len(lx.conds)-1].pos, "#ifdef without #endif")
		}
		return token{kind: tokEOF, pos: lx.pos(), spaceBefore: space}, nil
	}
	tok, err := lx.scan()
	tok.spaceBefore = space
	return tok, err
}

func (lx *lexer) scan() (token, error) {
	start := lx.pos()
	rest := lx.src[lx.off:]
	c := rest[0]
	emit := func(kind tokenKind, n int, text string) token {
		lx.advance(n)
		return token{kind: kind, text: text, pos: start}
	}

	switch {
	case strings.HasPrefix(rest, "..."):
		return emit(tokEllipsis, 3, "..."), nil
	case strings.HasPrefix(rest, "--") && len(rest) > 2 && isWordByte(rest[2]):
		n := 2
		for n < len(rest) && isWordByte(rest[n]) {
			n++
		}
		return emit(tokOption, n, rest[2:n]), nil
	case strings.HasPrefix(rest, "%{"):
		end := strings.Index(rest[2:], "}%")
		if end < 0 {
			return token{}, lx.errorf(start, "unterminated %%{ code block")
		}
		code := strings.Trim(rest[2:2+end], " \t")
		return emit(tokCode, end+4, code), nil
	case c == '"' || c == '`':
		return lx.scanQuoted(start, c)
	case c == '-' && len(rest) > 1 && (isDigit(rest[1]) || rest[1] == '.' && len(rest) > 2 && isDigit(rest[2])):
		tok, err := lx.scanNumber(start, 1)
		if err != nil {
			return tok, err
		}
		tok.text = "-" + tok.text
		tok.num, tok.fnum = -tok.num, -tok.fnum
		return tok, nil
	case isDigit(c) || (c == '.' && len(rest) > 1 && isDigit(rest[1])):
		return lx.scanNumber(start, 0)
	case isWordByte(c):
		n := 0
		for n < len(rest) && isWordByte(rest[n]) {
			n++
		}
		return emit(tokWord, n, rest[:n]), nil
	case isPunctByte(c):
		return emit(tokPunct, 1, rest[:1]), nil
	}
	return token{}, lx.errorf(start, "unexpected character %q", c)
}

// scanNumber scans an integer, hex integer, decimal number or dotted IPv4
// address starting skip bytes into the rest of the input (skip is 1 after a
// minus sign, which the caller accounts for).
func (lx *lexer) scanNumber(start Pos, skip int) (token, error) {
	rest := lx.src[lx.off+skip:]
	// A word such as "4a" is a word, not a number followed by a word.
	wordLen := 0
	for wordLen < len(rest) && isWordByte(rest[wordLen]) {
		wordLen++
	}
	lx.advance(skip)
	if strings.HasPrefix(rest, "0x") || strings.HasPrefix(rest, "0X") {
		n := 2
		for n < len(rest) && isHexDigit(rest[n]) {
			n++
		}
		if n == 2 || n < wordLen {
			return token{}, lx.errorf(start, "malformed hex number %q", rest[:wordLen])
		}
		v, err := strconv.ParseUint(rest[2:n], 16, 64)
		if err != nil {
			return token{}, lx.errorf(start, "hex number %q out of range", rest[:n])
		}
		lx.advance(n)
		return token{kind: tokHex, text: rest[:n], num: int64(v), pos: start}, nil
	}
	// Dotted quad: four runs of digits joined by single dots.
	if n, ok := dottedQuadLen(rest); ok {
		lx.advance(n)
		return token{kind: tokIPv4, text: rest[:n], pos: start}, nil
	}
	n := 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	if n < len(rest) && rest[n] == '.' && n+1 < len(rest) && isDigit(rest[n+1]) {
		n++
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		v, err := strconv.ParseFloat(rest[:n], 64)
		if err != nil {
			return token{}, lx.errorf(start, "malformed number %q", rest[:n])
		}
		lx.advance(n)
		return token{kind: tokFloat, text: rest[:n], fnum: v, pos: start}, nil
	}
	if n < wordLen {
		lx.advance(wordLen)
		return token{kind: tokWord, text: rest[:wordLen], pos: start}, nil
	}
	v, err := strconv.ParseInt(rest[:n], 10, 64)
	if err != nil {
		return token{}, lx.errorf(start, "integer %q out of range", rest[:n])
	}
	lx.advance(n)
	return token{kind: tokInt, text: rest[:n], num: v, fnum: float64(v), pos: start}, nil
}

// dottedQuadLen reports the length of an IPv4 address at the start of s.
func dottedQuadLen(s string) (int, bool) {
	n := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if n >= len(s) || s[n] != '.' {
				return 0, false
			}
			n++
		}
		digits := 0
		for n < len(s) && isDigit(s[n]) {
			n++
			digits++
		}
		if digits == 0 || digits > 3 {
			return 0, false
		}
	}
	if n < len(s) && (isWordByte(s[n]) || s[n] == '.' && n+1 < len(s) && isDigit(s[n+1])) {
		return 0, false
	}
	return n, true
}

// scanQuoted scans a "string" or a `command`. Backslash escapes the next
// character; a command may span lines.
func (lx *lexer) scanQuoted(start Pos, quote byte) (token, error) {
	rest := lx.src[lx.off:]
	var b strings.Builder
	for i := 1; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			if i+1 < len(rest) {
				i++
				if quote == '"' {
					b.WriteByte(unescape(rest[i]))
				} else {
					b.WriteByte('\\')
					b.WriteByte(rest[i])
				}
			}
		case quote:
			lx.advance(i + 1)
			kind := tokString
			if quote == '`' {
				kind = tokBackquote
			}
			return token{kind: kind, text: b.String(), pos: start}, nil
		default:
			b.WriteByte(rest[i])
		}
	}
	if quote == '`' {
		return token{}, lx.errorf(start, "unterminated backquoted command")
	}
	return token{}, lx.errorf(start, "unterminated string")
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case '0':
		return 0
	}
	return c
}

// tokenize lexes a whole script.
func tokenize(file, src string, defines map[string]bool) ([]token, error) {
	lx := newLexer(file, src, defines)
	var toks []token
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tokEOF {
			return toks, nil
		}
	}
}
