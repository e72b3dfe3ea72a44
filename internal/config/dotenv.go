package config

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// DotenvError reports a line of a .env file that could not be parsed.
type DotenvError struct {
	File string // file name as given to ParseDotenv
	Line int    // 1-based line number
	Msg  string // what is wrong
	Hint string // how to fix it
}

func (e *DotenvError) Error() string {
	return fmt.Sprintf("%s:%d: %s (%s)", e.File, e.Line, e.Msg, e.Hint)
}

// ParseDotenv parses the contents of a .env file: KEY=VALUE lines, blank lines
// and # comments, an optional leading "export ", values optionally in single
// quotes (taken literally) or double quotes (with \n, \t, \", \\ escapes).
// A later assignment of the same key wins, as in a shell.
//
// It rejects what a shell would misread rather than guess: a line without '=',
// an invalid key, an unterminated quote, text after a closing quote.
func ParseDotenv(name string, data []byte) (map[string]string, error) {
	out, _, err := ParseDotenvLines(name, data)
	return out, err
}

// ParseDotenvLines is ParseDotenv that also returns the line each key was
// (last) set on, so an error about a value can point at it.
func ParseDotenvLines(name string, data []byte) (map[string]string, map[string]int, error) {
	out := make(map[string]string)
	lines := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return nil, nil, &DotenvError{name, n, fmt.Sprintf("no '=' in %q", clip(line)), "write KEY=VALUE, or start the line with # to comment it out"}
		}
		key := strings.TrimSpace(line[:eq])
		if !validKey(key) {
			return nil, nil, &DotenvError{name, n, fmt.Sprintf("invalid name %q", clip(key)), "names are letters, digits and _, not starting with a digit"}
		}
		val, err := parseValue(strings.TrimSpace(line[eq+1:]))
		if err != nil {
			return nil, nil, &DotenvError{name, n, fmt.Sprintf("%s: %v", key, err), "close the quote, or drop the quotes around a value without spaces"}
		}
		out[key] = val
		lines[key] = n
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &DotenvError{name, n + 1, err.Error(), "lines must be shorter than 1 MiB"}
	}
	return out, lines, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func parseValue(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch v[0] {
	case '\'':
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		if rest := strings.TrimSpace(v[end+2:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("unexpected text after closing quote: %q", clip(rest))
		}
		return v[1 : end+1], nil
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '\\' && i+1 < len(v):
				i++
				switch v[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case '"', '\\', '$':
					b.WriteByte(v[i])
				default:
					b.WriteByte('\\')
					b.WriteByte(v[i])
				}
			case c == '"':
				if rest := strings.TrimSpace(v[i+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
					return "", fmt.Errorf("unexpected text after closing quote: %q", clip(rest))
				}
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated double quote")
	}
	// Unquoted: an inline comment needs a space before '#', as in a shell.
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
