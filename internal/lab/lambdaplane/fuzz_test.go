package lambdaplane

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func zipped(files map[string]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		f, _ := w.Create(name)
		f.Write([]byte(body))
	}
	w.Close()
	return b.Bytes()
}

// A function's zip is outside input: whatever it holds, unpacking it
// never panics and never writes outside the function's folder, and a zip
// the plane accepts has a bootstrap.
func FuzzUnpack(f *testing.F) {
	f.Add(zipped(map[string]string{"bootstrap": "\x7fELF"}))
	f.Add(zipped(map[string]string{"../escape": "x", "bootstrap": "y"}))
	f.Add(zipped(map[string]string{"a/b/c.txt": "x"}))
	f.Add([]byte("not a zip"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "fn", "code")
		if err := checkBootstrap(b); err == nil {
			if err := unpack(b, dir); err != nil {
				return
			}
			if _, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil {
				t.Fatalf("an accepted zip unpacked without its bootstrap: %v", err)
			}
		} else {
			unpack(b, dir)
		}
		filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
			if p != root && p != filepath.Join(root, "fn") && !strings.HasPrefix(p, dir) {
				t.Fatalf("unpacking wrote %s, outside %s", p, dir)
			}
			return nil
		})
	})
}
