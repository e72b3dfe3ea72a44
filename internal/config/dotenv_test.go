package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDotenv(t *testing.T) {
	in := "\uFEFF# comment\n\nexport AWS_DEFAULT_REGION=us-east-1\r\nAWS_DR_REGION = us-west-2 # inline\nA='x # y'\nB=\"a\\nb \\\"q\\\"\"\nC=\nD=a#b\nA2='it''s' \n"
	got, err := ParseDotenv(".env", []byte(strings.Replace(in, "A2='it''s' \n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"AWS_DEFAULT_REGION": "us-east-1",
		"AWS_DR_REGION":      "us-west-2",
		"A":                  "x # y",
		"B":                  "a\nb \"q\"",
		"C":                  "",
		"D":                  "a#b",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseDotenvErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		want string
	}{
		{"no equals", "A=1\nAWS_DEFAULT_REGION us-east-1\n", 2, "no '='"},
		{"bad key", "\n\n9LIVES=1", 3, "invalid name"},
		{"space in key", "MY KEY=1", 1, "invalid name"},
		{"unterminated double", "A=\"abc", 1, "unterminated double quote"},
		{"unterminated single", "A='abc", 1, "unterminated single quote"},
		{"text after quote", "A=\"abc\" def", 1, "after closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDotenv("x.env", []byte(tt.in))
			var de *DotenvError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DotenvError", err)
			}
			if de.Line != tt.line || !strings.Contains(de.Error(), tt.want) || !strings.HasPrefix(de.Error(), "x.env:") {
				t.Errorf("err = %q, want line %d and %q", de, tt.line, tt.want)
			}
		})
	}
}

func FuzzParseDotenv(f *testing.F) {
	for _, s := range []string{"A=1", "export B='x'\n#c\nC=\"a\\\"b\"", "=", "A=\"", "\uFEFFK=v # c", "K='a' b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseDotenv("f.env", data)
		if err != nil {
			var de *DotenvError
			if !errors.As(err, &de) || de.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for k := range m {
			if !validKey(k) {
				t.Fatalf("accepted invalid key %q", k)
			}
		}
		// A parsed file must load or fail with a FieldError, never panic.
		if _, err := Load(Sources{Dotenv: m}); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("load error is not a FieldError: %v", err)
			}
		}
	})
}
